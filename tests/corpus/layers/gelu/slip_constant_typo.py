# corpus: bug
# exercise: layers/gelu
# title: GELU's constant mistyped in dx3: 0.44715 instead of 0.044715
# bug-class: constant_factor
# root-cause: x3
# expect-wrong: x3 x

import math


def backward(t):
    dgate = 0.5 * t.x * t.dout
    dth = dgate.clone()
    dscaled = (1 - t.th**2) * dth
    dinner = math.sqrt(2 / math.pi) * dscaled
    dx3 = 0.44715 * dinner
    dx = 0.5 * t.gate * t.dout
    dx += dinner
    dx += 3 * t.x**2 * dx3
    return {"gate": dgate, "th": dth, "scaled": dscaled, "inner": dinner, "x3": dx3, "x": dx}

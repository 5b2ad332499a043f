# corpus: bug
# exercise: layers/gelu
# title: dgate without the 0.5: x * dout
# bug-class: factor_2
# root-cause: gate
# expect-wrong: gate th scaled inner x3 x

import math


def backward(t):
    dgate = t.x * t.dout
    dth = dgate.clone()
    dscaled = (1 - t.th**2) * dth
    dinner = math.sqrt(2 / math.pi) * dscaled
    dx3 = 0.044715 * dinner
    dx = 0.5 * t.gate * t.dout
    dx += dinner
    dx += 3 * t.x**2 * dx3
    return {"gate": dgate, "th": dth, "scaled": dscaled, "inner": dinner, "x3": dx3, "x": dx}

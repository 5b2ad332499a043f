# corpus: bug
# exercise: layers/gelu
# title: the power rule on the cube written with x3: 3 * x3 * dx3 instead of 3 * x**2 * dx3
# bug-class: derivative_wrong_tensor
# root-cause: x
# expect-wrong: x

import math


def backward(t):
    dgate = 0.5 * t.x * t.dout
    dth = dgate.clone()
    dscaled = (1 - t.th**2) * dth
    dinner = math.sqrt(2 / math.pi) * dscaled
    dx3 = 0.044715 * dinner
    dx = 0.5 * t.gate * t.dout
    dx += dinner
    dx += 3 * t.x3 * dx3
    return {"gate": dgate, "th": dth, "scaled": dscaled, "inner": dinner, "x3": dx3, "x": dx}

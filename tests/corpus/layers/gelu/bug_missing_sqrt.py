# corpus: bug
# exercise: layers/gelu
# title: dinner = dscaled: the constant sqrt(2/pi) forgotten
# bug-class: constant_factor
# root-cause: inner
# expect-wrong: inner x3 x

import math


def backward(t):
    dgate = 0.5 * t.x * t.dout
    dth = dgate.clone()
    dscaled = (1 - t.th**2) * dth
    dinner = dscaled.clone()
    dx3 = 0.044715 * dinner
    dx = 0.5 * t.gate * t.dout
    dx += dinner
    dx += 3 * t.x**2 * dx3
    return {"gate": dgate, "th": dth, "scaled": dscaled, "inner": dinner, "x3": dx3, "x": dx}

# corpus: correct
# exercise: layers/gelu
# title: one step at a time, x's three contributions added one by one

import math


def backward(t):
    dgate = 0.5 * t.x * t.dout
    dth = dgate * 1.0
    dscaled = (1 - t.th**2) * dth
    dinner = math.sqrt(2 / math.pi) * dscaled
    dx3 = 0.044715 * dinner
    dx = 0.5 * t.gate * t.dout
    dx = dx + dinner
    dx = dx + 3 * t.x**2 * dx3
    return {"gate": dgate, "th": dth, "scaled": dscaled, "inner": dinner, "x3": dx3, "x": dx}

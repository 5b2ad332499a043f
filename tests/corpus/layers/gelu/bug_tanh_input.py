# corpus: bug
# exercise: layers/gelu
# title: tanh's derivative on its input: 1 - scaled**2 instead of 1 - th**2
# bug-class: tanh_wrong_tensor
# root-cause: scaled
# expect-wrong: scaled inner x3 x

import math


def backward(t):
    dgate = 0.5 * t.x * t.dout
    dth = dgate.clone()
    dscaled = (1 - t.scaled**2) * dth
    dinner = math.sqrt(2 / math.pi) * dscaled
    dx3 = 0.044715 * dinner
    dx = 0.5 * t.gate * t.dout
    dx += dinner
    dx += 3 * t.x**2 * dx3
    return {"gate": dgate, "th": dth, "scaled": dscaled, "inner": dinner, "x3": dx3, "x": dx}

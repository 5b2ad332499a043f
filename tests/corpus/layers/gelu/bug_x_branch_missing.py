# corpus: bug
# exercise: layers/gelu
# title: dx forgets the branch through x3 (only the out and inner contributions)
# bug-class: overwrite_branch
# root-cause: x
# expect-wrong: x

import math


def backward(t):
    dgate = 0.5 * t.x * t.dout
    dth = dgate.clone()
    dscaled = (1 - t.th**2) * dth
    dinner = math.sqrt(2 / math.pi) * dscaled
    dx3 = 0.044715 * dinner
    dx = 0.5 * t.gate * t.dout + dinner
    return {"gate": dgate, "th": dth, "scaled": dscaled, "inner": dinner, "x3": dx3, "x": dx}

# corpus: bug
# exercise: layers/gelu
# title: dx = dinner without .clone(), then dx += ...: dinner is changed too (dx itself and dx3, read before the change, stay right)
# bug-class: aliased
# root-cause: inner
# expect-wrong: inner

import math


def backward(t):
    dgate = 0.5 * t.x * t.dout
    dth = dgate.clone()
    dscaled = (1 - t.th**2) * dth
    dinner = math.sqrt(2 / math.pi) * dscaled
    dx3 = 0.044715 * dinner
    dx = dinner
    dx += 0.5 * t.gate * t.dout
    dx += 3 * t.x**2 * dx3
    return {"gate": dgate, "th": dth, "scaled": dscaled, "inner": dinner, "x3": dx3, "x": dx}

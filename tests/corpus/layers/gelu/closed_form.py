# corpus: correct
# exercise: layers/gelu
# title: every gradient written straight from x and dout (closed form, tanh recomputed)

import math

import torch


def backward(t):
    x, dout = t.x, t.dout
    c = math.sqrt(2 / math.pi)
    th = torch.tanh(c * (x + 0.044715 * x**3))
    sech2 = 1 - th * th
    dgate = 0.5 * x * dout
    dth = 0.5 * x * dout
    dscaled = 0.5 * x * dout * sech2
    dinner = c * 0.5 * x * dout * sech2
    dx3 = 0.044715 * c * 0.5 * x * dout * sech2
    dx = dout * (0.5 * (1 + th) + 0.5 * x * sech2 * c * (1 + 3 * 0.044715 * x**2))
    return {"gate": dgate, "th": dth, "scaled": dscaled, "inner": dinner, "x3": dx3, "x": dx}

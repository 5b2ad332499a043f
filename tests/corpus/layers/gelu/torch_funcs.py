# corpus: correct
# exercise: layers/gelu
# title: sech² as 1/cosh², torch.pow, torch.mul and torch.stack().sum() for x's three branches

import math

import torch


def backward(t):
    dgate = torch.mul(t.dout, t.x) / 2
    dth = dgate.clone()
    dscaled = dth / torch.cosh(t.scaled).pow(2)
    dinner = dscaled * (2 / math.pi) ** 0.5
    dx3 = dinner * 0.044715
    dx = torch.stack([t.gate * t.dout / 2, dinner, 3 * torch.pow(t.x, 2) * dx3]).sum(0)
    return {"gate": dgate, "th": dth, "scaled": dscaled, "inner": dinner, "x3": dx3, "x": dx}

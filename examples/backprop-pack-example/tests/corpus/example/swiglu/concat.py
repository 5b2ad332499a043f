# corpus: correct
# exercise: example/swiglu
# title: both branches in one matmul: [dh1 dh3] @ [W1 W3].T

import torch


def backward(t):
    h = t.h1.shape[1]
    dgate = t.dout @ t.W2.T
    dW2 = t.gate.T @ t.dout
    dact = dgate * t.h3
    dh3 = dgate * t.act
    sig = 1 / (1 + torch.exp(-t.h1))
    dh1 = dact * (sig + t.h1 * sig * (1 - sig))
    dboth = torch.cat([dh1, dh3], dim=1)
    Wboth = torch.cat([t.W1, t.W3], dim=1)
    dWboth = t.x.T @ dboth
    dx = dboth @ Wboth.T
    return {"gate": dgate, "W2": dW2, "act": dact, "h3": dh3, "h1": dh1,
            "W3": dWboth[:, h:], "W1": dWboth[:, :h], "x": dx}

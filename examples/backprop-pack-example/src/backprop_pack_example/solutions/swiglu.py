"""example/swiglu — reference solution (kept in the source tree, never installed)."""

import torch


def backward(t):
    x, W1, W3, W2 = t.x, t.W1, t.W3, t.W2
    h1, h3, act, gate = t.h1, t.h3, t.act, t.gate
    dout = t.dout

    dgate = dout @ W2.T
    dW2 = gate.T @ dout
    dact = dgate * h3
    dh3 = dgate * act
    sig = torch.sigmoid(h1)
    dh1 = dact * sig * (1 + h1 * (1 - sig))
    dW3 = x.T @ dh3
    dW1 = x.T @ dh1
    dx = dh1 @ W1.T + dh3 @ W3.T

    return {"gate": dgate, "W2": dW2, "act": dact, "h3": dh3, "h1": dh1,
            "W3": dW3, "W1": dW1, "x": dx}

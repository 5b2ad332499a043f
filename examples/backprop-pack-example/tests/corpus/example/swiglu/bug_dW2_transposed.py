# corpus: bug
# exercise: example/swiglu
# title: dW2 as dout.T @ gate: the (d, h) transpose of the right (h, d)
# bug-class: transpose
# root-cause: W2
# expect-wrong: W2

import torch


def backward(t):
    dgate = t.dout @ t.W2.T
    dW2 = t.dout.T @ t.gate
    dact = dgate * t.h3
    dh3 = dgate * t.act
    sig = torch.sigmoid(t.h1)
    dh1 = dact * sig * (1 + t.h1 * (1 - sig))
    dW3 = t.x.T @ dh3
    dW1 = t.x.T @ dh1
    dx = dh1 @ t.W1.T + dh3 @ t.W3.T
    return {"gate": dgate, "W2": dW2, "act": dact, "h3": dh3, "h1": dh1,
            "W3": dW3, "W1": dW1, "x": dx}

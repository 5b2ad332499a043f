# corpus: bug
# exercise: example/swiglu
# title: dgate divided by n, out of the habit of mean losses (this block has no mean)
# bug-class: scale_1_over_n
# root-cause: gate
# expect-wrong: gate act h3 h1 W3 W1 x

import torch


def backward(t):
    dgate = t.dout @ t.W2.T / t.n
    dW2 = t.gate.T @ t.dout
    dact = dgate * t.h3
    dh3 = dgate * t.act
    sig = torch.sigmoid(t.h1)
    dh1 = dact * sig * (1 + t.h1 * (1 - sig))
    dW3 = t.x.T @ dh3
    dW1 = t.x.T @ dh1
    dx = dh1 @ t.W1.T + dh3 @ t.W3.T
    return {"gate": dgate, "W2": dW2, "act": dact, "h3": dh3, "h1": dh1,
            "W3": dW3, "W1": dW1, "x": dx}

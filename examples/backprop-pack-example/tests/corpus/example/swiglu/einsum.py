# corpus: correct
# exercise: example/swiglu
# title: einsum for every contraction, sigmoid through tanh

import torch


def backward(t):
    dgate = torch.einsum("nd,hd->nh", t.dout, t.W2)
    dW2 = torch.einsum("nh,nd->hd", t.gate, t.dout)
    dact = dgate * t.h3
    dh3 = dgate * t.act
    sig = 0.5 * (1 + torch.tanh(t.h1 / 2))
    dh1 = dact * sig * (1 + t.h1 * (1 - sig))
    dW3 = torch.einsum("nd,nh->dh", t.x, dh3)
    dW1 = torch.einsum("nd,nh->dh", t.x, dh1)
    dx = torch.einsum("nh,dh->nd", dh1, t.W1) + torch.einsum("nh,dh->nd", dh3, t.W3)
    return {"gate": dgate, "W2": dW2, "act": dact, "h3": dh3, "h1": dh1,
            "W3": dW3, "W1": dW1, "x": dx}

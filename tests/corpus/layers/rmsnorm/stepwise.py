# corpus: correct
# exercise: layers/rmsnorm
# title: one gradient per line, dx accumulated from its two paths with +=

import torch


def backward(t):
    C = t.C
    dout = t.dout
    dxhat = dout * t.gain
    dgain = (dout * t.xhat).sum(0).sum(0)
    drrms = (dxhat * t.x).sum(-1, keepdim=True)
    dms = drrms * -0.5 * (t.ms + 1e-5) ** -1.5
    dx = dxhat * t.rrms
    dx += 1.0 / C * 2 * t.x * dms
    return {"xhat": dxhat, "gain": dgain, "rrms": drrms, "ms": dms, "x": dx}

# corpus: correct
# exercise: layers/rmsnorm
# title: dms via rrms**3, dx in the closed form rrms * (dxhat - xhat * mean(dxhat * xhat))

import torch


def backward(t):
    dout = t.dout
    dxhat = t.gain * dout
    dgain = (t.xhat * dout).reshape(-1, t.C).sum(0)
    drrms = (t.x * dxhat).sum(-1, keepdim=True)
    dms = -0.5 * t.rrms**3 * drrms
    dx = t.rrms * (dxhat - t.xhat * (dxhat * t.xhat).mean(-1, keepdim=True))
    return {"xhat": dxhat, "gain": dgain, "rrms": drrms, "ms": dms, "x": dx}

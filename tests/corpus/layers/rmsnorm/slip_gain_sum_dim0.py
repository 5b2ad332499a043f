# corpus: bug
# exercise: layers/rmsnorm
# title: dgain summed over the batch only (dim 0), as for a 2-D input: shape (T, C) instead of (C,)
# bug-class: not_summed
# root-cause: gain
# expect-wrong: gain

import torch


def backward(t):
    C = t.C
    dout = t.dout
    dxhat = t.gain * dout
    dgain = (t.xhat * dout).sum(0)
    drrms = (t.x * dxhat).sum(-1, keepdim=True)
    dms = -0.5 * (t.ms + 1e-5) ** -1.5 * drrms
    dx = t.rrms * dxhat + 2 * t.x / C * dms
    return {"xhat": dxhat, "gain": dgain, "rrms": drrms, "ms": dms, "x": dx}

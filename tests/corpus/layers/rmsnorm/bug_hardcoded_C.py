# corpus: bug
# exercise: layers/rmsnorm
# title: the mean's 1/C written as / 12, the public case's width
# bug-class: hardcoded_size
# root-cause: x
# expect-wrong: x

import torch


def backward(t):
    dout = t.dout
    dxhat = t.gain * dout
    dgain = (t.xhat * dout).sum((0, 1))
    drrms = (t.x * dxhat).sum(-1, keepdim=True)
    dms = -0.5 * (t.ms + 1e-5) ** -1.5 * drrms
    dx = t.rrms * dxhat + 2 * t.x / 12 * dms
    return {"xhat": dxhat, "gain": dgain, "rrms": drrms, "ms": dms, "x": dx}

# corpus: bug
# exercise: layers/rmsnorm
# title: dms = +0.5 * (ms + eps)**-1.5 * drrms: the power rule's minus lost
# bug-class: sign
# root-cause: ms
# expect-wrong: ms x

import torch


def backward(t):
    C = t.C
    dout = t.dout
    dxhat = t.gain * dout
    dgain = (t.xhat * dout).sum((0, 1))
    drrms = (t.x * dxhat).sum(-1, keepdim=True)
    dms = 0.5 * (t.ms + 1e-5) ** -1.5 * drrms
    dx = t.rrms * dxhat + 2 * t.x / C * dms
    return {"xhat": dxhat, "gain": dgain, "rrms": drrms, "ms": dms, "x": dx}

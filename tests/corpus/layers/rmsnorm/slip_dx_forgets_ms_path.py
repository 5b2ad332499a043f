# corpus: bug
# exercise: layers/rmsnorm
# title: dx = rrms * dxhat: x also feeds ms, whose path is forgotten (= instead of +=)
# bug-class: overwrite_branch
# root-cause: x
# expect-wrong: x

import torch


def backward(t):
    C = t.C
    dout = t.dout
    dxhat = t.gain * dout
    dgain = (t.xhat * dout).sum((0, 1))
    drrms = (t.x * dxhat).sum(-1, keepdim=True)
    dms = -0.5 * (t.ms + 1e-5) ** -1.5 * drrms
    dx = t.rrms * dxhat
    return {"xhat": dxhat, "gain": dgain, "rrms": drrms, "ms": dms, "x": dx}

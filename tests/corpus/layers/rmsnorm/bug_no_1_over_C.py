# corpus: bug
# exercise: layers/rmsnorm
# title: the mean's 1/C forgotten in dx's ms path: 2 * x * dms
# bug-class: scale_1_over_n
# root-cause: x
# expect-wrong: x

import torch


def backward(t):
    dout = t.dout
    dxhat = t.gain * dout
    dgain = (t.xhat * dout).sum((0, 1))
    drrms = (t.x * dxhat).sum(-1, keepdim=True)
    dms = -0.5 * (t.ms + 1e-5) ** -1.5 * drrms
    dx = t.rrms * dxhat + 2 * t.x * dms
    return {"xhat": dxhat, "gain": dgain, "rrms": drrms, "ms": dms, "x": dx}

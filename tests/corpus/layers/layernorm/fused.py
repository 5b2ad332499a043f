# corpus: correct
# exercise: layers/layernorm
# title: intermediates step by step, dx in the closed form rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)), dvar via rstd**3

import torch


def backward(t):
    dout = t.dout
    dxhat = t.gain * dout
    dgain = (dout * t.xhat).sum(0)
    dbias = dout.sum(0)
    drstd = (dxhat * t.diff).sum(-1, keepdim=True)
    dvar = -0.5 * t.rstd**3 * drstd
    ddiff = t.rstd * dxhat + 2 * t.diff * dvar / t.x.shape[-1]
    dmean = -(t.rstd * dxhat).sum(-1, keepdim=True)
    dx = t.rstd * (dxhat - dxhat.mean(-1, keepdim=True)
                   - t.xhat * (dxhat * t.xhat).mean(-1, keepdim=True))
    return {"xhat": dxhat, "gain": dgain, "bias": dbias, "rstd": drstd, "var": dvar,
            "diff": ddiff, "mean": dmean, "x": dx}

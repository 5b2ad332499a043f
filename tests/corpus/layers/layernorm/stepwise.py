# corpus: correct
# exercise: layers/layernorm
# title: one gradient per line, mean written as 1/C * sum, every branch accumulated with +=

import torch


def backward(t):
    C = t.C
    dout = t.dout
    dxhat = t.gain * dout
    dgain = (dout * t.xhat).sum(0)
    dbias = dout.sum(0)
    drstd = (dxhat * t.diff).sum(-1, keepdim=True)
    dvar = -0.5 * (t.var + 1e-5) ** -1.5 * drstd
    ddiff = dxhat * t.rstd
    ddiff += 1.0 / C * torch.ones_like(t.diff) * 2 * t.diff * dvar
    dmean = -ddiff.sum(-1, keepdim=True)
    dx = ddiff.clone()
    dx += 1.0 / C * torch.ones_like(t.x) * dmean
    return {"xhat": dxhat, "gain": dgain, "bias": dbias, "rstd": drstd, "var": dvar,
            "diff": ddiff, "mean": dmean, "x": dx}

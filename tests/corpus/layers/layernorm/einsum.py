# corpus: correct
# exercise: layers/layernorm
# title: torch.einsum for the reductions, expand_as for the broadcasts, mean() for 1/C

import torch


def backward(t):
    dout = t.dout
    dxhat = dout * t.gain
    dgain = torch.einsum("nc,nc->c", dout, t.xhat)
    dbias = torch.einsum("nc->c", dout)
    drstd = torch.einsum("nc,nc->n", t.diff, dxhat).unsqueeze(1)
    dvar = drstd * (-0.5) * torch.pow(t.var + 1e-5, -1.5)
    ddiff = dxhat * t.rstd + 2 * t.diff * dvar.expand_as(t.diff) / t.C
    dmean = -torch.einsum("nc->n", ddiff).unsqueeze(-1)
    dx = ddiff + dmean.expand_as(t.x) / t.C
    return {"xhat": dxhat, "gain": dgain, "bias": dbias, "rstd": drstd, "var": dvar,
            "diff": ddiff, "mean": dmean, "x": dx}

# corpus: correct
# exercise: layers/rmsnorm
# title: torch.einsum for the reductions, torch.pow and expand_as for the rest

import torch


def backward(t):
    dout = t.dout
    dxhat = torch.einsum("ntc,c->ntc", dout, t.gain)
    dgain = torch.einsum("ntc,ntc->c", dout, t.xhat)
    drrms = torch.einsum("ntc,ntc->nt", t.x, dxhat)[..., None]
    dms = -0.5 * torch.pow(t.ms + 1e-5, -1.5) * drrms
    dx = dxhat * t.rrms.expand_as(t.x) + (2.0 / t.x.shape[-1]) * t.x * dms.expand_as(t.x)
    return {"xhat": dxhat, "gain": dgain, "rrms": drrms, "ms": dms, "x": dx}

# corpus: correct
# exercise: layers/softmax
# title: the explicit (n, C, C) Jacobian diag(p) - p p^T applied with torch.einsum, the max's (zero) gradient routed back with scatter_add

import torch


def backward(t):
    p = t.probs
    dcounts_sum = torch.einsum("nc,nc->n", -t.counts / t.counts_sum**2, t.dprobs)[:, None]
    dcounts = t.dprobs / t.counts_sum + dcounts_sum.expand_as(t.counts)
    jac = torch.diag_embed(p) - torch.einsum("ni,nj->nij", p, p)
    dshifted = torch.einsum("nij,ni->nj", jac, t.dprobs)
    dmaxes = -dshifted.sum(1, keepdim=True)
    dx = dshifted.scatter_add(1, t.x.argmax(1, keepdim=True), dmaxes)
    return {"counts_sum": dcounts_sum, "counts": dcounts, "shifted": dshifted, "x": dx}

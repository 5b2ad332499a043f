# corpus: correct
# exercise: layers/log_softmax
# title: torch.softmax for the probabilities, einsum sums, torch.broadcast_to for dcounts

import torch


def backward(t):
    g = t.dlogprobs
    dlog_sum = -torch.einsum("nc->n", g)[:, None]
    dcounts_sum = torch.div(dlog_sum, t.counts_sum)
    dcounts = torch.broadcast_to(dcounts_sum, t.counts.shape).contiguous()
    p = torch.softmax(t.x, dim=1)
    dshifted = g - p * torch.einsum("nc->n", g)[:, None]
    dx = dshifted.clone()
    return {"log_sum": dlog_sum, "counts_sum": dcounts_sum, "counts": dcounts,
            "shifted": dshifted, "x": dx}

"""Reference solution of layers/log_softmax."""
import torch


def backward(t):
    dlog_sum = -t.dlogprobs.sum(1, keepdim=True)                  # (n, 1)
    dcounts_sum = dlog_sum / t.counts_sum                         # (n, 1)
    dcounts = torch.ones_like(t.counts) * dcounts_sum             # (n, C)
    dshifted = t.dlogprobs.clone()                                # (n, C) through logprobs
    dshifted += t.counts * dcounts                                # through counts
    dx = dshifted.clone()                                         # (n, C)
    return {"log_sum": dlog_sum, "counts_sum": dcounts_sum, "counts": dcounts,
            "shifted": dshifted, "x": dx}

# corpus: bug
# exercise: layers/log_softmax
# title: dcounts broadcast with torch.ones(n, 11): the public class count hard-coded, so backward raises for any other C
# bug-class: hardcoded_size
# root-cause: counts
# expect-wrong: log_sum counts_sum counts shifted x

import torch


def backward(t):
    dlog_sum = -t.dlogprobs.sum(1, keepdim=True)
    dcounts_sum = dlog_sum / t.counts_sum
    dcounts = torch.ones(t.n, 11) * dcounts_sum
    dshifted = t.dlogprobs.clone()
    dshifted += t.counts * dcounts
    dx = dshifted.clone()
    return {"log_sum": dlog_sum, "counts_sum": dcounts_sum, "counts": dcounts,
            "shifted": dshifted, "x": dx}

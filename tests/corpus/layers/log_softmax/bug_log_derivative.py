# corpus: bug
# exercise: layers/log_softmax
# title: log's derivative written with its output: dlog_sum / log_sum instead of dlog_sum / counts_sum
# bug-class: derivative_wrong_tensor
# root-cause: counts_sum
# expect-wrong: counts_sum counts shifted x

import torch


def backward(t):
    dlog_sum = -t.dlogprobs.sum(1, keepdim=True)
    dcounts_sum = dlog_sum / t.log_sum
    dcounts = torch.ones_like(t.counts) * dcounts_sum
    dshifted = t.dlogprobs.clone()
    dshifted += t.counts * dcounts
    dx = dshifted.clone()
    return {"log_sum": dlog_sum, "counts_sum": dcounts_sum, "counts": dcounts,
            "shifted": dshifted, "x": dx}

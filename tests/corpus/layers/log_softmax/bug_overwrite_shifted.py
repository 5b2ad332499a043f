# corpus: bug
# exercise: layers/log_softmax
# title: dshifted = counts * dcounts overwrites the direct branch from logprobs (= instead of +=)
# bug-class: overwrite_branch
# root-cause: shifted
# expect-wrong: shifted x

import torch


def backward(t):
    dlog_sum = -t.dlogprobs.sum(1, keepdim=True)
    dcounts_sum = dlog_sum / t.counts_sum
    dcounts = torch.ones_like(t.counts) * dcounts_sum
    dshifted = t.dlogprobs.clone()
    dshifted = t.counts * dcounts
    dx = dshifted.clone()
    return {"log_sum": dlog_sum, "counts_sum": dcounts_sum, "counts": dcounts,
            "shifted": dshifted, "x": dx}

# corpus: bug
# exercise: layers/log_softmax
# title: exp's derivative written with its input: shifted * dcounts instead of counts * dcounts
# bug-class: derivative_wrong_tensor
# root-cause: shifted
# expect-wrong: shifted x

import torch


def backward(t):
    dlog_sum = -t.dlogprobs.sum(1, keepdim=True)
    dcounts_sum = dlog_sum / t.counts_sum
    dcounts = torch.ones_like(t.counts) * dcounts_sum
    dshifted = t.dlogprobs.clone()
    dshifted += t.shifted * dcounts
    dx = dshifted.clone()
    return {"log_sum": dlog_sum, "counts_sum": dcounts_sum, "counts": dcounts,
            "shifted": dshifted, "x": dx}

# corpus: bug
# exercise: layers/softmax
# title: dcounts = dcounts_sum overwrites the direct branch (= instead of +=)
# bug-class: overwrite_branch
# root-cause: counts
# expect-wrong: counts shifted x

import torch


def backward(t):
    dcounts_sum = (-t.counts / t.counts_sum**2 * t.dprobs).sum(1, keepdim=True)
    dcounts = t.dprobs / t.counts_sum
    dcounts = torch.ones_like(t.counts) * dcounts_sum
    dshifted = t.counts * dcounts
    dx = dshifted.clone()
    return {"counts_sum": dcounts_sum, "counts": dcounts, "shifted": dshifted, "x": dx}

# corpus: bug
# exercise: layers/softmax
# title: dcounts_sum summed over the batch (dim 0) instead of the classes: shape (1, C), which then broadcasts silently into dcounts
# bug-class: wrong_sum_dim
# root-cause: counts_sum
# expect-wrong: counts_sum counts shifted x

def backward(t):
    dcounts_sum = (-t.counts / t.counts_sum**2 * t.dprobs).sum(0, keepdim=True)
    dcounts = t.dprobs / t.counts_sum
    dcounts += dcounts_sum
    dshifted = t.counts * dcounts
    dx = dshifted.clone()
    return {"counts_sum": dcounts_sum, "counts": dcounts, "shifted": dshifted, "x": dx}

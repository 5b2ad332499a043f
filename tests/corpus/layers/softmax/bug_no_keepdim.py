# corpus: bug
# exercise: layers/softmax
# title: dcounts_sum summed without keepdim: shape (n,) instead of (n, 1); then reshaped for the next line
# bug-class: missing_keepdim
# root-cause: counts_sum
# expect-wrong: counts_sum

def backward(t):
    dcounts_sum = (-t.counts / t.counts_sum**2 * t.dprobs).sum(1)
    dcounts = t.dprobs / t.counts_sum
    dcounts += dcounts_sum.view(-1, 1)
    dshifted = t.counts * dcounts
    dx = dshifted.clone()
    return {"counts_sum": dcounts_sum, "counts": dcounts, "shifted": dshifted, "x": dx}

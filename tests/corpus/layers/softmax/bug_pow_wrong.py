# corpus: bug
# exercise: layers/softmax
# title: the power rule not applied in dcounts_sum: d(1/s)/ds written as -1/s instead of -1/s**2
# bug-class: unclassified
# root-cause: counts_sum
# expect-wrong: counts_sum counts shifted x

def backward(t):
    dcounts_sum = (-t.counts / t.counts_sum * t.dprobs).sum(1, keepdim=True)
    dcounts = t.dprobs / t.counts_sum
    dcounts += dcounts_sum
    dshifted = t.counts * dcounts
    dx = dshifted.clone()
    return {"counts_sum": dcounts_sum, "counts": dcounts, "shifted": dshifted, "x": dx}

# corpus: correct
# exercise: layers/softmax
# title: the quotient rule split over the two branches of counts, step by step

def backward(t):
    dcounts_sum = (-t.counts * t.counts_sum**-2 * t.dprobs).sum(1, keepdim=True)
    dcounts = t.dprobs / t.counts_sum
    dcounts += dcounts_sum
    dshifted = t.counts * dcounts
    dx = dshifted.clone()
    return {"counts_sum": dcounts_sum, "counts": dcounts, "shifted": dshifted, "x": dx}

# corpus: correct
# exercise: layers/softmax
# title: dx = probs * (dprobs - sum(probs * dprobs)) (the softmax Jacobian-vector product), intermediates from probs

def backward(t):
    p, dp = t.probs, t.dprobs
    dcounts_sum = -(p * dp).sum(1, keepdim=True) / t.counts_sum
    dcounts = (dp - (p * dp).sum(1, keepdim=True)) / t.counts_sum
    dshifted = p * (dp - (p * dp).sum(1, keepdim=True))
    dx = p * (dp - (p * dp).sum(1, keepdim=True))
    return {"counts_sum": dcounts_sum, "counts": dcounts, "shifted": dshifted, "x": dx}

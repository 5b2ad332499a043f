# corpus: correct
# exercise: layers/log_softmax
# title: dx = dlogprobs - softmax * sum(dlogprobs), softmax from exp(logprobs), expand for dcounts

def backward(t):
    g = t.dlogprobs
    total = g.sum(1, keepdim=True)
    dlog_sum = -total
    dcounts_sum = -total * (-t.log_sum).exp()
    dcounts = dcounts_sum.expand(-1, t.counts.shape[1]).clone()
    dshifted = g - t.logprobs.exp() * total
    dx = g - t.logprobs.exp() * total
    return {"log_sum": dlog_sum, "counts_sum": dcounts_sum, "counts": dcounts,
            "shifted": dshifted, "x": dx}

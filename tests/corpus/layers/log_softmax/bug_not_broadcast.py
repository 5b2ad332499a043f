# corpus: bug
# exercise: layers/log_softmax
# title: dcounts = dcounts_sum left at shape (n, 1): the sum's gradient never broadcast back to (n, C)
# bug-class: not_broadcast
# root-cause: counts
# expect-wrong: counts

def backward(t):
    dlog_sum = -t.dlogprobs.sum(1, keepdim=True)
    dcounts_sum = dlog_sum / t.counts_sum
    dcounts = dcounts_sum.clone()
    dshifted = t.dlogprobs.clone()
    dshifted += t.counts * dcounts
    dx = dshifted.clone()
    return {"log_sum": dlog_sum, "counts_sum": dcounts_sum, "counts": dcounts,
            "shifted": dshifted, "x": dx}

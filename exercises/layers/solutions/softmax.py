"""Reference solution of layers/softmax."""


def backward(t):
    dcounts_sum = (-t.counts / t.counts_sum**2 * t.dprobs).sum(1, keepdim=True)   # (n, 1)
    dcounts = t.dprobs / t.counts_sum                                              # (n, C)
    dcounts += dcounts_sum                                                         # (n, C)
    dshifted = t.counts * dcounts                                                  # (n, C)
    dx = dshifted.clone()                                                          # (n, C)
    return {"counts_sum": dcounts_sum, "counts": dcounts, "shifted": dshifted, "x": dx}

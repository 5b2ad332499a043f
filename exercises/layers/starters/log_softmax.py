"""layers/log_softmax — a numerically stable log-softmax, one step at a time.

    maxes = x.max(1, keepdim=True).values.detach()   # (n, 1), a constant
    shifted = x - maxes                              # (n, C)
    counts = shifted.exp()                           # (n, C)
    counts_sum = counts.sum(1, keepdim=True)         # (n, 1)
    log_sum = counts_sum.log()                       # (n, 1)
    logprobs = shifted - log_sum                     # (n, C)

You get the upstream gradient t.dlogprobs (n, C). maxes is detached (a constant: no gradient
flows back through it, and log-softmax ignores a shift of a row anyway), so dx equals
dshifted. Check it with

    backprop check log_softmax.py -e layers/log_softmax
"""


def backward(t):
    n = t.n                    # batch size
    x = t.x                    # (n, C)
    shifted = t.shifted        # (n, C)
    counts = t.counts          # (n, C)
    counts_sum = t.counts_sum  # (n, 1)
    log_sum = t.log_sum        # (n, 1)
    logprobs = t.logprobs      # (n, C)
    dlogprobs = t.dlogprobs    # (n, C) upstream gradient, given

    dlog_sum = None            # (n, 1)
    dcounts_sum = None         # (n, 1)
    dcounts = None             # (n, C)
    dshifted = None            # (n, C)  shifted feeds two steps: add both contributions
    dx = None                  # (n, C)

    return {"log_sum": dlog_sum, "counts_sum": dcounts_sum, "counts": dcounts,
            "shifted": dshifted, "x": dx}

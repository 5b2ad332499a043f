"""layers/softmax — a numerically stable softmax, one step at a time.

    maxes = x.max(1, keepdim=True).values.detach()   # (n, 1), a constant
    shifted = x - maxes                              # (n, C)
    counts = shifted.exp()                           # (n, C)
    counts_sum = counts.sum(1, keepdim=True)         # (n, 1)
    probs = counts / counts_sum                      # (n, C)

You get the upstream gradient t.dprobs (n, C). maxes is detached (a constant: no gradient
flows back through it, and softmax ignores a shift of a row anyway), so dx equals dshifted.
Check it with

    backprop check softmax.py -e layers/softmax
"""


def backward(t):
    n = t.n                    # batch size
    x = t.x                    # (n, C)
    shifted = t.shifted        # (n, C)
    counts = t.counts          # (n, C)
    counts_sum = t.counts_sum  # (n, 1)
    probs = t.probs            # (n, C)
    dprobs = t.dprobs          # (n, C) upstream gradient, given

    dcounts_sum = None         # (n, 1)
    dcounts = None             # (n, C)  counts feeds two steps: add both contributions
    dshifted = None            # (n, C)
    dx = None                  # (n, C)

    return {"counts_sum": dcounts_sum, "counts": dcounts, "shifted": dshifted, "x": dx}

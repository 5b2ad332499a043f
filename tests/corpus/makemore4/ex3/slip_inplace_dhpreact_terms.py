# corpus: bug
# exercise: makemore4/ex3
# title: builds the one-liner term by term in place starting from dhprebn = t.dhpreact; after dhprebn *= n, t.dhpreact is n times bigger, so its .sum(0) term is n times too big
# bug-class: inplace_input
# root-cause: hprebn
# expect-wrong: hprebn

import torch


def backward(t):
    n = t.n
    # dhprebn = gain*var_inv/n * (n*dhpreact - dhpreact.sum(0) - n/(n-1)*bnraw*(dhpreact*bnraw).sum(0))
    # the one-liner is too long, do it a term at a time
    dhprebn = t.dhpreact
    dhprebn *= n
    dhprebn -= t.dhpreact.sum(0)
    dhprebn -= n / (n - 1) * t.bnraw * (t.dhpreact * t.bnraw).sum(0)
    dhprebn *= t.bngain * t.bnvar_inv / n
    return {"hprebn": dhprebn}

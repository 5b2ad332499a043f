"""Reference solution of makemore4/ex1 (the lecture's step-by-step backward pass).

Not package data: solutions stay in the source tree (`backprop validate makemore4/ex1`).
Lines marked `# validate: equivalent` carry mutants that cannot move a graded value beyond
float noise; the reason is on the line.
"""

import torch
import torch.nn.functional as F


def backward(t):
    n = t.n
    # cross-entropy loss: loss = -logprobs[range(n), Yb].mean()
    dlogprobs = torch.zeros_like(t.logprobs)                                # (n, 27)
    dlogprobs[range(n), t.Yb] = -1.0 / n
    # logprobs = probs.log()
    dprobs = (1.0 / t.probs) * dlogprobs                                    # (n, 27)
    # probs = counts * counts_sum_inv  (counts is used twice: here and in counts_sum)
    dcounts_sum_inv = (t.counts * dprobs).sum(1, keepdim=True)              # (n, 1)
    dcounts = t.counts_sum_inv * dprobs                                     # (n, 27)
    # counts_sum_inv = counts_sum**-1
    dcounts_sum = (-t.counts_sum**-2) * dcounts_sum_inv                     # (n, 1)
    # counts_sum = counts.sum(1, keepdim=True)
    dcounts += torch.ones_like(t.counts) * dcounts_sum                      # (n, 27)
    # counts = norm_logits.exp()
    dnorm_logits = t.counts * dcounts                                       # (n, 27)
    # norm_logits = logits - logit_maxes
    dlogits = dnorm_logits.clone()                                          # (n, 27)
    dlogit_maxes = (-dnorm_logits).sum(1, keepdim=True)  # validate: equivalent — dlogit_maxes is ~1e-9 (softmax ignores a shift), float noise whatever its sign
    # logit_maxes = logits.max(1, keepdim=True).values
    dlogits += F.one_hot(t.logits.max(1).indices, num_classes=t.logits.shape[1]) * dlogit_maxes  # validate: equivalent — adds dlogit_maxes (~1e-9 noise) to dlogits; the 27 classes never change
    # logits = h @ W2 + b2
    dh = dlogits @ t.W2.T                                                   # (n, 64)
    dW2 = t.h.T @ dlogits                                                   # (64, 27)
    db2 = dlogits.sum(0)                                                    # (27,)
    # h = tanh(hpreact)
    dhpreact = (1.0 - t.h**2) * dh                                          # (n, 64)
    # hpreact = bngain * bnraw + bnbias
    dbngain = (t.bnraw * dhpreact).sum(0, keepdim=True)                     # (1, 64)
    dbnraw = t.bngain * dhpreact                                            # (n, 64)
    dbnbias = dhpreact.sum(0, keepdim=True)                                 # (1, 64)
    # bnraw = bndiff * bnvar_inv
    dbndiff = t.bnvar_inv * dbnraw                                          # (n, 64)
    dbnvar_inv = (t.bndiff * dbnraw).sum(0, keepdim=True)                   # (1, 64)
    # bnvar_inv = (bnvar + 1e-5)**-0.5, so d/dbnvar = -0.5 * (bnvar + 1e-5)**-1.5
    dbnvar = (-0.5 * t.bnvar_inv**3) * dbnvar_inv                           # (1, 64)
    # bnvar = 1/(n-1) * bndiff2.sum(0, keepdim=True)   (Bessel's correction)
    dbndiff2 = (1.0 / (n - 1)) * torch.ones_like(t.bndiff2) * dbnvar        # (n, 64)
    # bndiff2 = bndiff**2
    dbndiff += (2 * t.bndiff) * dbndiff2                                    # (n, 64)
    # bndiff = hprebn - bnmeani
    dhprebn = dbndiff.clone()                                               # (n, 64)
    dbnmeani = (-dbndiff).sum(0, keepdim=True)                              # (1, 64)
    # bnmeani = 1/n * hprebn.sum(0, keepdim=True)
    dhprebn += 1.0 / n * (torch.ones_like(t.hprebn) * dbnmeani)             # (n, 64)
    # hprebn = embcat @ W1 + b1
    dembcat = dhprebn @ t.W1.T                                              # (n, 30)
    dW1 = t.embcat.T @ dhprebn                                              # (30, 64)
    db1 = dhprebn.sum(0)  # validate: equivalent — b1's true gradient is ~0 (batchnorm subtracts the batch mean), float noise whatever its sign
    # embcat = emb.view(n, -1)
    demb = dembcat.view(t.emb.shape)                                        # (n, 3, 10)
    # emb = C[Xb]
    dC = torch.zeros_like(t.C)                                              # (27, 10)
    for k in range(t.Xb.shape[0]):
        for j in range(t.Xb.shape[1]):  # validate: equivalent — the context length (3) is the same in every case
            ix = t.Xb[k, j]
            dC[ix] += demb[k, j]

    return {
        "logprobs": dlogprobs, "probs": dprobs, "counts_sum_inv": dcounts_sum_inv,
        "counts_sum": dcounts_sum, "counts": dcounts, "norm_logits": dnorm_logits,
        "logit_maxes": dlogit_maxes, "logits": dlogits, "h": dh, "W2": dW2, "b2": db2,
        "hpreact": dhpreact, "bngain": dbngain, "bnbias": dbnbias, "bnraw": dbnraw,
        "bnvar_inv": dbnvar_inv, "bnvar": dbnvar, "bndiff2": dbndiff2, "bndiff": dbndiff,
        "bnmeani": dbnmeani, "hprebn": dhprebn, "embcat": dembcat, "W1": dW1, "b1": db1,
        "emb": demb, "C": dC,
    }

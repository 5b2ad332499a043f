# corpus: correct
# exercise: makemore4/ex1
# title: step-by-step backward with vectorised variants; dC accumulated with index_add_

import torch
import torch.nn.functional as F


def backward(t):
    n = t.n
    vocab_size = t.logits.shape[1]
    n_embd = t.C.shape[1]
    dlogprobs = -F.one_hot(t.Yb, num_classes=vocab_size).float() / n        # (32, 27)
    dprobs = dlogprobs / t.probs                                            # (32, 27)
    dcounts_sum_inv = (t.counts * dprobs).sum(1, keepdim=True)              # (32, 1)
    dcounts_sum = -dcounts_sum_inv / t.counts_sum**2                        # (32, 1)
    dcounts = t.counts_sum_inv * dprobs + dcounts_sum                       # (32, 27)  both branches at once
    dnorm_logits = t.counts * dcounts                                       # (32, 27)
    dlogit_maxes = -dnorm_logits.sum(1, keepdim=True)                       # (32, 1)
    dlogits = dnorm_logits + (t.logits == t.logit_maxes).float() * dlogit_maxes  # (32, 27)
    dh = dlogits @ t.W2.T                                                   # (32, 64)
    dW2 = t.h.T @ dlogits                                                   # (64, 27)
    db2 = dlogits.sum(0)                                                    # (27,)
    dhpreact = (1.0 - t.h**2) * dh                                          # (32, 64)
    dbngain = (t.bnraw * dhpreact).sum(0, keepdim=True)                     # (1, 64)
    dbnbias = dhpreact.sum(0, keepdim=True)                                 # (1, 64)
    dbnraw = t.bngain * dhpreact                                            # (32, 64)
    dbnvar_inv = (t.bndiff * dbnraw).sum(0, keepdim=True)                   # (1, 64)
    dbnvar = -0.5 * t.bnvar_inv**3 * dbnvar_inv                             # (1, 64)
    dbndiff2 = dbnvar.expand_as(t.bndiff2) / (n - 1)                        # (32, 64)
    dbndiff = t.bnvar_inv * dbnraw + 2 * t.bndiff * dbndiff2                # (32, 64)
    dbnmeani = -dbndiff.sum(0, keepdim=True)                                # (1, 64)
    dhprebn = dbndiff + dbnmeani / n                                        # (32, 64)
    dembcat = dhprebn @ t.W1.T                                              # (32, 30)
    dW1 = t.embcat.T @ dhprebn                                              # (30, 64)
    db1 = dhprebn.sum(0)                                                    # (64,)
    demb = dembcat.view(t.emb.shape)                                        # (32, 3, 10)
    dC = torch.zeros_like(t.C)                                              # (27, 10)
    dC.index_add_(0, t.Xb.view(-1), demb.view(-1, n_embd))

    return {
        "logprobs": dlogprobs, "probs": dprobs, "counts_sum_inv": dcounts_sum_inv,
        "counts_sum": dcounts_sum, "counts": dcounts, "norm_logits": dnorm_logits,
        "logit_maxes": dlogit_maxes, "logits": dlogits, "h": dh, "W2": dW2, "b2": db2,
        "hpreact": dhpreact, "bngain": dbngain, "bnbias": dbnbias, "bnraw": dbnraw,
        "bnvar_inv": dbnvar_inv, "bnvar": dbnvar, "bndiff2": dbndiff2, "bndiff": dbndiff,
        "bnmeani": dbnmeani, "hprebn": dhprebn, "embcat": dembcat, "W1": dW1, "b1": db1,
        "emb": demb, "C": dC,
    }

# corpus: correct
# exercise: makemore4/ex4
# title: atomic step-by-step chain (as in exercise 1); dC = one_hot(Xb).T @ demb; also returns intermediates (extra keys)

import torch
import torch.nn.functional as F


def backward(t):
    n = t.n
    vocab_size, n_embd = t.C.shape
    dlogprobs = torch.zeros_like(t.logprobs)                                # (32, 27)
    dlogprobs[range(n), t.Yb] = -1.0 / n
    dprobs = dlogprobs / t.probs                                            # (32, 27)
    dcounts_sum_inv = (t.counts * dprobs).sum(1, keepdim=True)              # (32, 1)
    dcounts_sum = -t.counts_sum**-2 * dcounts_sum_inv                       # (32, 1)
    dcounts = t.counts_sum_inv * dprobs + torch.ones_like(t.counts) * dcounts_sum  # (32, 27)
    dnorm_logits = t.counts * dcounts                                       # (32, 27)
    dlogit_maxes = -dnorm_logits.sum(1, keepdim=True)                       # (32, 1)
    dlogits = dnorm_logits + F.one_hot(t.logits.max(1).indices, vocab_size) * dlogit_maxes  # (32, 27)
    dh = dlogits @ t.W2.T                                                   # (32, 64)
    dW2 = t.h.T @ dlogits                                                   # (64, 27)
    db2 = dlogits.sum(0)                                                    # (27,)
    dhpreact = (1.0 - t.h**2) * dh                                          # (32, 64)
    dbngain = (t.bnraw * dhpreact).sum(0, keepdim=True)                     # (1, 64)
    dbnraw = t.bngain * dhpreact                                            # (32, 64)
    dbnbias = dhpreact.sum(0, keepdim=True)                                 # (1, 64)
    dbnvar_inv = (t.bndiff * dbnraw).sum(0, keepdim=True)                   # (1, 64)
    dbnvar = -0.5 * (t.bnvar + 1e-5)**-1.5 * dbnvar_inv                     # (1, 64)
    dbndiff2 = torch.ones_like(t.bndiff2) * dbnvar / (n - 1)                # (32, 64)
    dbndiff = t.bnvar_inv * dbnraw + 2 * t.bndiff * dbndiff2                # (32, 64)
    dbnmeani = -dbndiff.sum(0, keepdim=True)                                # (1, 64)
    dhprebn = dbndiff + torch.ones_like(t.hprebn) * dbnmeani / n            # (32, 64)
    dembcat = dhprebn @ t.W1.T                                              # (32, 30)
    dW1 = t.embcat.T @ dhprebn                                              # (30, 64)
    db1 = dhprebn.sum(0)                                                    # (64,)
    demb = dembcat.view(t.emb.shape)                                        # (32, 3, 10)
    onehot = F.one_hot(t.Xb, vocab_size).float()                           # (32, 3, 27)
    dC = onehot.view(-1, vocab_size).T @ demb.view(-1, n_embd)              # (27, 10)
    return {
        "C": dC, "W1": dW1, "b1": db1, "W2": dW2, "b2": db2, "bngain": dbngain, "bnbias": dbnbias,
        # not graded in this exercise: reported as extra keys and ignored
        "logits": dlogits, "hpreact": dhpreact, "hprebn": dhprebn,
    }

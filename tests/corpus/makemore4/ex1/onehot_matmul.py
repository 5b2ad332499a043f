# corpus: correct
# exercise: makemore4/ex1
# title: step-by-step backward; dC as a one-hot matrix product (one_hot(Xb).T @ demb)

import torch
import torch.nn.functional as F


def backward(t):
    n = t.n
    vocab_size, n_embd = t.C.shape
    dlogprobs = torch.zeros_like(t.logprobs)                                # (32, 27)
    dlogprobs[torch.arange(n), t.Yb] = -1.0 / n
    dprobs = t.probs**-1 * dlogprobs                                        # (32, 27)
    dcounts_sum_inv = (t.counts * dprobs).sum(1, keepdim=True)              # (32, 1)
    dcounts = t.counts_sum_inv * dprobs                                     # (32, 27)
    dcounts_sum = -(t.counts_sum_inv**2) * dcounts_sum_inv                  # (32, 1)
    dcounts = dcounts + dcounts_sum                                         # (32, 27)
    dnorm_logits = t.counts * dcounts                                       # (32, 27)
    dlogit_maxes = -dnorm_logits.sum(1, keepdim=True)                       # (32, 1)
    dlogits = dnorm_logits.clone()                                          # (32, 27)
    dlogits[torch.arange(n), t.logits.argmax(1)] += dlogit_maxes[:, 0]
    dh = dlogits @ t.W2.T                                                   # (32, 64)
    dW2 = t.h.T @ dlogits                                                   # (64, 27)
    db2 = dlogits.sum(0)                                                    # (27,)
    dhpreact = (1.0 - t.h**2) * dh                                          # (32, 64)
    dbngain = (t.bnraw * dhpreact).sum(0, keepdim=True)                     # (1, 64)
    dbnraw = t.bngain * dhpreact                                            # (32, 64)
    dbnbias = dhpreact.sum(0, keepdim=True)                                 # (1, 64)
    dbndiff = t.bnvar_inv * dbnraw                                          # (32, 64)
    dbnvar_inv = (t.bndiff * dbnraw).sum(0, keepdim=True)                   # (1, 64)
    dbnvar = -0.5 * (t.bnvar + 1e-5)**-1.5 * dbnvar_inv                     # (1, 64)
    dbndiff2 = torch.ones_like(t.bndiff2) * dbnvar / (n - 1)                # (32, 64)
    dbndiff = dbndiff + 2 * t.bndiff * dbndiff2                             # (32, 64)
    dbnmeani = -dbndiff.sum(0, keepdim=True)                                # (1, 64)
    dhprebn = dbndiff + torch.ones_like(t.hprebn) * dbnmeani / n            # (32, 64)
    dembcat = dhprebn @ t.W1.T                                              # (32, 30)
    dW1 = t.embcat.T @ dhprebn                                              # (30, 64)
    db1 = dhprebn.sum(0)                                                    # (64,)
    demb = dembcat.view(n, -1, n_embd)                                      # (32, 3, 10)
    onehot = F.one_hot(t.Xb.view(-1), num_classes=vocab_size).float()       # (96, 27)
    dC = onehot.T @ demb.view(-1, n_embd)                                   # (27, 10)

    return {
        "logprobs": dlogprobs, "probs": dprobs, "counts_sum_inv": dcounts_sum_inv,
        "counts_sum": dcounts_sum, "counts": dcounts, "norm_logits": dnorm_logits,
        "logit_maxes": dlogit_maxes, "logits": dlogits, "h": dh, "W2": dW2, "b2": db2,
        "hpreact": dhpreact, "bngain": dbngain, "bnbias": dbnbias, "bnraw": dbnraw,
        "bnvar_inv": dbnvar_inv, "bnvar": dbnvar, "bndiff2": dbndiff2, "bndiff": dbndiff,
        "bnmeani": dbnmeani, "hprebn": dhprebn, "embcat": dembcat, "W1": dW1, "b1": db1,
        "emb": demb, "C": dC,
    }

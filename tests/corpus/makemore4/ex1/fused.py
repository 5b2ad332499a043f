# corpus: correct
# exercise: makemore4/ex1
# title: closed-form fused formulas (dlogits = softmax - onehot / n, batchnorm one-liner), dC via index_put_(accumulate=True)

import torch
import torch.nn.functional as F


def backward(t):
    n = t.n
    vocab_size, n_embd = t.C.shape
    onehot = F.one_hot(t.Yb, num_classes=vocab_size).float()                # (32, 27)
    # softmax + cross-entropy block, every intermediate in closed form
    dlogprobs = -onehot / n                                                 # (32, 27)
    dprobs = -onehot / (n * t.probs)                                        # (32, 27)
    dcounts_sum_inv = -t.counts_sum / n                                     # (32, 1)
    dcounts_sum = 1.0 / (n * t.counts_sum)                                  # (32, 1)
    dcounts = (t.counts_sum_inv - onehot / t.counts) / n                    # (32, 27)
    dnorm_logits = (t.probs - onehot) / n                                   # (32, 27)
    dlogit_maxes = -dnorm_logits.sum(1, keepdim=True)                       # (32, 1)  ~0
    dlogits = (F.softmax(t.logits, 1) - onehot) / n                         # (32, 27)
    # second layer and tanh
    dh = dlogits @ t.W2.T                                                   # (32, 64)
    dW2 = t.h.T @ dlogits                                                   # (64, 27)
    db2 = dlogits.sum(0)                                                    # (27,)
    dhpreact = (1.0 - t.h**2) * dh                                          # (32, 64)
    # batchnorm: intermediates, then the one-liner for dhprebn
    dbngain = (t.bnraw * dhpreact).sum(0, keepdim=True)                     # (1, 64)
    dbnbias = dhpreact.sum(0, keepdim=True)                                 # (1, 64)
    dbnraw = t.bngain * dhpreact                                            # (32, 64)
    dbnvar_inv = (t.bndiff * dbnraw).sum(0, keepdim=True)                   # (1, 64)
    dbnvar = -0.5 * t.bnvar_inv**3 * dbnvar_inv                             # (1, 64)
    dbndiff2 = torch.ones_like(t.bndiff2) * dbnvar / (n - 1)                # (32, 64)
    dbndiff = t.bnvar_inv * dbnraw + 2 * t.bndiff * dbndiff2                # (32, 64)
    dbnmeani = -dbndiff.sum(0, keepdim=True)                                # (1, 64)
    dhprebn = t.bngain * t.bnvar_inv / n * (
        n * dhpreact - dhpreact.sum(0) - n / (n - 1) * t.bnraw * (dhpreact * t.bnraw).sum(0)
    )                                                                       # (32, 64)
    # first layer and embedding
    dembcat = dhprebn @ t.W1.T                                              # (32, 30)
    dW1 = t.embcat.T @ dhprebn                                              # (30, 64)
    db1 = dhprebn.sum(0)                                                    # (64,)
    demb = dembcat.view(t.emb.shape)                                        # (32, 3, 10)
    dC = torch.zeros_like(t.C).index_put_(
        (t.Xb.flatten(),), demb.reshape(-1, n_embd), accumulate=True
    )                                                                       # (27, 10)

    return {
        "logprobs": dlogprobs, "probs": dprobs, "counts_sum_inv": dcounts_sum_inv,
        "counts_sum": dcounts_sum, "counts": dcounts, "norm_logits": dnorm_logits,
        "logit_maxes": dlogit_maxes, "logits": dlogits, "h": dh, "W2": dW2, "b2": db2,
        "hpreact": dhpreact, "bngain": dbngain, "bnbias": dbnbias, "bnraw": dbnraw,
        "bnvar_inv": dbnvar_inv, "bnvar": dbnvar, "bndiff2": dbndiff2, "bndiff": dbndiff,
        "bnmeani": dbnmeani, "hprebn": dhprebn, "embcat": dembcat, "W1": dW1, "b1": db1,
        "emb": demb, "C": dC,
    }

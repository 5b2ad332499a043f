"""makemore4/ex1 — backprop through the whole network, one atomic step at a time.

Fill in every `None` with the gradient of the loss with respect to that tensor, working
backwards from the loss exactly as in the lecture. Check your work locally with

    backprop check ex1.py -e makemore4/ex1

Rules: no autograd (.backward(), torch.autograd, torch.func are detected and score 0); use
t.n and the tensors' shapes, never hard-coded sizes (hidden cases use other ones).
"""



def backward(t):
    n = t.n  # batch size (32 in the public case)

    # The forward pass, for reference. Every tensor here is available as t.<name>.
    #   emb = C[Xb]                                       # (n, 3, 10)
    #   embcat = emb.view(n, -1)                          # (n, 30)
    #   hprebn = embcat @ W1 + b1                         # (n, 64)
    #   bnmeani = 1/n * hprebn.sum(0, keepdim=True)       # (1, 64)
    #   bndiff = hprebn - bnmeani                         # (n, 64)
    #   bndiff2 = bndiff**2                               # (n, 64)
    #   bnvar = 1/(n-1) * bndiff2.sum(0, keepdim=True)    # (1, 64)  Bessel's correction
    #   bnvar_inv = (bnvar + 1e-5)**-0.5                  # (1, 64)
    #   bnraw = bndiff * bnvar_inv                        # (n, 64)
    #   hpreact = bngain * bnraw + bnbias                 # (n, 64)
    #   h = torch.tanh(hpreact)                           # (n, 64)
    #   logits = h @ W2 + b2                              # (n, 27)
    #   logit_maxes = logits.max(1, keepdim=True).values  # (n, 1)
    #   norm_logits = logits - logit_maxes                # (n, 27)
    #   counts = norm_logits.exp()                        # (n, 27)
    #   counts_sum = counts.sum(1, keepdim=True)          # (n, 1)
    #   counts_sum_inv = counts_sum**-1                   # (n, 1)
    #   probs = counts * counts_sum_inv                   # (n, 27)
    #   logprobs = probs.log()                            # (n, 27)
    #   loss = -logprobs[range(n), Yb].mean()             # ()

    dlogprobs = None       # (n, 27)  hint: only n entries of logprobs reach the loss
    dprobs = None          # (n, 27)
    dcounts_sum_inv = None # (n, 1)
    dcounts_sum = None     # (n, 1)
    dcounts = None         # (n, 27)  two branches: counts feeds probs AND counts_sum (+=)
    dnorm_logits = None    # (n, 27)
    dlogit_maxes = None    # (n, 1)
    dlogits = None         # (n, 27)  two branches again
    dh = None              # (n, 64)
    dW2 = None             # (64, 27)
    db2 = None             # (27,)
    dhpreact = None        # (n, 64)
    dbngain = None         # (1, 64)
    dbnbias = None         # (1, 64)
    dbnraw = None          # (n, 64)
    dbnvar_inv = None      # (1, 64)
    dbnvar = None          # (1, 64)
    dbndiff2 = None        # (n, 64)
    dbndiff = None         # (n, 64)  two branches
    dbnmeani = None        # (1, 64)
    dhprebn = None         # (n, 64)  two branches
    dembcat = None         # (n, 30)
    dW1 = None             # (30, 64)
    db1 = None             # (64,)
    demb = None            # (n, 3, 10)
    dC = None              # (27, 10) hint: a token may appear several times in Xb

    return {
        "logprobs": dlogprobs, "probs": dprobs, "counts_sum_inv": dcounts_sum_inv,
        "counts_sum": dcounts_sum, "counts": dcounts, "norm_logits": dnorm_logits,
        "logit_maxes": dlogit_maxes, "logits": dlogits, "h": dh, "W2": dW2, "b2": db2,
        "hpreact": dhpreact, "bngain": dbngain, "bnbias": dbnbias, "bnraw": dbnraw,
        "bnvar_inv": dbnvar_inv, "bnvar": dbnvar, "bndiff2": dbndiff2, "bndiff": dbndiff,
        "bnmeani": dbnmeani, "hprebn": dhprebn, "embcat": dembcat, "W1": dW1, "b1": db1,
        "emb": demb, "C": dC,
    }

"""makemore4/ex3 — the batchnorm backward pass in one formula.

    bnmeani = 1/n * hprebn.sum(0, keepdim=True)
    bndiff = hprebn - bnmeani
    bnvar = 1/(n-1) * (bndiff**2).sum(0, keepdim=True)   # Bessel's correction (n-1)
    bnvar_inv = (bnvar + 1e-5)**-0.5
    bnraw = bndiff * bnvar_inv
    hpreact = bngain * bnraw + bnbias

You get the upstream gradient t.dhpreact. Write dhprebn as one expression. Check it with

    backprop check ex3.py -e makemore4/ex3
"""



def backward(t):
    n = t.n
    dhpreact = t.dhpreact    # (n, 64) upstream gradient, given
    bngain = t.bngain        # (1, 64)
    bnvar_inv = t.bnvar_inv  # (1, 64)
    bnraw = t.bnraw          # (n, 64)

    dhprebn = None           # (n, 64)

    return {"hprebn": dhprebn}

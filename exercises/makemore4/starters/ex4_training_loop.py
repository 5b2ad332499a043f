"""makemore4/ex4 — parameter gradients that train the network.

Compute the gradients of the 7 parameters without autograd, any way you like: the fused
cross-entropy (ex2) and batchnorm (ex3) formulas make it short. The grader then trains the
network for 50 SGD steps with your gradients and compares the loss curve with autograd's.

    backprop check ex4.py -e makemore4/ex4
"""



def backward(t):
    n = t.n
    # Forward tensors you will need: t.logits, t.h, t.hpreact, t.bnraw, t.bnvar_inv,
    # t.embcat, t.Xb, t.Yb, and the parameters t.C, t.W1, t.b1, t.W2, t.b2, t.bngain.

    dC = None       # (27, 10)
    dW1 = None      # (30, 64)
    db1 = None      # (64,)
    dW2 = None      # (64, 27)
    db2 = None      # (27,)
    dbngain = None  # (1, 64)
    dbnbias = None  # (1, 64)

    return {"C": dC, "W1": dW1, "b1": db1, "W2": dW2, "b2": db2,
            "bngain": dbngain, "bnbias": dbnbias}

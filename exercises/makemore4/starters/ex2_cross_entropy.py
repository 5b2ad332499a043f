"""makemore4/ex2 — the cross-entropy backward pass in one formula.

    loss = F.cross_entropy(logits, Yb)    # logits (n, 27), Yb (n,)

Derive dloss/dlogits on paper, then write it as one expression. Check it with

    backprop check ex2.py -e makemore4/ex2
"""



def backward(t):
    n = t.n           # batch size
    logits = t.logits  # (n, 27)
    Yb = t.Yb          # (n,) the correct next token of each example

    dlogits = None     # (n, 27)  hint: softmax(logits), minus 1 at Yb, over n

    return {"logits": dlogits}

"""Reference solution of makemore4/ex2 (the lecture's cross-entropy formula).

Not package data: solutions stay in the source tree (`backprop validate makemore4/ex2`).
"""

import torch.nn.functional as F


def backward(t):
    n = t.n
    dlogits = F.softmax(t.logits, 1)                                        # (n, 27)
    dlogits[range(n), t.Yb] -= 1
    dlogits /= n
    return {"logits": dlogits}

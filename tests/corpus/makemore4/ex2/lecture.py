# corpus: correct
# exercise: makemore4/ex2
# title: the lecture's formula: softmax, subtract 1 at the targets, divide by n

import torch
import torch.nn.functional as F


def backward(t):
    n = t.n
    dlogits = F.softmax(t.logits, 1)                                        # (32, 27)
    dlogits[range(n), t.Yb] -= 1
    dlogits /= n
    return {"logits": dlogits}

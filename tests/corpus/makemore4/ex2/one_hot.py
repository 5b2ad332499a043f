# corpus: correct
# exercise: makemore4/ex2
# title: one formula with F.one_hot: (softmax(logits) - one_hot(Yb)) / n

import torch
import torch.nn.functional as F


def backward(t):
    return {"logits": (F.softmax(t.logits, dim=1) - F.one_hot(t.Yb, num_classes=t.logits.shape[1])) / t.n}  # (32, 27)

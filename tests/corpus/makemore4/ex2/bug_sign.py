# corpus: bug
# exercise: makemore4/ex2
# title: sign error: (one_hot(Yb) - softmax(logits)) / n
# bug-class: sign
# root-cause: logits
# expect-wrong: logits

import torch
import torch.nn.functional as F


def backward(t):
    return {"logits": (F.one_hot(t.Yb, num_classes=t.logits.shape[1]) - F.softmax(t.logits, dim=1)) / t.n}  # (32, 27)

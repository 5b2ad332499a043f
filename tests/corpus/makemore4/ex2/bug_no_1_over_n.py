# corpus: bug
# exercise: makemore4/ex2
# title: softmax minus one-hot, but never divided by n
# bug-class: scale_1_over_n
# root-cause: logits
# expect-wrong: logits

import torch
import torch.nn.functional as F


def backward(t):
    n = t.n
    dlogits = F.softmax(t.logits, 1)                                        # (32, 27)
    dlogits[range(n), t.Yb] -= 1
    return {"logits": dlogits}

# corpus: bug
# exercise: makemore4/ex2
# title: hard-coded batch size: divides by 32 instead of n
# bug-class: hardcoded_batch
# root-cause: logits
# expect-wrong: logits

import torch
import torch.nn.functional as F


def backward(t):
    n = t.n
    dlogits = F.softmax(t.logits, 1)                                        # (32, 27)
    dlogits[range(n), t.Yb] -= 1
    dlogits /= 32
    return {"logits": dlogits}

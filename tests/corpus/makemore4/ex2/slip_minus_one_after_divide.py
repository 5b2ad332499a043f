# corpus: bug
# exercise: makemore4/ex2
# title: divides the softmax by n first and subtracts 1 at the targets afterwards, so the one-hot part misses its 1/n
# bug-class: scale_1_over_n
# root-cause: logits
# expect-wrong: logits
# known-miss: told as partial (wrong in the label columns); the -1 missing its 1/n is a factor on the one-hot part only, which no fingerprint models yet

import torch
import torch.nn.functional as F


def backward(t):
    n = t.n
    # dloss/dlogits = softmax(logits)/n, and -1 where the label is
    dlogits = F.softmax(t.logits, 1) / n
    dlogits[range(n), t.Yb] -= 1
    return {"logits": dlogits}

# corpus: bug
# exercise: makemore4/ex2
# title: softmax taken over dim 0 (the batch) instead of dim 1 (the 27 classes), then minus one at the targets, divided by n
# bug-class: wrong_sum_dim
# root-cause: logits
# expect-wrong: logits
# known-miss: unclassified; a softmax over the other dimension is not modelled

import torch
import torch.nn.functional as F


def backward(t):
    n = t.n
    probs = F.softmax(t.logits, 0)
    dlogits = probs.clone()
    dlogits[range(n), t.Yb] -= 1
    dlogits = dlogits / n
    return {"logits": dlogits}

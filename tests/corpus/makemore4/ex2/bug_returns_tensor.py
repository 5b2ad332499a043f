# corpus: bug
# exercise: makemore4/ex2
# title: returns the dlogits tensor itself instead of a dict {'logits': dlogits}
# bug-class: wrong_type
# expect-wrong: logits
# expect-status: graded

import torch


def backward(t):
    n = t.n
    counts = (t.logits - t.logits.max(1, keepdim=True).values).exp()      # (32, 27)
    probs = counts / counts.sum(1, keepdim=True)                            # (32, 27)
    target = torch.zeros_like(t.logits).scatter_(1, t.Yb.view(-1, 1), 1.0)  # (32, 27)
    dlogits = (probs - target) / n                                          # (32, 27)
    return dlogits

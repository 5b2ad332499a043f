# corpus: bug
# exercise: makemore4/ex2
# title: notebook globals pasted above the function (batch_size = 32; n = batch_size) and used instead of t.n: right for n=32, IndexError for n=7 and n=24
# bug-class: hardcoded_batch
# root-cause: logits
# expect-wrong: logits

import torch
import torch.nn.functional as F

# from the notebook cell above
batch_size = 32
n = batch_size  # a shorter variable also, for convenience


def backward(t):
    dlogits = F.softmax(t.logits, 1)
    dlogits[range(n), t.Yb] -= 1
    dlogits /= n
    return {"logits": dlogits}

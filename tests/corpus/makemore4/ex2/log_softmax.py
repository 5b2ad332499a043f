# corpus: correct
# exercise: makemore4/ex2
# title: probabilities via exp(log_softmax), one-hot built by comparison with arange

import torch
import torch.nn.functional as F


def backward(t):
    n, vocab_size = t.logits.shape
    probs = F.log_softmax(t.logits, dim=1).exp()                            # (32, 27)
    onehot = (t.Yb[:, None] == torch.arange(vocab_size)[None, :]).float()   # (32, 27)
    dlogits = (probs - onehot) / t.n                                        # (32, 27)
    return {"logits": dlogits}

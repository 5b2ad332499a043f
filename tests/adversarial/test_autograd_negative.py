"""No false positives: every correct formulation of the corpus gets full marks, and code that
merely *mentions* backward or autograd (comments, strings, variable and function names) or uses
ordinary library features is graded normally."""

from __future__ import annotations

import pytest

from tests.adversarial.test_autograd_helpers import HEAD, assert_graded

# Every correct formulation of the corpus gets full marks through the same sandbox (guard on):
# tests/exercises/test_corpus.py::test_correct_formulation_gets_full_marks (makemore4, the
# same grade() call with stronger assertions) and tests/exercises/test_pack_corpora.py (every
# other pack). Grading them here too cost ~20 s of the suite for no new fact.


INNOCENT = {
    "comments-and-names": '''
# Backward pass of cross-entropy, by hand: no autograd, no loss.backward(), no torch.func.
def grad_of_softmax(logits):  # "backward" helper
    grad = F.softmax(logits, 1)
    return grad

def backward(t):
    """Compute dlogits like autograd would (but by hand): requires_grad is not needed."""
    grad = grad_of_softmax(t.logits)
    backward_pass = "torch.autograd.grad(loss, logits)"   # just a string
    requires_grad = False
    grad[range(t.n), t.Yb] -= 1
    return {"logits": grad / t.n}
''',
    "library-features": '''
import math, random, statistics, copy, itertools, functools, collections, dataclasses, json
import numpy as np

@dataclasses.dataclass
class Cfg:
    eps: float = 1e-9

def backward(t):
    random.seed(0)
    assert math.isfinite(statistics.mean([1.0, 2.0]))
    logits = copy.deepcopy(t.logits)
    probs = torch.from_numpy(np.exp(logits.numpy() - logits.numpy().max(1, keepdims=True)))
    probs = probs / probs.sum(1, keepdim=True)
    onehot = F.one_hot(t.Yb, num_classes=logits.shape[1]).float()
    loss = F.cross_entropy(t.logits, t.Yb)          # computing the loss is fine
    assert torch.isclose(loss, t.loss)
    counts = collections.Counter(t.Yb.tolist())
    print("loss", float(loss), len(counts), json.dumps({"n": t.n}), Cfg())
    d = (probs - onehot) / t.n
    d2 = torch.zeros_like(d).index_add_(0, torch.arange(t.n), d)
    d3 = torch.zeros(t.n, logits.shape[1]).scatter_add_(0, torch.arange(t.n).view(-1, 1)
                                                        .expand_as(d), d)
    assert torch.allclose(d2, d3)
    return {"logits": d2.T.contiguous().T.view(t.n, -1)}
''',
    "torch-utilities": '''
def backward(t):
    g = torch.Generator().manual_seed(0)
    noise = torch.randn(3, generator=g) * 0
    assert t.logits.grad is None and t.logits.grad_fn is None
    assert not t.logits.requires_grad and not torch.is_grad_enabled()
    d = torch.func.vmap(lambda row: F.softmax(row, 0))(t.logits)   # vmap is not autograd
    d = torch.nn.Softmax(dim=1)(t.logits) + noise.sum()
    d[range(t.n), t.Yb] -= 1
    with torch.no_grad():
        d = d.detach() / t.n
    return {"logits": d}
''',
}


@pytest.mark.parametrize("name", list(INNOCENT))
def test_innocent_code_is_not_flagged(sandbox, name: str) -> None:
    assert_graded(sandbox, HEAD + INNOCENT[name])

"""The makemore4 pack against autograd and PyTorch's own layers (the micrograd way)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from exercises.makemore4 import common
from grader import get_exercise


def _fwd(ex_id: str = "makemore4/ex1", i: int = 0):
    ex = get_exercise(ex_id)
    case = ex.cases("alice", b"secret")[i]
    return ex, case, ex.forward(case)


def test_forward_matches_pytorch_layers() -> None:
    _, case, fwd = _fwd()
    assert fwd["n"] == case.n == 32
    assert torch.allclose(fwd["loss"], F.cross_entropy(fwd["logits"], fwd["Yb"]), atol=1e-6)
    bn = F.batch_norm(fwd["hprebn"], None, None, training=True, eps=1e-5)
    # The lecture's batchnorm uses the Bessel-corrected variance; torch's uses 1/n.
    n = case.n
    expected = fwd["bndiff"] / torch.sqrt(fwd["bndiff2"].sum(0) / (n - 1) + 1e-5)
    assert torch.allclose(fwd["bnraw"], expected, atol=1e-5)
    assert not torch.allclose(fwd["bnraw"], bn, atol=1e-4)


def test_lecture_init_and_shapes() -> None:
    _, _, fwd = _fwd()
    assert fwd["C"].shape == (27, 10) and fwd["W1"].shape == (30, 64)
    assert fwd["bngain"].shape == (1, 64) and fwd["b2"].shape == (27,)
    assert 0.05 < float(fwd["b1"].detach().std()) < 0.2  # scaled by 0.1, not zero
    assert fwd["Xb"].dtype == torch.int64 and int(fwd["Xb"].max()) < 27


def test_cases_hidden_sizes_and_seeds() -> None:
    ex = get_exercise("makemore4/ex1")
    cases = ex.cases("alice", b"k1")
    assert [c.n for c in cases] == [32, 32, 7, 24]
    assert cases[3].params["n_hidden"] == 40
    assert not cases[0].hidden and all(c.hidden for c in cases[1:])
    # Public seed: per student, independent of the secret; hidden: depend on the secret.
    again = ex.cases("alice", b"k2")
    assert cases[0].seed == again[0].seed
    assert all(a.seed != b.seed for a, b in zip(cases[1:], again[1:], strict=True))
    assert ex.cases("bob", b"k1")[0].seed != cases[0].seed
    # Each exercise has its own public case.
    assert get_exercise("makemore4/ex2").cases("alice", b"k1")[0].seed != cases[0].seed


def test_hidden_width_changes_shapes() -> None:
    _, _, fwd = _fwd(i=3)
    assert fwd["W1"].shape == (30, 40) and fwd["hprebn"].shape == (24, 40)


def test_reference_is_autograd_of_the_loss() -> None:
    ex, _, fwd = _fwd()
    ref = ex.reference(fwd)
    assert [g.name for g in ex.graded] == list(ref)
    assert len(ref) == 26
    dlogits = (F.softmax(fwd["logits"], 1) - F.one_hot(fwd["Yb"], 27)) / fwd["n"]
    assert torch.allclose(ref["logits"], dlogits.detach(), atol=1e-7)


def test_student_inputs_are_detached_float_copies() -> None:
    ex, _, fwd = _fwd()
    t = ex.student_inputs(fwd)
    assert set(t) == set(ex.inputs)
    assert "loss" in t and all(not v.requires_grad for v in t.values()
                               if isinstance(v, torch.Tensor))
    t["W1"].add_(1.0)
    assert not torch.equal(t["W1"], fwd["W1"])


def test_ex3_gets_the_true_upstream_gradient_only() -> None:
    ex, _, fwd = _fwd("makemore4/ex3")
    t = ex.student_inputs(fwd)
    assert "dhpreact" in t and "logits" not in t
    ref = ex.reference(fwd)
    (dhprebn,) = torch.autograd.grad(fwd["hpreact"], fwd["hprebn"], t["dhpreact"])
    assert torch.allclose(ref["hprebn"], dhprebn, atol=1e-8)


def test_dataset_is_learnable_and_deterministic() -> None:
    X1, Y1 = common.make_dataset(common.generator(5), 64)
    X2, Y2 = common.make_dataset(common.generator(5), 64)
    assert torch.equal(X1, X2) and torch.equal(Y1, Y2)
    assert torch.equal(X1[1:, :2], X1[:-1, 1:])  # a sliding window over one token stream


def test_starters_run_and_score_zero_with_clear_messages(sandbox) -> None:
    from grader import grade

    for ex_id in ("makemore4/ex1", "makemore4/ex2", "makemore4/ex3", "makemore4/ex4"):
        ex = get_exercise(ex_id)
        result = grade(ex, ex.starter, sandbox=sandbox)
        assert result.status == "graded" and result.score == 0, result.message
        assert all(t.status == "missing" and "not filled in" in t.message
                   for t in result.tensors)


def test_no_batch_is_degenerate() -> None:
    """A bigram chain stuck on one token made batches of identical rows (~0.5 % of seeds):
    batchnorm's variance 0, the reference gradients below it float noise, correct solutions
    failing dW1, db1, dC. make_batch draws such a batch again; other batches are unchanged."""
    stuck = 0
    for seed in range(3000):
        before = common.make_dataset(torch.Generator().manual_seed(seed), 32)[0]
        X = common.make_batch(torch.Generator().manual_seed(seed), 32)[0]
        distinct = len({tuple(r) for r in X.tolist()})
        assert distinct >= 8, seed
        if len({tuple(r) for r in before.tolist()}) < 8:
            stuck += 1
            assert not torch.equal(X, before)
        else:
            assert torch.equal(X, before), seed  # a good first draw is kept as it was
    assert stuck > 0  # the seeds that used to be degenerate were in the range tested

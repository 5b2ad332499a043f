"""Diagnosis under hostile and odd replies, through the real sandbox.

Diagnosis runs in the trusted process on what the child sent back, so nothing a submission
returns may crash it or make the parent read an unbounded tensor (what it costs is measured in
bench/diagnosis_bench.py, never asserted here). Every
test grades through the session sandbox with ``grade(...)``; one opens a session directly to
see what the parent actually received.
"""

from __future__ import annotations

import logging
from pathlib import Path

import jsonschema
import pytest

from grader import get_exercise, grade
from grader.result import RESULT_SCHEMA, GradeResult, TensorResult
from grader.sandbox import Sandbox
from grader.sandbox.wire import MISSHAPED_FACTOR, MISSHAPED_MIN, misshaped_ok

CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "makemore4"
EX1 = get_exercise("makemore4/ex1")
EX2 = get_exercise("makemore4/ex2")
EX4 = get_exercise("makemore4/ex4")


def wrapped(path: str, post: str, *, edit: tuple[str, str] | None = None) -> str:
    """Return a corpus file whose ``backward`` result is altered by ``post`` (indented code
    that may rewrite ``out``, the dict the file's own backward returned)."""
    src = (CORPUS / path).read_text()
    if edit:
        assert edit[0] in src
        src = src.replace(*edit)
    return (src.replace("def backward(t):", "def _ref(t):")
            + "\n\ndef backward(t):\n    out = _ref(t)\n" + post + "    return out\n")


def run(exercise, source: str, sandbox: Sandbox, **kw) -> GradeResult:
    result = grade(exercise, source, sandbox=sandbox, student="hostile", secret=b"k", **kw)
    jsonschema.validate(result.to_json(), RESULT_SCHEMA)
    return result


def tensor(result: GradeResult, name: str) -> TensorResult:
    return next(t for t in result.tensors if t.name == name)


def failing(result: GradeResult) -> dict[str, TensorResult]:
    return {t.name: t for t in result.tensors if not t.passed}


@pytest.fixture(autouse=True)
def _diagnosis_did_not_fail_soft(caplog: pytest.LogCaptureFixture):
    """grade() logs and drops a diagnosis that raised: here that counts as a crash."""
    with caplog.at_level(logging.WARNING, logger="grader"):
        yield
    failures = [r.getMessage() for r in caplog.get_records("call")
                if r.name.startswith("grader") and r.levelno >= logging.ERROR]
    assert not failures, failures


# -- mis-shaped gradients ------------------------------------------------------------------

def test_huge_misshaped_gradient_is_a_clear_shape_mismatch(sandbox: Sandbox) -> None:
    # 32 × 2**18 floats (32 MiB) for the (64, 27) dW2: ~4900 × the expected size.
    src = wrapped("ex1/lecture.py", "    out['W2'] = torch.zeros(t.n, 2**18)\n")
    result = run(EX1, src, sandbox)
    assert result.status == "graded"
    assert set(failing(result)) == {"W2"}
    w2 = tensor(result, "W2")
    assert w2.status == "shape_mismatch"
    assert w2.got_shape == [32, 2**18] and w2.expected_shape == [64, 27]
    assert "got shape (32, 262144), expected (64, 27)" in w2.message
    assert w2.root_cause and w2.fingerprint == "shape"
    assert "(32, 262144)" in w2.diagnosis
    assert result.score == result.carry_forward_score == EX1.max_score - 1


def test_parent_never_receives_a_misshaped_gradient_beyond_the_bound(
        sandbox: Sandbox) -> None:
    """Within the bound a wrong shape crosses the channel (for diagnosis); beyond it, or with
    more than 4 dimensions, only its description does."""
    case = EX2.cases("hostile", b"k")[0]
    fwd = EX2.forward(case)
    expect = {"logits": tuple(fwd["logits"].shape)}
    bound = max(MISSHAPED_FACTOR * fwd["logits"].numel(), MISSHAPED_MIN)
    assert misshaped_ok((bound,), expect["logits"])
    assert not misshaped_ok((bound + 1,), expect["logits"])
    assert not misshaped_ok((1, 1, 1, case.n, 27), expect["logits"])
    # (A payload at the bound itself, 216 KiB, is left out: see
    # test_unsummed_gradient_within_the_bound_is_graded.)
    shapes = {"transposed": (27, case.n), "within": (4 * case.n, 27),
              "over_bound": (bound + 1,), "far_over": (case.n, 2**20),
              "five_dims": (1, 1, 1, case.n, 27)}
    # The child keeps its module state between requests: the k-th call returns the k-th shape.
    src = ("import torch\n\nCALLS = [0]\n"
           f"SHAPES = {list(shapes.values())!r}\n\n"
           "def backward(t):\n    CALLS[0] += 1\n"
           "    return {'logits': torch.ones(SHAPES[CALLS[0] - 1])}\n")
    replies = {}
    with sandbox.session(src, EX2.limits) as session:
        for mode in shapes:
            replies[mode] = session.ask(EX2.student_inputs(fwd), expect)
    for mode, shape in shapes.items():
        reply = replies[mode]
        assert reply.error is None, (mode, reply.error)
        assert reply.tensors == {}, mode
        assert reply.entries["logits"].shape == shape, mode
        if mode in ("transposed", "within"):
            assert tuple(reply.misshaped["logits"].shape) == shape, mode
            assert bool((reply.misshaped["logits"] == 1).all()), mode
        else:
            assert reply.misshaped == {}, mode
            assert not reply.entries["logits"].payload, mode


def test_unsummed_gradient_within_the_bound_is_graded(sandbox: Sandbox) -> None:
    src = wrapped("ex1/lecture.py",
                  "    out['W2'] = t.h[:, :, None] * out['logits'][:, None, :]\n")
    result = run(EX1, src, sandbox)
    assert result.status == "graded", result.message
    assert set(failing(result)) == {"W2"}
    w2 = tensor(result, "W2")
    assert w2.status == "shape_mismatch" and w2.root_cause
    assert w2.fingerprint in ("not_summed", "shape")


def test_non_contiguous_transposed_view_is_diagnosed_as_a_transpose(sandbox: Sandbox) -> None:
    src = wrapped("ex1/lecture.py", "    out['W2'] = out['W2'].T\n")  # a strided view
    result = run(EX1, src, sandbox)
    w2 = tensor(result, "W2")
    assert w2.status == "shape_mismatch"
    assert w2.root_cause and w2.fingerprint == "transpose"


@pytest.mark.parametrize(("post", "want"), [
    ("    out['W2'] = torch.zeros(0)\n", "shape"),
    ("    out['b2'] = out['b2'].reshape(1, 1, 1, 27)\n", "missing_keepdim"),
    ("    out['bnbias'] = float('nan') * out['hpreact']\n", "shape"),
    ("    out['W2'] = out['W2'].double().T\n", "shape"),
], ids=["empty", "four-dims", "nan-unsummed", "float64-transposed"])
def test_odd_misshaped_gradients(post: str, want: str, sandbox: Sandbox) -> None:
    result = run(EX1, wrapped("ex1/lecture.py", post), sandbox)
    (name,) = failing(result)
    t = tensor(result, name)
    assert t.status == "shape_mismatch"
    assert t.root_cause and t.fingerprint == want, (t.fingerprint, t.diagnosis)


# -- non-finite values ---------------------------------------------------------------------

def test_nan_everywhere(sandbox: Sandbox) -> None:
    src = wrapped("ex1/lecture.py",
                  "    out = {k: torch.full_like(v, float('nan')) for k, v in out.items()}\n")
    result = run(EX1, src, sandbox)
    assert result.status == "graded" and result.score == 0
    assert all(t.status == "not_finite" for t in result.tensors)
    logprobs = tensor(result, "logprobs")
    assert logprobs.root_cause and logprobs.fingerprint == "nan"
    assert logprobs.diagnosis.startswith("dlogprobs has 864 NaN or infinite value(s) of 864")
    for t in result.tensors:
        assert t.fingerprint in (None, "nan"), (t.name, t.fingerprint)
        assert t.diagnosis, t.name


def test_nan_everywhere_in_a_one_tensor_exercise(sandbox: Sandbox) -> None:
    src = ("import torch\n\ndef backward(t):\n"
           "    return {'logits': torch.full_like(t.logits, float('nan'))}\n")
    result = run(EX2, src, sandbox)
    t = tensor(result, "logits")
    assert t.status == "not_finite" and t.root_cause and t.fingerprint == "nan"
    assert result.carry_forward_score == 0


def test_zeros_below_a_nan_root_earn_no_carry_forward(sandbox: Sandbox) -> None:
    src = wrapped("ex1/lecture.py",
                  "    out = {k: torch.zeros_like(v) for k, v in out.items()}\n"
                  "    out['logprobs'] = torch.full_like(out['logprobs'], float('nan'))\n")
    result = run(EX1, src, sandbox)
    assert tensor(result, "logprobs").fingerprint == "nan"
    assert result.carry_forward_score == result.score, result.carry_forward_score


def test_inf_in_one_entry(sandbox: Sandbox) -> None:
    src = wrapped("ex1/lecture.py", "    out['W2'][0, 0] = float('inf')\n")
    result = run(EX1, src, sandbox)
    assert set(failing(result)) == {"W2"}
    w2 = tensor(result, "W2")
    assert w2.status == "not_finite"
    assert w2.root_cause and w2.fingerprint == "nan"
    assert "1 NaN or infinite value(s) of 1728" in w2.diagnosis
    assert result.carry_forward_score == result.score == EX1.max_score - 1


# -- types and flags -----------------------------------------------------------------------

@pytest.mark.parametrize("post", [
    "    out['W2'] = out['W2'].double()\n",
    "    out['W2'] = out['W2'].half()\n",
    "    out['W2'] = out['W2'].to_sparse()\n",
    "    out['W2'] = out['W2'].tolist()\n",
], ids=["float64", "float16", "sparse", "list"])
def test_wrong_type_is_a_root_cause(post: str, sandbox: Sandbox) -> None:
    result = run(EX1, wrapped("ex1/lecture.py", post), sandbox)
    assert set(failing(result)) == {"W2"}
    w2 = tensor(result, "W2")
    assert w2.status == "bad_type"
    assert w2.root_cause and w2.fingerprint == "wrong_type"
    assert w2.diagnosis == f"{w2.message} (likely line {w2.line})" or \
        w2.diagnosis == w2.message, (w2.diagnosis, w2.message)
    assert "float32" in w2.diagnosis or "torch.Tensor" in w2.diagnosis


def test_float64_says_what_to_do(sandbox: Sandbox) -> None:
    result = run(EX1, wrapped("ex1/lecture.py", "    out['W2'] = out['W2'].double()\n"),
                 sandbox)
    assert "float64" in tensor(result, "W2").diagnosis
    assert ".float()" in tensor(result, "W2").diagnosis


def test_requires_grad_result_is_a_violation_not_a_diagnosis(sandbox: Sandbox) -> None:
    src = wrapped("ex1/lecture.py", "    out['W2'] = out['W2'].clone().requires_grad_(True)\n")
    result = run(EX1, src, sandbox)
    assert result.status == "violation"
    assert result.score == 0 and result.carry_forward_score == 0
    assert not any(t.root_cause or t.fingerprint for t in result.tensors)


def test_non_contiguous_correct_values_are_not_diagnosed(sandbox: Sandbox) -> None:
    src = wrapped("ex1/lecture.py",
                  "    out['W2'] = out['W2'].T.contiguous().T\n"
                  "    big = torch.zeros(t.n, 2 * t.h.shape[1])\n"
                  "    big[:, ::2] = out['h']\n"
                  "    out['h'] = big[:, ::2]\n")
    result = run(EX1, src, sandbox)
    assert result.score == EX1.max_score, failing(result)
    assert not any(t.diagnosis or t.fingerprint for t in result.tensors)


# -- exceptions in some cases --------------------------------------------------------------

RAISE_AT_7 = "    if t.n == 7:\n        raise ValueError('boom')\n"
SIGN_BUG = ("dbnmeani = (-dbndiff).sum(0, keepdim=True)", "dbnmeani = dbndiff.sum(0, keepdim=True)")


def test_exception_in_one_hidden_case_only(sandbox: Sandbox) -> None:
    result = run(EX1, wrapped("ex1/lecture.py", RAISE_AT_7, edit=SIGN_BUG), sandbox)
    assert result.status == "graded" and result.score == 0
    assert "boom" in result.message and "hidden case 2" in result.message
    # The other cases are still diagnosed: the sign bug is found on its own line.
    assert {t.name for t in result.tensors if t.root_cause} == {"bnmeani"}
    bnmeani = tensor(result, "bnmeani")
    assert bnmeani.fingerprint == "sign" and bnmeani.line is not None
    for t in result.tensors:
        if t.status == "missing":
            # The crash is told once, in the summary; each tensor only points at it.
            assert "boom" not in t.message and "not returned" in t.message, t.message
            assert "hidden case 2" in t.message and t.fingerprint is None, t.name
            assert "backward raised for n = 7" in t.diagnosis, t.diagnosis


def test_exception_in_one_hidden_case_of_a_correct_file(sandbox: Sandbox) -> None:
    result = run(EX1, wrapped("ex1/lecture.py", RAISE_AT_7), sandbox)
    assert result.status == "graded" and result.score == 0
    assert all(t.status == "missing" for t in result.tensors)
    assert not any(t.root_cause or t.fingerprint for t in result.tensors)
    # What the cases that ran showed is kept: every tensor was right there.
    for t in result.tensors:
        assert t.diagnosis.startswith(f"d{t.name} was right in the 3 cases that ran"), \
            t.diagnosis
    # Only n = 7 raised (n = 24 ran): not the pattern of a hard-coded batch size.
    assert "hard-coded" not in result.message
    assert result.message.count("boom") == 1
    assert result.carry_forward_score == 0


def test_a_bug_never_raises_the_carry_forward_score(sandbox: Sandbox) -> None:
    clean = run(EX1, wrapped("ex1/lecture.py", RAISE_AT_7), sandbox)
    buggy = run(EX1, wrapped("ex1/lecture.py", RAISE_AT_7, edit=SIGN_BUG), sandbox)
    assert buggy.carry_forward_score <= clean.carry_forward_score


# -- everything wrong ----------------------------------------------------------------------

NOISE = ("    g = torch.Generator().manual_seed(t.n)\n"
         "    out = {k: v + torch.randn(v.shape, generator=g) * (v.abs().max() + 1e-3)\n"
         "           for k, v in out.items()}\n")


@pytest.mark.parametrize(("exercise", "path"), [(EX1, "ex1/lecture.py"),
                                                (EX4, "ex4/lecture.py"),
                                                (EX2, "ex2/lecture.py")],
                         ids=["ex1", "ex4", "ex2"])
def test_every_tensor_wrong_by_a_random_matrix(exercise, path: str, sandbox: Sandbox) -> None:
    result = run(exercise, wrapped(path, NOISE), sandbox)
    assert result.status == "graded" and result.score == 0
    assert result.carry_forward_score == 0
    for t in result.tensors:
        assert t.status == "wrong", (t.name, t.status)
        assert t.root_cause, t.name
        assert t.fingerprint in ("unclassified", "partial"), (t.name, t.fingerprint,
                                                              t.diagnosis)
        assert t.diagnosis, t.name
    # (what diagnosing every tensor costs is measured in bench/diagnosis_bench.py)
    plain = run(exercise, wrapped(path, NOISE), sandbox, diagnose=False)
    assert not any(t.diagnosis for t in plain.tensors)


@pytest.mark.parametrize("scale", ["0.0", "1e-30"], ids=["zeros", "tiny"])
def test_vanishing_gradients_cannot_game_carry_forward(scale: str, sandbox: Sandbox) -> None:
    """Zeros (or 1e-30 × the truth) everywhere make every linear formula "right given the
    upstream": they are inherited, but earn no carry-forward credit."""
    src = wrapped("ex1/lecture.py", f"    out = {{k: v * {scale} for k, v in out.items()}}\n")
    result = run(EX1, src, sandbox)
    assert [t.name for t in result.tensors if t.root_cause] == ["logprobs"]
    assert result.carry_forward_score <= result.score + 1, result.carry_forward_score
    probs = tensor(result, "probs")
    assert probs.locally_correct is True and "no carry-forward credit" in probs.diagnosis


def test_a_real_upstream_error_still_earns_carry_forward(sandbox: Sandbox) -> None:
    """Control for the test above: a factor 1/1000 on dlogprobs still shows every method."""
    src = wrapped("ex1/lecture.py", "", edit=("dlogprobs[range(n), t.Yb] = -1.0 / n",
                                              "dlogprobs[range(n), t.Yb] = -1.0 / n / 500"))
    result = run(EX1, src, sandbox)
    assert [t.name for t in result.tensors if t.root_cause] == ["logprobs"]
    assert result.carry_forward_score == 25, result.carry_forward_score


def test_without_diagnosis_the_carry_forward_score_is_unknown(sandbox: Sandbox) -> None:
    """diagnose=False (or a diagnosis that failed soft) must not report 0 as if computed."""
    src = (CORPUS / "ex1/bug_no_1_over_n.py").read_text()
    result = run(EX1, src, sandbox, diagnose=False)
    assert result.carry_forward_score is None
    assert result.score > 0 and not any(t.root_cause for t in result.tensors)
    assert run(EX1, src, sandbox).carry_forward_score == 25

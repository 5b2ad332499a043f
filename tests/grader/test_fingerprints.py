"""One hypothesis at a time: every fingerprint on synthetic Evidence, each with a near miss.

A fingerprint names a student's mistake, so a false match misleads as much as a missed one:
every test below has a positive case and a negative case that is close to it but must not
match. Also: the naming of constant factors (``times``), the line pointer
(``assignment_line``) and ``conclude``'s hard-coded size pattern over cases.
"""

from __future__ import annotations

import pytest
import torch

from grader.diagnosis import CODES, conclude
from grader.diagnosis import fingerprints as fp
from grader.diagnosis.case import ABSENT, INHERITED, ROOT, CaseVerdict
from grader.diagnosis.findings import Diagnosis, Finding, times
from grader.diagnosis.graph import Arrival
from grader.diagnosis.lines import assignment_line
from grader.exercise import Case

N, K = 32, 8


def rand(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def ev(student: torch.Tensor, expected: torch.Tensor, *, name: str = "x", n: int | dict = N,
       value: torch.Tensor | None = None, branches: dict | None = None,
       entered=None, upstream: dict | None = None) -> fp.Evidence:
    return fp.Evidence(name, student, expected,
                       value if value is not None else torch.zeros_like(expected), n,
                       branches or {}, entered or (lambda node: None), upstream or {})


def arrival(grad: torch.Tensor, broadcast: torch.Tensor | None = None,
            via=None) -> Arrival:
    return Arrival(grad, broadcast if broadcast is not None else grad, via)


def code(finding: Finding | None) -> str | None:
    return finding.code if finding else None


# -- shape fingerprints --------------------------------------------------------------------

def test_transposed() -> None:
    e = rand(5, 3)
    found = fp.transposed(ev(e.T.clone(), e, name="W2"))
    assert code(found) == "transpose"
    assert "(3, 5) instead of (5, 3)" in found.text and "dW2" in found.text
    # Near misses: the right elements in the transposed shape but not transposed (a
    # reshape), and a transposed shape with other values.
    assert fp.transposed(ev(e.reshape(3, 5), e)) is None
    assert fp.transposed(ev(rand(3, 5, seed=1), e)) is None
    assert fp.transposed(ev(e.T.reshape(-1), e)) is None  # 1-D: not a transpose


def test_sum_shape_missing_keepdim() -> None:
    e = rand(1, K)
    found = fp.sum_shape(ev(e.reshape(K), e, name="bngain"))
    assert code(found) == "missing_keepdim"
    assert f"({K},) instead of (1, {K})" in found.text
    # Near miss: the keepdim shape mistake, but with other values.
    assert fp.sum_shape(ev(2 * e.reshape(K), e)) is None


def test_sum_shape_not_summed_and_wrong_dim() -> None:
    wide = rand(N, K)
    e = wide.sum(0, keepdim=True)
    branches = {"hpreact": arrival(e, wide)}
    found = fp.sum_shape(ev(wide.clone(), e, name="bnbias", branches=branches))
    assert code(found) == "not_summed"
    assert f"({N}, {K})" in found.text
    found = fp.sum_shape(ev(wide.sum(1, keepdim=True), e, branches=branches))
    assert code(found) == "wrong_sum_dim"
    assert "dimension 1" in found.text
    found = fp.sum_shape(ev(wide.sum(1), e, branches=branches))
    assert code(found) == "wrong_sum_dim"
    # Near misses: the broadcast shape / the wrong dim's shape, with values that are not it.
    assert fp.sum_shape(ev(wide + 1, e, branches=branches)) is None
    assert fp.sum_shape(ev(wide.mean(1, keepdim=True), e, branches=branches)) is None
    # Without the branch's wide gradient there is nothing to compare an unsummed value with.
    assert fp.sum_shape(ev(wide.clone(), e)) is None


def test_other_shape_always_matches_and_only_shapes_dispatch_to_it() -> None:
    e = rand(N, K)
    found = fp.other_shape(ev(rand(3, 3), e))
    assert code(found) == "shape"
    assert f"(3, 3) instead of ({N}, {K})" in found.text
    # fingerprint(): a wrong shape always ends in some shape code ...
    assert code(fp.fingerprint(ev(rand(3, 3), e))) == "shape"
    # ... and a right-shaped value never does (no "shape" for a value mistake).
    assert code(fp.fingerprint(ev(rand(N, K, seed=5), e))) is None


# -- value fingerprints --------------------------------------------------------------------

@pytest.mark.parametrize(("factor", "want"), [
    (N, "scale_1_over_n"), (1 / N, "scale_1_over_n"), (-N, "scale_1_over_n"),
    ((N - 1) / N, "bessel"), (N / (N - 1), "bessel"), (-1.0, "sign"),
    (2.0, "factor_2"), (0.5, "factor_2"), (1.5, "constant_factor"),
    (-3.0, "constant_factor"),
])
def test_constant_factor(factor: float, want: str) -> None:
    e = rand(N, K)
    found = fp.constant_factor(ev(factor * e, e, name="bnvar"))
    assert code(found) == want
    assert found.text.startswith("dbnvar is ")


def test_constant_factor_near_misses() -> None:
    e = rand(N, K)
    assert fp.constant_factor(ev(e.clone(), e)) is None  # factor 1: nothing to explain
    assert fp.constant_factor(ev(1.0004 * e, e)) is None  # within noise of 1
    noisy = 2 * e + 0.05 * rand(N, K, seed=3)  # twice, plus 2.5% noise: no clean factor
    assert fp.constant_factor(ev(noisy, e)) is None
    half_rows = e.clone()
    half_rows[: N // 2] *= 2  # a factor on some rows only
    assert fp.constant_factor(ev(half_rows, e)) is None
    assert fp.constant_factor(ev(rand(N, K), torch.zeros(N, K))) is None  # no direction


def test_factor_1_5_is_constant_factor_not_factor_2() -> None:
    e = rand(N, K)
    found = fp.constant_factor(ev(1.5 * e, e))
    assert code(found) == "constant_factor"
    assert "1.5" in found.text


def test_missing_branch() -> None:
    via_probs, via_sum = rand(N, K, seed=1), rand(N, K, seed=2)
    e = via_probs + via_sum
    branches = {"probs": arrival(via_probs), "counts_sum": arrival(via_sum)}
    found = fp.missing_branch(ev(via_sum.clone(), e, name="counts", branches=branches))
    assert code(found) == "overwrite_branch"
    assert "through dcounts_sum" in found.text and "dprobs is missing" in found.text
    # Three consumers, one lost: expected − lost.
    third = rand(N, K, seed=3)
    three = {**branches, "other": arrival(third)}
    found = fp.missing_branch(ev(via_probs + via_sum, e + third, branches=three))
    assert code(found) == "overwrite_branch"
    assert "dother" in found.text
    # Near misses: half of one branch added, and a single-consumer tensor.
    assert fp.missing_branch(ev(via_sum + 0.5 * via_probs, e, branches=branches)) is None
    assert fp.missing_branch(ev(via_sum.clone(), e,
                                branches={"probs": arrival(via_sum)})) is None


def embedding_evidence(student_of) -> tuple[fp.Evidence, torch.Tensor]:
    """A real C[Xb] node: tokens 0..5 once, 6 and 7 three times each, 8..9 unused."""
    C = rand(10, 4).requires_grad_()
    Xb = torch.tensor([[0, 6, 1], [2, 6, 3], [7, 4, 6], [7, 5, 7]])
    emb = C[Xb]
    demb = rand(*emb.shape, seed=9)
    expected = torch.zeros(10, 4).index_add_(0, Xb.reshape(-1), demb.reshape(-1, 4))
    branches = {"emb": arrival(expected, expected, emb.grad_fn)}
    evidence = ev(student_of(Xb, demb, expected), expected, name="C", n=4, branches=branches)
    evidence.entered = lambda node: demb if node is emb.grad_fn else None
    return evidence, expected


def test_embedding_duplicates() -> None:
    def fancy_assign(Xb, demb, expected):
        out = torch.zeros(10, 4)
        out[Xb.reshape(-1)] = demb.reshape(-1, 4)  # one write per repeated row
        return out

    evidence, _ = embedding_evidence(fancy_assign)
    found = fp.embedding_duplicates(evidence)
    assert code(found) == "embedding_duplicates"
    assert "wrong for 2 " in found.text and "rows 6, 7" in found.text


def test_embedding_duplicates_near_misses() -> None:
    def wrong_single_row(Xb, demb, expected):
        out = expected.clone()
        out[2] += 1.0  # token 2 appears once: not a duplicate-index mistake
        return out

    evidence, _ = embedding_evidence(wrong_single_row)
    assert fp.embedding_duplicates(evidence) is None
    evidence, expected = embedding_evidence(lambda Xb, demb, e: e.clone())
    assert fp.embedding_duplicates(evidence) is None  # nothing wrong
    # The same rows wrong, but the branch is not an index: no embedding to blame.
    def fancy(Xb, demb, e):
        out = e.clone()
        out[6] = 0
        return out

    evidence, expected = embedding_evidence(fancy)
    evidence.branches = {"emb": arrival(expected, expected, None)}
    assert fp.embedding_duplicates(evidence) is None


def test_embedding_duplicates_must_explain_the_whole_difference() -> None:
    """An upstream error that adds up over repeated tokens is no index mistake (ex4's
    Bessel slip: rows of single tokens stay under the tolerance, repeated ones cross it)."""
    def accumulated_small_error(Xb, demb, expected):
        # A small error on every contribution (0.7 of the tolerance), summed per row: three
        # of them cross the tolerance, one does not.
        tol = fp.FIT_ATOL + fp.FIT_RTOL * float(expected.abs().max())
        off = demb + 0.7 * tol
        return torch.zeros(10, 4).index_add_(0, Xb.reshape(-1), off.reshape(-1, 4))

    evidence, expected = embedding_evidence(accumulated_small_error)
    assert fp._wrong_rows(evidence.student, expected)  # some rows do cross the tolerance
    assert fp.embedding_duplicates(evidence) is None


def tanh_evidence(student_of) -> fp.Evidence:
    x = (2 * rand(N, K)).requires_grad_()  # |x| often > 1: 1 − x² and 1 − tanh² differ
    h = torch.tanh(x)
    dh = rand(N, K, seed=4)
    y = h.detach()
    xv = x.detach()
    expected = (1 - y**2) * dh
    node = h.grad_fn

    def entered(n):
        return dh if n is node else None

    return ev(student_of(xv, y, dh, expected), expected, name="hpreact", value=xv,
              branches={"h": arrival(expected, expected, node)}, entered=entered)


def test_tanh_wrong_tensor() -> None:
    found = fp.derivative_on_wrong_tensor(tanh_evidence(lambda x, y, dh, e: (1 - x**2) * dh))
    assert code(found) == "tanh_wrong_tensor"
    assert "1 - hpreact**2" in found.text and "1 - h**2" in found.text


def test_tanh_wrong_tensor_near_misses() -> None:
    # Another wrong derivative (1 − |x|), and tanh itself instead of its derivative.
    wrong_formula = tanh_evidence(lambda x, y, dh, e: (1 - x.abs()) * dh)
    assert fp.derivative_on_wrong_tensor(wrong_formula) is None
    assert fp.derivative_on_wrong_tensor(tanh_evidence(lambda x, y, dh, e: y * dh)) is None
    # The right formula on the input, but nothing recorded what entered the tanh node.
    evidence = tanh_evidence(lambda x, y, dh, e: (1 - x**2) * dh)
    evidence.entered = lambda node: None
    assert fp.derivative_on_wrong_tensor(evidence) is None


def elementwise_evidence(op, x: torch.Tensor, student_of, *, x_name: str = "x",
                         y_name: str = "y") -> fp.Evidence:
    """Evidence for the input ``x`` of a real elementwise node ``y = op(x)``."""
    x = x.clone().requires_grad_()
    y = op(x)
    dy = rand(*x.shape, seed=6)
    xv, yv = x.detach(), y.detach()
    (expected,) = torch.autograd.grad(y, x, dy, retain_graph=True)
    node = y.grad_fn
    return ev(student_of(xv, yv, dy, expected), expected, name=x_name, value=xv,
              branches={y_name: arrival(expected, expected, node)},
              entered=lambda n: dy if n is node else None)


@pytest.mark.parametrize(("op", "x", "wrong", "words"), [
    (torch.exp, 2 * rand(N, K), lambda x, y, dy: x * dy, "exp is its own derivative"),
    (torch.log, 2 + 3 * rand(N, K).abs(), lambda x, y, dy: dy / y, "1 over its input"),
    (lambda v: v**2, rand(N, K) + 1.5, lambda x, y, dy: 2 * y * dy, "power rule"),
    (lambda v: v**-1, rand(N, K).abs() + 0.5, lambda x, y, dy: -(y**-2) * dy,
     "power rule"),
], ids=["exp", "log", "square", "inverse"])
def test_derivative_on_wrong_tensor(op, x, wrong, words) -> None:
    found = fp.derivative_on_wrong_tensor(
        elementwise_evidence(op, x, lambda x, y, dy, e: wrong(x, y, dy)))
    assert code(found) == "derivative_wrong_tensor"
    assert words in found.text and found.text.startswith("dx uses ")
    # Near misses: the right derivative, and another wrong one (a factor of 2 off).
    assert fp.derivative_on_wrong_tensor(
        elementwise_evidence(op, x, lambda x, y, dy, e: e.clone())) is None
    assert fp.derivative_on_wrong_tensor(
        elementwise_evidence(op, x, lambda x, y, dy, e: 2 * e)) is None


def test_derivative_on_wrong_tensor_ignores_other_nodes() -> None:
    """A node with no known wrong-tensor twin (a product) matches nothing."""
    x = rand(N, K)
    other = rand(N, K, seed=2)
    evidence = elementwise_evidence(lambda v: v * other, x,
                                    lambda x, y, dy, e: x * dy)
    assert fp.derivative_on_wrong_tensor(evidence) is None


def test_partial_rows() -> None:
    e = rand(N, K)
    s = e.clone()
    s[[2, 5]] += 1.0
    found = fp.partial(ev(s, e, name="h"))
    assert code(found) == "partial"
    assert found.text == f"dh is right in {N - 2} rows and wrong in 2: rows 2, 5"


def test_partial_columns_and_long_listing() -> None:
    e = rand(N, K)
    s = e.clone()
    s[:, 3] += 1.0
    found = fp.partial(ev(s, e))
    assert code(found) == "partial" and found.text.endswith("columns 3")
    s = e.clone()
    s[:20] *= -1
    found = fp.partial(ev(s, e))
    assert "wrong in 20: rows 0, 1, 2, 3, 4, 5, 6, 7, … (20 in all)" in found.text


def test_partial_names_the_column_even_when_one_of_its_entries_is_right() -> None:
    """One wrong column with one entry right by chance: 'column 3', not 'N − 1 rows'."""
    e = rand(N, K)
    s = e.clone()
    s[:, 3] += 1.0
    s[4, 3] = e[4, 3]
    found = fp.partial(ev(s, e))
    assert code(found) == "partial" and found.text.endswith("columns 3"), found.text


def test_partial_near_misses() -> None:
    e = rand(N, K)
    assert fp.partial(ev(e + 1.0, e)) is None  # every row and every column wrong
    assert fp.partial(ev(e.clone(), e)) is None  # nothing wrong
    s = e.clone().reshape(-1)
    s[:3] += 1
    assert fp.partial(ev(s, e.reshape(-1))) is None  # 1-D: no rows to name


def test_non_finite() -> None:
    e = rand(N, K)
    s = e.clone()
    s[0, 0], s[1, 1], s[2, 2] = float("nan"), float("inf"), float("-inf")
    found = fp.fingerprint(ev(s, e, name="bnvar"))
    assert code(found) == "nan"
    assert f"3 NaN or infinite value(s) of {N * K}" in found.text
    # Near miss: a finite value that is merely large is no NaN finding.
    s = e.clone()
    s[0, 0] = 1e30
    assert code(fp.fingerprint(ev(s, e))) != "nan"


def test_fingerprint_order_and_codes() -> None:
    e = rand(N, K)
    # A sign flip is also "wrong on every row": the specific hypothesis wins.
    assert code(fp.fingerprint(ev(-e, e))) == "sign"
    assert code(fp.fingerprint(ev(e.T.clone(), e))) == "transpose"
    assert code(fp.fingerprint(ev(rand(N, K, seed=8), e))) is None
    # LAST: partial is only tried on request.
    s = e.clone()
    s[0] += 1
    assert code(fp.fingerprint(ev(s, e))) is None
    assert code(fp.fingerprint(ev(s, e), fp.LAST)) == "partial"
    with pytest.raises(ValueError, match="unknown fingerprint code"):
        Finding("no_such_code", "x")


# -- times: naming a factor ----------------------------------------------------------------

@pytest.mark.parametrize(("factor", "n", "want", "phrase"), [
    (32, 32, "scale_1_over_n", "n = 32 times too big"),
    (1 / 32, 32, "scale_1_over_n", "n = 32 times too small"),
    (-32, 32, "scale_1_over_n", "sign is flipped"),
    (7, 7, "scale_1_over_n", "n = 7 times too big"),
    (31 / 32, 32, "bessel", "(n−1)/n"),
    (32 / 31, 32, "bessel", "n/(n−1)"),
    (6 / 7, 7, "bessel", "(n−1)/n"),
    (-1.0, 32, "sign", "sign flipped"),
    (2.0, 32, "factor_2", "twice"),
    (0.5, 32, "factor_2", "half"),
])
def test_times_names_factors(factor, n, want, phrase) -> None:
    named = times(factor, n)
    assert named is not None and named[0] == want
    assert phrase in named[1]
    assert named[0] in CODES


def test_times_near_misses() -> None:
    assert times(1.5, 32) is None
    assert times(1.0, 32) is None
    assert times(3.0, 32) is None
    assert times(32, 7) is None  # a factor of 32 in a case of n = 7 is no 1/n
    assert times(7 / 8, 7) is None  # Bessel of n = 8 in a case of n = 7 (2 % away)
    assert times(1.95, 32) is None  # 2.5 % from 2


def test_times_bessel_of_32_is_not_bessel_of_31() -> None:
    assert times(31 / 32, 32)[0] == "bessel"
    assert times(31 / 32, 31) is None
    assert times(32 / 31, 31) is None


def test_times_of_batch_size_one_names_nothing() -> None:
    assert times(2.0, 1) is None


# -- assignment_line -----------------------------------------------------------------------

@pytest.mark.parametrize(("source", "name", "want"), [
    ("x = 1\ndW1 = embcat.T @ dhprebn\n", "W1", 2),
    ("def backward(t):\n    db2 = dlogits.sum(0)\n", "b2", 2),
    ("dbnvar = a\n", "bnvar", 1),
    ("dhpreact *= 2\n", "hpreact", 1),
    ("dC[ix] += demb[k, j]\n", "C", 1),
    ("dC = torch.zeros_like(t.C)\ndC[ix] += demb[k, j]\n", "C", None),  # two lines
    ("dcounts = a\ndcounts += b\n", "counts", None),
    ("if dW1 == x:\n    pass\n", "W1", None),  # a comparison, not an assignment
    ("if dW1 == x:\n    pass\ndW1 = y\n", "W1", 3),
    ("dW10 = 1\n", "W1", None),  # another name that starts alike
    ("W1 = 1\n", "W1", None),  # the forward name itself
    ("dW1.add_(x)\n", "W1", None),
    ("", "W1", None),
])
def test_assignment_line(source: str, name: str, want: int | None) -> None:
    assert assignment_line(source, name) == want


def test_assignment_line_nested_index_counts() -> None:
    src = ("dC = torch.zeros_like(t.C)\nfor k in range(n):\n"
           "    dC[t.Xb[k, j]] += demb[k, j]\n")
    assert assignment_line(src, "C") is None


# -- conclude ------------------------------------------------------------------------------

CASES = [
    Case("public", 1, 32, False, {"n_hidden": 64}),
    Case("hidden-1", 2, 32, True, {"n_hidden": 64}),
    Case("hidden-2", 3, 7, True, {"n_hidden": 64}),
    Case("hidden-3", 4, 24, True, {"n_hidden": 40}),
]
BY_NAME = {c.name: c for c in CASES}
SIGN = Finding("sign", "dx is the right value with the sign flipped")


def roots_in(*names: str, finding: Finding | None = SIGN) -> list:
    return [(BY_NAME[n], {"x": CaseVerdict(ROOT, finding)}) for n in names]


def test_conclude_hardcoded_batch() -> None:
    (diag,) = conclude(["x"], CASES, roots_in("hidden-2", "hidden-3"), "dx = a\n").values()
    assert diag.root_cause and diag.locally_correct is False
    assert diag.code == "hardcoded_batch"
    assert "right for n = 32 and wrong for n = 7 and 24" in diag.finding.text
    assert diag.line == 1 and diag.text().endswith("(likely line 1)")


def test_conclude_hardcoded_hidden_width() -> None:
    (diag,) = conclude(["x"], CASES, roots_in("hidden-3"), "").values()
    assert diag.code == "hardcoded_size"
    assert "n_hidden = 64 and wrong for n_hidden = 40" in diag.finding.text
    assert diag.line is None  # no line assigns dx


def test_conclude_not_hardcoded() -> None:
    # Wrong in the public case too: a plain mistake, whatever the hidden cases say.
    diag = conclude(["x"], CASES, roots_in("public", "hidden-2", "hidden-3"), "")["x"]
    assert diag.code == "sign"
    # Wrong at n = 7 only, right at n = 24: no size explains it.
    diag = conclude(["x"], CASES, roots_in("hidden-2"), "")["x"]
    assert diag.code == "sign"
    # Wrong in a case of the public size (another seed): not a size.
    diag = conclude(["x"], CASES, roots_in("hidden-1", "hidden-2", "hidden-3"), "")["x"]
    assert diag.code == "sign"
    # No fingerprint anywhere: unclassified, still a root cause.
    diag = conclude(["x"], CASES, roots_in("public", finding=None), "")["x"]
    assert diag.root_cause and diag.code == "unclassified"
    # Only one case: nothing to compare sizes with.
    diag = conclude(["x"], CASES[:1], roots_in("public", finding=None), "")["x"]
    assert diag.code == "unclassified"


def test_conclude_inherited_absent_and_untouched() -> None:
    verdicts = [(CASES[0], {"y": CaseVerdict(INHERITED, note="inherited: dy is right"),
                            "z": CaseVerdict(ABSENT, Finding("missing_key", "dz missing"))}),
                (CASES[2], {"y": CaseVerdict(INHERITED, note="inherited: other")})]
    out = conclude(["x", "y", "z"], CASES, verdicts, "dy = 1\ndz = 2\n")
    assert set(out) == {"y", "z"}  # x never failed: no diagnosis at all
    y, z = out["y"], out["z"]
    assert not y.root_cause and y.locally_correct is True and y.code is None
    assert y.text() == "inherited: dy is right" and y.line is None
    assert not z.root_cause and z.locally_correct is None and z.code == "missing_key"
    assert z.line is None  # only root causes point at a line


def test_conclude_root_anywhere_beats_inherited() -> None:
    verdicts = [(CASES[0], {"x": CaseVerdict(INHERITED, note="inherited")}),
                *roots_in("hidden-2")]
    diag = conclude(["x"], CASES, verdicts, "")["x"]
    assert diag.root_cause and diag.locally_correct is False


def test_conclude_unlocated_finding_names_no_line() -> None:
    finding = Finding("sign", "dx is flipped — on this line or upstream", located=False)
    diag = conclude(["x"], CASES, roots_in("public", finding=finding), "dx = -a\n")["x"]
    assert diag.line is None
    # A finding located at an intermediate points at that intermediate's line.
    finding = Finding("sign", "dx is what you get when dh is flipped", at="h")
    diag = conclude(["x"], CASES, roots_in("public", finding=finding), "dx = a\ndh = -b\n")["x"]
    assert diag.line == 2


def test_diagnosis_text() -> None:
    assert Diagnosis().text() is None
    assert Diagnosis(note="inherited: n").text() == "inherited: n"
    assert Diagnosis(finding=SIGN, line=4).text() == f"{SIGN.text} (likely line 4)"


# -- sizes beyond the batch, and the hypotheses other packs need -----------------------------

SIZES = {"n": 8, "T": 4, "C": 12}


@pytest.mark.parametrize(("factor", "want", "phrase"), [
    (12, "scale_1_over_n", "C = 12 times too big: a 1/C is missing"),
    (32, "scale_1_over_n", "n·T = 32 times too big"),
    (1 / 32, "scale_1_over_n", "n·T = 32 times too small"),
    (12 / 11, "bessel", "C/(C−1)"),
    (31 / 32, "bessel", "(n·T−1)/(n·T)"),
    (12**0.5, "constant_factor", "√C"),
])
def test_times_names_the_size(factor, want, phrase) -> None:
    named = times(factor, SIZES)
    assert named is not None and named == (want, named[1]) and phrase in named[1], named


def test_times_two_readings_of_two_classes_name_no_class() -> None:
    """×2 where hs = 4: the missing 1/√hs scale or a doubled term — not guessed."""
    code_, text = times(2.0, {"n": 3, "hs": 4})
    assert code_ == "unclassified" and "√hs" in text and "twice" in text
    assert times(2.0, {"n": 3, "hs": 6}) == ("factor_2", times(2.0, 32)[1])
    # Two sizes of one value, one class: named, with both names.
    code_, text = times(8.0, {"n": 8, "T": 8})
    assert code_ == "scale_1_over_n" and "n or T" in text


def test_transposed_square_and_permuted() -> None:
    e = rand(6, 6)
    assert code(fp.transposed_square(ev(e.T.clone(), e, name="Wo"))) == "transpose"
    assert fp.transposed_square(ev(e + 1, e)) is None
    e4 = rand(2, 3, 5, 4)
    found = fp.transposed(ev(e4.transpose(1, 2).contiguous(), e4, name="qh"))
    assert code(found) == "transpose" and "(0, 2, 1, 3)" in found.text
    assert fp.transposed(ev(e4.reshape(2, 5, 3, 4), e4)) is None  # a reshape is no permute


def test_not_summed_keeps_dimensions_the_tensor_lacks() -> None:
    wide = rand(4, 12)
    found = fp.sum_shape(ev(wide, wide.sum(0), name="gamma"))
    assert code(found) == "not_summed" and "dimension 0" in found.text
    per_example = rand(3, 5, 4)
    assert code(fp.sum_shape(ev(per_example, per_example.sum(0)))) == "not_summed"
    assert fp.sum_shape(ev(rand(4, 12), rand(12))) is None  # other values: no sum explains


def test_wrong_sum_dim_of_the_one_consumer() -> None:
    dh = rand(3, 5, 12)
    found = fp.sum_shape(ev(dh.sum((0, 1)), dh.sum((0, 2)), name="b",
                            upstream={"h": dh}))
    assert code(found) == "wrong_sum_dim" and "dimensions 0, 2" in found.text


def test_branch_factor() -> None:
    via_a, via_b = rand(N, K), rand(N, K, seed=1)
    branches = {"xhat": arrival(via_a), "ms": arrival(via_b)}
    found = fp.branch_factor(ev(via_a + 12 * via_b, via_a + via_b, name="x",
                                n=SIZES, branches=branches))
    assert code(found) == "scale_1_over_n" and "through dms" in found.text
    assert fp.branch_factor(ev(via_a + via_b + rand(N, K, seed=2), via_a + via_b,
                               branches=branches)) is None
    assert fp.branch_factor(ev(via_a, via_a + via_b, branches=branches)) is None  # lost


def test_layout_reshaped_in_memory_order() -> None:
    B, nh, T, hs = 2, 3, 4, 5
    dqh = rand(B, nh, T, hs)
    right = dqh.transpose(1, 2).reshape(B, T, nh * hs)
    found = fp.layout(ev(dqh.reshape(B, T, nh * hs), right, name="q", upstream={"qh": dqh}))
    assert code(found) == "shape" and "memory order" in found.text
    assert fp.layout(ev(right + 1, right, upstream={"qh": dqh})) is None


def test_partial_rows_of_more_dimensions() -> None:
    e = rand(2, 4, 4)
    s = e.clone()
    s[:, :3] += 1.0  # only each batch item's last row right
    found = fp.partial(ev(s, e, name="masked"))
    assert code(found) == "partial" and "right in 2 rows" in found.text and "(0, 0)" in found.text
    tiny = e.clone()
    tiny[:, 3] *= 1e-6  # the "right" rows are near zero: they show nothing
    s = tiny.clone()
    s[:, :3] += 1.0
    assert fp.partial(ev(s, tiny)) is None


def test_derivative_written_on_minus_infinity() -> None:
    """exp's derivative taken on its input where the input is -inf (a causal mask): the
    student's NaN and inf sit where the hypothesis puts them."""
    x = rand(N, K)
    x[:, -2:] = float("-inf")
    y = x.exp()
    dy = rand(N, K, seed=3)
    node = torch.exp(x.clone().requires_grad_()).grad_fn
    evidence = ev(x * dy, y * dy, name="masked", value=x,
                  branches={"att_exp": arrival(y * dy, y * dy, node)},
                  entered=lambda n: dy if n is node else None)
    assert code(fp.fingerprint(evidence)) == "derivative_wrong_tensor"

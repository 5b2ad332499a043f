"""Acceptance test of diagnosis over the submission corpus, through the real sandbox.

Every corpus file is graded once (module cache). Correct files get no diagnosis at all; a bug
file names exactly its header's root cause, with a known fingerprint, and every other wrong
tensor is "inherited" and locally correct; the planted bug class is recognised; carry-forward
points follow local correctness. Per-file tests name the file that regresses; one test prints
the classification table.
"""

from __future__ import annotations

import logging
import re

import jsonschema
import pytest

from grader import get_exercise, grade
from grader.diagnosis import CODES
from grader.result import NOT_FINITE, PASSING, RESULT_SCHEMA, WRONG, GradeResult
from grader.sandbox import Sandbox
from tests.corpus_files import CorpusFile, corpus

FILES = corpus()
CORRECT = [f for f in FILES if f.kind == "correct"]
BUGS = [f for f in FILES if f.kind == "bug"]
ROOTED = [f for f in BUGS if f.root_cause]
UNROOTED = [f for f in BUGS if not f.root_cause]

#: Share of bug files whose planted class must be among the fingerprints.
RECOGNISED = 0.9

_ASSIGN = re.compile(r"^\s*d(\w+)\s*(\[.*\])?\s*[-+*/@]?=(?!=)")


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


#: Warnings and errors logged while grading the corpus (diagnosis fails soft, logged).
LOGGED = _Records()


@pytest.fixture(scope="module")
def graded(sandbox: Sandbox) -> dict[str, GradeResult]:
    """Grade every corpus file once (same student and secret as tests/exercises)."""
    logger = logging.getLogger("grader")
    logger.addHandler(LOGGED)
    try:
        return {f.id: grade(get_exercise(f.exercise), f.path.read_text(), sandbox=sandbox,
                            student="corpus", secret=b"corpus-secret") for f in FILES}
    finally:
        logger.removeHandler(LOGGED)


def test_diagnosis_never_failed_soft(graded) -> None:
    """grade() swallows a diagnosis crash (logged): over the corpus there must be none."""
    assert not LOGGED.records, [r.getMessage() for r in LOGGED.records]


def roots(result: GradeResult) -> dict[str, str | None]:
    return {t.name: t.fingerprint for t in result.tensors if t.root_cause}


def fingerprints(result: GradeResult) -> set[str]:
    return {t.fingerprint for t in result.tensors if t.fingerprint}


def test_corpus_has_what_this_test_relies_on() -> None:
    assert len(CORRECT) >= 12 and len(BUGS) >= 20
    assert len(ROOTED) >= 15
    assert all(f.bug_class for f in BUGS)


# -- correct files -------------------------------------------------------------------------

@pytest.mark.parametrize("entry", CORRECT, ids=lambda f: f.id)
def test_correct_file_has_no_diagnosis(entry: CorpusFile, graded) -> None:
    result = graded[entry.id]
    assert result.status == "graded", result.message
    assert result.score == result.max_score
    for t in result.tensors:
        assert t.diagnosis is None, (t.name, t.diagnosis)
        assert not t.root_cause, t.name
        assert t.fingerprint is None, (t.name, t.fingerprint)
        assert t.line is None, t.name
        assert t.locally_correct is True, t.name
        assert t.carry_forward_points == t.max_points, t.name
    assert result.carry_forward_score == result.score


# -- bug files -----------------------------------------------------------------------------

@pytest.mark.parametrize("entry", ROOTED, ids=lambda f: f.id)
def test_bug_names_exactly_its_root_cause(entry: CorpusFile, graded) -> None:
    result = graded[entry.id]
    assert set(roots(result)) == {entry.root_cause}, roots(result)


@pytest.mark.parametrize("entry", UNROOTED, ids=lambda f: f.id)
def test_bug_without_a_graded_root_blames_only_its_wrong_tensors(entry: CorpusFile,
                                                                  graded) -> None:
    found = set(roots(graded[entry.id]))
    if entry.exercise == "makemore4/ex4":
        # Only parameters are graded: each wrong one is where the fused mistake shows.
        assert found <= entry.expect_wrong, found - entry.expect_wrong
    else:
        # A missing key or a non-dict return is no tensor's wrong line.
        assert found == set(), found


@pytest.mark.parametrize("entry", BUGS, ids=lambda f: f.id)
def test_bug_diagnoses_are_well_formed(entry: CorpusFile, graded) -> None:
    result = graded[entry.id]
    source = entry.path.read_text().splitlines()
    assert {t.name for t in result.tensors if t.status not in PASSING} == entry.expect_wrong
    for t in result.tensors:
        if t.passed:
            assert t.diagnosis is None and not t.root_cause and t.fingerprint is None, t.name
            continue
        if t.root_cause:
            assert t.fingerprint in CODES, (t.name, t.fingerprint)
            assert t.diagnosis and t.diagnosis.strip(), t.name
            assert t.locally_correct is False, t.name
            assert t.carry_forward_points == 0, t.name
            if t.line is not None:
                # The line pointed at really assigns a gradient.
                assert 1 <= t.line <= len(source), t.line
                assert _ASSIGN.match(source[t.line - 1]), source[t.line - 1]
                assert f"(likely line {t.line})" in t.diagnosis
        elif t.status in (WRONG, NOT_FINITE):
            # A value that is wrong but not on its own line: inherited, with full credit.
            assert t.locally_correct is True, (t.name, t.diagnosis)
            assert t.diagnosis and t.diagnosis.startswith("inherited"), (t.name, t.diagnosis)
            assert t.fingerprint is None, (t.name, t.fingerprint)
            if t.status == NOT_FINITE:
                # NaN below a NaN: consistent, but nothing shows the method — no credit.
                assert t.carry_forward_points == 0, t.name
                assert "no carry-forward credit" in t.diagnosis, t.diagnosis
            else:
                assert t.carry_forward_points == t.max_points, t.name
        else:
            # Missing, or not a tensor at all: nothing to credit, but said why.
            assert t.locally_correct is None, t.name
            assert t.fingerprint in ("missing_key", "wrong_type"), (t.name, t.fingerprint)
            assert t.carry_forward_points == 0, t.name


@pytest.mark.parametrize("entry", BUGS, ids=lambda f: f.id)
def test_planted_bug_class_is_recognised(entry: CorpusFile, graded) -> None:
    assert entry.bug_class in fingerprints(graded[entry.id]), fingerprints(graded[entry.id])


def test_planted_bug_classes_recognised_overall(graded) -> None:
    hits = [f.id for f in BUGS if f.bug_class in fingerprints(graded[f.id])]
    assert len(hits) >= RECOGNISED * len(BUGS), sorted(set(f.id for f in BUGS) - set(hits))


def test_root_cause_fingerprint_is_the_planted_class(graded) -> None:
    """For a file with a root-cause header, the class is the root's own fingerprint."""
    wrong = {f.id: roots(graded[f.id]) for f in ROOTED
             if roots(graded[f.id]).get(f.root_cause) != f.bug_class}
    assert not wrong, wrong


# -- carry-forward -------------------------------------------------------------------------

@pytest.mark.parametrize("entry", FILES, ids=lambda f: f.id)
def test_carry_forward_score_adds_up(entry: CorpusFile, graded) -> None:
    result = graded[entry.id]
    checks = sum(c.points for c in result.checks)
    assert result.carry_forward_score == pytest.approx(
        sum(t.carry_forward_points for t in result.tensors) + checks)
    assert result.score <= result.carry_forward_score <= result.max_score
    for t in result.tensors:
        credit = t.locally_correct and "no carry-forward credit" not in (t.diagnosis or "")
        assert t.carry_forward_points == (t.max_points if credit else 0.0), t.name


def test_carry_forward_of_a_missing_1_over_n(graded) -> None:
    """ex1 without the 1/n: 24 tensors inherit the error; all but dlogprobs get credit."""
    result = graded["ex1/bug_no_1_over_n"]
    assert result.score == 2  # logit_maxes and b1: float-noise gradients pass anyway
    assert result.carry_forward_score == 25
    assert [t.name for t in result.tensors if not t.locally_correct] == ["logprobs"]
    (root,) = [t for t in result.tensors if t.root_cause]
    assert root.fingerprint == "scale_1_over_n"
    assert "n = 32 times too big" in root.diagnosis
    probs = next(t for t in result.tensors if t.name == "probs")
    assert probs.diagnosis.startswith("inherited: dprobs is right given your dlogprobs")


def test_result_json_validates(graded) -> None:
    for entry in FILES:
        data = graded[entry.id].to_json()
        jsonschema.validate(data, RESULT_SCHEMA)
        assert "carry_forward_score" in data
        for t in data["tensors"]:
            assert {"diagnosis", "root_cause", "locally_correct", "fingerprint", "line",
                    "carry_forward_points"} <= set(t)
            if t["fingerprint"] is not None:
                assert t["fingerprint"] in CODES
    # The schema does constrain the new fields.
    bad = graded["ex1/bug_no_1_over_n"].to_json()
    bad["tensors"][0]["root_cause"] = "yes"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, RESULT_SCHEMA)


# -- the classification table --------------------------------------------------------------

def test_print_classification_table(graded, capsys: pytest.CaptureFixture[str]) -> None:
    rows = [("file", "planted class", "root cause", "fingerprint(s)", "line")]
    for f in FILES:
        result = graded[f.id]
        rc = roots(result)
        lines = sorted({t.line for t in result.tensors if t.root_cause and t.line})
        rows.append((f.id, f.bug_class or "(correct)", ", ".join(rc) or "-",
                     ", ".join(sorted(fingerprints(result))) or "-",
                     ", ".join(map(str, lines)) or "-"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    text = "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
                     for r in rows)
    hits = sum(f.bug_class in fingerprints(graded[f.id]) for f in BUGS)
    with capsys.disabled():
        print(f"\n\ndiagnosis of the corpus ({hits}/{len(BUGS)} planted classes recognised)\n"
              + text + "\n")
    assert len(rows) == len(FILES) + 1

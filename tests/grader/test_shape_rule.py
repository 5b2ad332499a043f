"""The "values" shape rule: a gradient of the wrong shape whose values are right after a reshape.

Every result carries its scores under both rules (``score`` and ``values_score``, and the
carry-forward pair), so an instructor who switches an assignment's rule re-ranks past work
without a regrade. Graded through the real sandbox, as the worker grades.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import jsonschema
import pytest
import torch
from rich.console import Console

from cli.report import render
from grader import get_exercise
from grader.exercise import Case
from grader.grade import grade
from grader.judge import Unusable, combine, compare, compare_values
from grader.result import ERROR, RESULT_SCHEMA, SHAPE_MISMATCH, GradeResult, TensorResult
from grader.sandbox import Sandbox

RTOL, ATOL = 1e-4, 1e-6
CORRECT = Path(__file__).parents[1] / "corpus" / "makemore4" / "ex1" / "lecture.py"
KEEPDIM = "    dbnmeani = (-dbndiff).sum(0, keepdim=True)                              # (1, 64)\n"
#: The lecture's own line: shape (64,) for the (1, 64) bnmeani, every value right.
LECTURE = "    dbnmeani = (-dbndiff).sum(0)\n"
NOTE = ("its values are right after a reshape to (1, 64) (they count where the assignment's "
        'shape rule is "values")')


def _sources() -> dict[str, str]:
    source = CORRECT.read_text()
    assert KEEPDIM in source
    slip = source.replace(KEEPDIM, LECTURE)
    # Two more shape mistakes that must not count: a transpose (same element count, values
    # wrong in order) and an unsummed bias gradient (another element count).
    mixed = slip.replace("dW2 = t.h.T @ dlogits", "dW2 = dlogits.T @ t.h") \
        .replace("dbnbias = dhpreact.sum(0, keepdim=True)", "dbnbias = dhpreact")
    assert mixed.count("dlogits.T @ t.h") == 1 and "dbnbias = dhpreact.sum" not in mixed
    return {"slip": slip, "mixed": mixed}


@pytest.fixture(scope="module")
def graded(sandbox: Sandbox) -> dict[str, GradeResult]:
    ex = get_exercise("makemore4/ex1")
    return {k: grade(ex, src, sandbox=sandbox, student="shape", secret=b"shape-secret")
            for k, src in _sources().items()}


def _tensor(result: GradeResult, name: str) -> TensorResult:
    return next(t for t in result.tensors if t.name == name)


# -- through the sandbox --------------------------------------------------------------------

def test_lecture_slip_is_shape_mismatch_whose_values_count(graded) -> None:
    r = graded["slip"]
    t = _tensor(r, "bnmeani")
    assert (t.status, t.points, t.values_match) == (SHAPE_MISMATCH, 0.0, True)
    assert (t.got_shape, t.expected_shape) == ([64], [1, 64])
    assert t.message == f"dbnmeani: got shape (64,), expected (1, 64); {NOTE}"
    # Diagnosis names the slip as the root cause; no carry-forward credit for it.
    assert (t.root_cause, t.fingerprint, t.carry_forward_points) == (True, "missing_keepdim", 0.0)
    # Broadcasting makes (64,) act like (1, 64) downstream: dhprebn and the rest are right.
    assert [x.name for x in r.tensors if not x.passed] == ["bnmeani"]
    assert all(x.values_match is None for x in r.tensors if x.passed)
    assert r.max_score == 26.0
    assert (r.score, r.carry_forward_score) == (25.0, 25.0)
    assert (r.values_score, r.values_carry_forward_score) == (26.0, 26.0)


def test_transpose_and_wrong_element_count_do_not_count(graded) -> None:
    r = graded["mixed"]
    w2, bias, mean = (_tensor(r, n) for n in ("W2", "bnbias", "bnmeani"))
    # (27, 64) for (64, 27): right element count, but the values are wrong after a reshape.
    assert (w2.status, w2.got_shape, w2.values_match) == (SHAPE_MISMATCH, [27, 64], False)
    assert (bias.status, bias.got_shape, bias.values_match) == (SHAPE_MISMATCH, [32, 64], False)
    assert "reshape" not in w2.message and "reshape" not in bias.message
    assert mean.values_match is True
    assert sorted(x.name for x in r.tensors if not x.passed) == ["W2", "bnbias", "bnmeani"]
    assert (r.score, r.values_score) == (23.0, 24.0)
    assert (r.carry_forward_score, r.values_carry_forward_score) == (23.0, 24.0)


def test_a_result_that_could_not_be_graded_scores_zero_under_both_rules(sandbox) -> None:
    r = grade(get_exercise("makemore4/ex1"), "def backward(t):\x00", sandbox=sandbox)
    assert r.status == ERROR
    assert (r.values_score, r.values_carry_forward_score) == (0.0, 0.0)


# -- the result JSON ------------------------------------------------------------------------

def test_json_validates_and_round_trips_the_new_fields(graded) -> None:
    data = json.loads(json.dumps(graded["slip"].to_json()))
    jsonschema.Draft202012Validator(RESULT_SCHEMA).validate(data)
    assert (data["values_score"], data["values_carry_forward_score"]) == (26.0, 26.0)
    by_name = {t["name"]: t for t in data["tensors"]}
    assert by_name["bnmeani"]["values_match"] is True and by_name["W1"]["values_match"] is None
    back = GradeResult.from_json(data)
    assert back.to_json() == data
    assert _tensor(back, "bnmeani").values_match is True


def test_old_json_without_the_fields_loads(graded) -> None:
    data = graded["slip"].to_json()
    del data["values_score"], data["values_carry_forward_score"]
    for t in data["tensors"]:
        del t["values_match"]
    jsonschema.Draft202012Validator(RESULT_SCHEMA).validate(data)
    old = GradeResult.from_json(data)
    assert (old.values_score, old.values_carry_forward_score) == (None, None)
    assert all(t.values_match is None for t in old.tensors)
    assert old.score == 25.0


def test_schema_refuses_a_non_boolean_values_match(graded) -> None:
    data = graded["slip"].to_json()
    data["tensors"][0]["values_match"] = "yes"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, RESULT_SCHEMA)


# -- the judge ------------------------------------------------------------------------------

def test_compare_values_reshapes_to_the_expected_shape() -> None:
    r = torch.randn(1, 64)
    assert compare_values(r, r.view(64), rtol=RTOL, atol=ATOL)
    assert compare_values(r, r.view(64, 1), rtol=RTOL, atol=ATOL)  # same order: it counts
    assert compare_values(r, r.view(64) + 1e-7, rtol=RTOL, atol=ATOL)  # same tolerance rule
    assert not compare_values(r, r.view(64) + 1e-2, rtol=RTOL, atol=ATOL)
    assert not compare_values(r, r.view(64).flip(0), rtol=RTOL, atol=ATOL)


def test_compare_values_needs_the_element_count_finite_floats() -> None:
    r = torch.randn(1, 64)
    assert not compare_values(r, r.expand(32, 64), rtol=RTOL, atol=ATOL)
    assert not compare_values(r, r.view(64)[:32], rtol=RTOL, atol=ATOL)
    assert not compare_values(r, torch.ones(64, dtype=torch.int64), rtol=RTOL, atol=ATOL)
    bad = r.view(64).clone()
    bad[3] = float("nan")
    assert not compare_values(r, bad, rtol=RTOL, atol=ATOL)


def test_compare_values_refuses_a_transpose_of_a_matrix() -> None:
    r = torch.randn(64, 27)
    assert not compare_values(r, r.T.contiguous(), rtol=RTOL, atol=ATOL)
    assert compare_values(r, r.reshape(27, 64), rtol=RTOL, atol=ATOL)


def test_compare_records_values_match_on_a_shape_mismatch_only() -> None:
    r = torch.randn(1, 64)
    assert compare("m", r, r.view(64), rtol=RTOL, atol=ATOL).values_match
    assert not compare("m", r, -r.view(64), rtol=RTOL, atol=ATOL).values_match
    assert not compare("m", r, r.clone(), rtol=RTOL, atol=ATOL).values_match  # exact
    # The sandbox's way: an Unusable for the mis-shaped entry, its tensor as ``misshaped``.
    shape = Unusable(SHAPE_MISMATCH, "got shape (64,), expected (1, 64)", (64,))
    d = compare("m", r, shape, rtol=RTOL, atol=ATOL, misshaped=r.view(64))
    assert (d.status, d.values_match) == (SHAPE_MISMATCH, True)
    assert d.message == "dm: got shape (64,), expected (1, 64)"
    assert not compare("m", r, shape, rtol=RTOL, atol=ATOL).values_match  # not transferred
    missing = Unusable("missing", "is None")
    assert not compare("m", r, missing, rtol=RTOL, atol=ATOL, misshaped=r.view(64)).values_match


PUBLIC, HIDDEN = Case("public", 1), Case("hidden-2", 2, n=7, hidden=True)


def _diffs(*gots: torch.Tensor) -> list:
    r = torch.arange(4.0).view(1, 4)
    return [(case, compare("m", r, got, rtol=RTOL, atol=ATOL))
            for case, got in zip((PUBLIC, HIDDEN), gots, strict=True)]


def test_combine_credits_a_tensor_wrong_only_for_its_shape() -> None:
    r = torch.arange(4.0).view(1, 4)
    res = combine(_diffs(r.view(4), r.view(4)), 1.0)
    assert (res.status, res.points, res.values_match) == (SHAPE_MISMATCH, 0.0, True)
    assert res.message == ("dm: got shape (4,), expected (1, 4); its values are right after a "
                           "reshape to (1, 4) (they count where the assignment's shape rule "
                           'is "values")')
    # Passing elsewhere is fine; the hidden case is named before the note.
    res = combine(_diffs(r.clone(), r.view(4)), 1.0)
    assert res.values_match is True and res.failed_case == "hidden-2"
    assert res.message.startswith("dm: got shape (4,), expected (1, 4) (in the hidden case 2 "
                                  "(n=7)); its values are right")


def test_combine_does_not_credit_a_tensor_also_wrong_otherwise() -> None:
    r = torch.arange(4.0).view(1, 4)
    res = combine(_diffs(r.view(4), 2 * r), 1.0)  # right after a reshape, then wrong values
    assert (res.status, res.values_match) == (SHAPE_MISMATCH, False)
    assert "reshape" not in res.message
    assert combine(_diffs(2 * r.view(4), r.clone()), 1.0).values_match is False
    assert combine(_diffs(r.clone(), r.clone()), 1.0).values_match is None  # passed


# -- what people see ------------------------------------------------------------------------

def test_terminal_report_notes_the_tensor_and_the_values_score(graded) -> None:
    console = Console(record=True, width=200, color_system=None)
    render(graded["slip"], console)
    out = console.export_text()
    row = next(line for line in out.splitlines() if line.startswith("dbnmeani"))
    assert "shape_mismatch" in row and "values right after a reshape" in row
    assert 'score 25 / 26 (shape rule "values": 26)' in out


def test_store_result_keeps_both_rules_and_the_page_shows_the_note(
        graded, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from flask import render_template

    from web import create_app
    from web.db import db
    from web.models import SHAPE_VALUES, Assignments, Courses, Submissions
    from web.services.gradings import store_result
    from web.services.submissions import create_submission

    monkeypatch.setenv("BACKPROP_HOME", str(tmp_path / "home"))
    app = create_app({"TESTING": True, "SECRET_KEY": secrets.token_urlsafe(16),
                      "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'db.sqlite'}",
                      "REDIS_URL": "redis://127.0.0.1:1/0", "RATELIMIT_STORAGE_URI": "memory://"})
    with app.app_context():
        db.create_all()
        course = Courses(code="SHAPE")
        db.session.add(course)
        db.session.flush()
        a = Assignments(course_id=course.id, exercise_id="makemore4/ex1")
        db.session.add(a)
        db.session.commit()
        created = create_submission(exercise_id="makemore4/ex1", code="# slip",
                                    enqueue=False, assignment_id=a.id)
        sub_id = created.id
        assert store_result(created.current_grading_id, graded["slip"])
        sub = db.session.get(Submissions, sub_id)
        assert (sub.score, sub.carry_forward_score) == (25.0, 25.0)
        assert (sub.values_score, sub.values_carry_forward_score) == (26.0, 26.0)
        rows = {t.name: t.values_match for t in sub.results}
        assert rows["bnmeani"] is True and rows["W1"] is None
        assert sub.counted_score == 25.0
        a.shape_rule = SHAPE_VALUES  # switching the rule re-ranks at once, no regrade
        db.session.commit()
        assert sub.counted_score == 26.0
        with app.test_request_context():
            from web.views.results import decided_by, verdict, whole_run

            html = render_template("results/submission.html", sub=sub, results=sub.results,
                                   problems=[r for r in sub.results if r.name == "bnmeani"],
                                   inherited=[], roots=[], carry_forward=False, checks=[],
                                   review=[], whole_run=whole_run(sub, []),
                                   verdict=verdict(sub), decided=decided_by(sub),
                                   code_lines=[], marks={}, tensor_lines={}, panels={},
                                   own=False)
        db.session.remove()
        db.engine.dispose()
    assert html.count("values right after a reshape</span>") == 2  # table row and card
    row = html.split(">dbnmeani<", 1)[1].split("</tr>", 1)[0]
    assert "values right after a reshape" in row and "<td>1/1</td>" in row  # its points count

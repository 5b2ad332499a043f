"""Diagnosis in the ``backprop`` console script (real subprocesses, as a user runs them):
``check`` names the root cause and its fingerprint, marks inherited errors and prints the
error-carried-forward score; ``assignment scoring`` switches a course's assignment."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from grader.diagnosis import CODES
from grader.result import RESULT_SCHEMA
from tests.corpus_files import CORPUS, parse

BACKPROP = str(Path(sys.executable).with_name("backprop"))
EX1_DIR = CORPUS / "makemore4" / "ex1"
ONE_OVER_N = EX1_DIR / "bug_no_1_over_n.py"
CORRECT = EX1_DIR / "onehot_matmul.py"
#: Seeds the hidden cases: fixed, so the noise-level tensors (logit_maxes, b1) are known.
SECRET = "diagnosis-cli-tests"


def env(**extra: str) -> dict[str, str]:
    return {**os.environ, "COLUMNS": "120", "SECRET_KEY": SECRET, **extra}


def popen(*args: str, **extra_env: str) -> subprocess.Popen[str]:
    return subprocess.Popen([BACKPROP, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env(**extra_env))


def finish(proc: subprocess.Popen[str]) -> subprocess.CompletedProcess[str]:
    out, err = proc.communicate(timeout=120)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def run(*args: str, **extra_env: str) -> subprocess.CompletedProcess[str]:
    return finish(popen(*args, **extra_env))


@pytest.fixture(scope="module")
def checks() -> dict[str, subprocess.CompletedProcess[str]]:
    """Run the ``backprop check`` invocations side by side (each starts its own sandbox)."""
    procs = {
        "text": popen("check", str(ONE_OVER_N), "-e", "makemore4/ex1"),
        "json": popen("check", str(ONE_OVER_N), "-e", "makemore4/ex1", "--json"),
        "correct": popen("check", str(CORRECT), "-e", "makemore4/ex1"),
        "crash": popen("check", str(EX1_DIR / "bug_crash_view_32.py"), "-e", "makemore4/ex1"),
    }
    return {k: finish(p) for k, p in procs.items()}


# -- check ------------------------------------------------------------------------------------

def test_check_prints_the_root_cause_its_fingerprint_and_the_carried_forward_score(checks) \
        -> None:
    out = checks["text"]
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stdout + out.stderr
    lines = out.stdout.splitlines()
    table = lines[1:lines.index("")]  # the tensor table: header, then one row per tensor
    rows = {ln.split()[0]: ln for ln in table}
    assert len(rows) == 26 and lines[0].split()[:2] == ["tensor", "status"]
    assert "wrong ← root cause" in rows["dlogprobs"]
    assert [n for n, ln in rows.items() if "root cause" in ln] == ["dlogprobs"]
    header = parse(ONE_OVER_N)
    inherited = sorted(set(header.expect_wrong) - {header.root_cause})
    assert sorted(n[1:] for n, ln in rows.items() if "(inherited)" in ln) == inherited
    assert all("(inherited)" not in rows[f"d{n}"] for n in ("logit_maxes", "b1"))

    # below the table: the root cause, then its diagnosis with the fingerprint code
    root = [i for i, ln in enumerate(lines) if ln.strip().startswith("✗ root cause")]
    assert len(root) == 1, out.stdout
    assert "dlogprobs" in lines[root[0]]
    assert lines[root[0] + 1].strip() == \
        "→ dlogprobs is n = 32 times too big: a 1/n is missing [scale_1_over_n]"
    assert "scale_1_over_n" in CODES
    # then one line (wrapped by the terminal width) naming the inherited tensors
    tail = " ".join(lines[root[0] + 2:])
    assert "23 inherited an upstream error (right given your own upstream gradients):" in tail
    listed = tail.split("gradients):", 1)[1].split("2 of 26 tensors correct")[0]
    assert sorted(x.strip()[1:] for x in listed.split(",")) == inherited
    score = [ln for ln in lines if ln.startswith("score ")]
    assert len(score) == 1 and score[0].startswith("score 2 / 26 (error carried forward: 25)")


def test_check_json_carries_the_diagnosis_and_validates(checks) -> None:
    out = checks["json"]
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    jsonschema.Draft202012Validator(RESULT_SCHEMA).validate(result)
    assert (result["score"], result["carry_forward_score"], result["max_score"]) == (2, 25, 26)
    tensors = {t["name"]: t for t in result["tensors"]}
    keys = {"root_cause", "locally_correct", "fingerprint", "line", "carry_forward_points",
            "diagnosis"}
    assert all(keys <= set(t) for t in tensors.values())
    root = tensors["logprobs"]
    assert (root["root_cause"], root["locally_correct"], root["fingerprint"],
            root["carry_forward_points"]) == (True, False, "scale_1_over_n", 0)
    assert root["diagnosis"] == "dlogprobs is n = 32 times too big: a 1/n is missing"
    # two lines assign dlogprobs (the zeros and the -1.0): no single line to point at
    assert root["line"] is None
    header = parse(ONE_OVER_N)
    for name, t in tensors.items():
        if name == "logprobs":
            continue
        assert t["root_cause"] is False and t["fingerprint"] is None, t
        assert t["locally_correct"] is True and t["carry_forward_points"] == 1, t
        if name in header.expect_wrong:
            assert t["status"] == "wrong"
            assert t["diagnosis"].startswith(f"inherited: d{name} is right given your d")
    assert sum(t["carry_forward_points"] for t in tensors.values()) == 25
    assert sum(t["points"] for t in tensors.values()) == 2


def test_check_a_correct_file_prints_no_diagnosis(checks) -> None:
    out = checks["correct"]
    assert out.returncode == 0, out.stderr
    assert parse(CORRECT).kind == "correct"
    assert "score 26 / 26" in out.stdout
    for words in ("root cause", "carried forward", "inherited", "→"):
        assert words not in out.stdout, out.stdout


# -- assignment scoring ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh instance folder with an instructor of course C (its assignments created)."""
    path = tmp_path_factory.mktemp("cli-home")
    out = run("user", "add", "prof@example.org", "--role", "instructor", "--password",
              "secret-123", "--course", "C", BACKPROP_HOME=str(path))
    assert out.returncode == 0, out.stderr
    assert "enrolled in C" in out.stdout
    return path


def scorings(home: Path) -> dict[tuple[str, str], str]:
    with sqlite3.connect(home / "backprop.db") as conn:
        return {(course, ex): scoring for course, ex, scoring in conn.execute(
            "SELECT c.code, a.exercise_id, a.scoring FROM assignments a "
            "JOIN courses c ON c.id = a.course_id")}


def test_assignment_scoring_switches_one_assignment(home: Path) -> None:
    before = scorings(home)
    assert before[("C", "makemore4/ex1")] == "strict"
    assert set(before.values()) == {"strict"}
    out = run("assignment", "scoring", "C", "makemore4/ex1", "carry_forward",
              BACKPROP_HOME=str(home))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "C makemore4/ex1: carry_forward scoring"
    assert scorings(home) == {**before, ("C", "makemore4/ex1"): "carry_forward"}


def test_assignment_scoring_usage_errors_exit_2_and_change_nothing(home: Path) -> None:
    before = scorings(home)
    cases = {
        "unknown course": (("NOPE", "makemore4/ex1", "carry_forward"),
                           "no course 'NOPE'"),
        "unknown exercise": (("C", "makemore4/ex99", "carry_forward"),
                             "course 'C' has no assignment of 'makemore4/ex99'"),
        "invalid mode": (("C", "makemore4/ex1", "lenient"),
                         "'lenient' is not one of 'strict', 'carry_forward'"),
    }
    procs = {k: popen("assignment", "scoring", *args, BACKPROP_HOME=str(home))
             for k, (args, _) in cases.items()}
    for what, proc in procs.items():
        out = finish(proc)
        assert out.returncode == 2, (what, out.returncode, out.stdout, out.stderr)
        assert cases[what][1] in out.stderr, (what, out.stderr)
        assert "Traceback" not in out.stdout + out.stderr, what
        assert out.stdout == "", what
    assert scorings(home) == before


# -- a result without the diagnosis fields (a server from before diagnosis) -----------------

def test_a_result_without_carry_forward_score_claims_no_carried_forward_score(checks) -> None:
    from rich.console import Console

    from cli.report import render
    from grader.result import GradeResult

    data = json.loads(checks["json"].stdout)  # a real result of this version …
    del data["carry_forward_score"]  # … as a pre-diagnosis server sends it (still valid JSON)
    for t in data["tensors"]:
        for key in ("locally_correct", "fingerprint", "line", "carry_forward_points"):
            del t[key]
    jsonschema.Draft202012Validator(RESULT_SCHEMA).validate(data)
    console = Console(record=True, width=120)
    render(GradeResult.from_json(data), console)  # what `backprop submit` prints
    out = console.export_text()
    assert "score 2 / 26" in out
    assert "carried forward" not in out, out[-200:]


def test_check_tells_a_crash_in_hidden_cases_once(checks) -> None:
    """dembcat.view(32, 3, 10): the error once, its likely cause, the rest in one line."""
    out = " ".join(checks["crash"].stdout.split())  # rich wraps long lines
    assert checks["crash"].returncode == 0, checks["crash"].stderr
    assert out.count("RuntimeError") == 1, out
    assert "it ran for n = 32: a hard-coded batch size?" in out
    assert "✗ root cause demb" in out and "[hardcoded_batch]" in out
    assert "✗ 25 not returned where backward raised" in out
    assert "right in the cases that ran: dlogprobs, dprobs" in out
    assert out.count("not returned: backward raised in this case") == 1  # demb's own line

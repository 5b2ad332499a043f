"""The installed ``backprop`` console script, run as a user would (a real subprocess)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from grader.result import RESULT_SCHEMA

BACKPROP = str(Path(sys.executable).with_name("backprop"))
LECTURE = Path(__file__).parents[1] / "corpus/makemore4/ex1/lecture.py"


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "120"}
    return subprocess.run([BACKPROP, *args], capture_output=True, text=True, input=stdin,
                          timeout=120, env=env)


def test_exercises_lists_ids_and_titles() -> None:
    out = run("exercises")
    assert out.returncode == 0
    assert "makemore4/ex1" in out.stdout and "makemore4/ex4" in out.stdout


def test_starter_prints_a_file_that_compiles() -> None:
    out = run("starter", "makemore4/ex1")
    assert out.returncode == 0
    compile(out.stdout, "starter.py", "exec")
    assert "def backward(t):" in out.stdout and "dlogprobs = None" in out.stdout


def test_check_lecture_prints_26_passing_tensors() -> None:
    out = run("check", str(LECTURE), "-e", "makemore4/ex1")
    assert out.returncode == 0, out.stderr
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("d")]
    passing = [ln for ln in lines if ln.split()[1] in ("exact", "close")]
    assert len(passing) == 26, out.stdout
    assert "score 26 / 26" in out.stdout


def test_check_json_validates_against_the_schema(tmp_path) -> None:
    out = run("check", str(LECTURE), "-e", "makemore4/ex1", "--json")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    jsonschema.validate(result, RESULT_SCHEMA)
    assert result["score"] == result["max_score"] == 26
    assert len(result["tensors"]) == 26
    # A failing submission validates too, and still exits 0: it was judged.
    bug = Path(__file__).parents[1] / "corpus/makemore4/ex1/bug_transpose_dW2.py"
    out = run("check", str(bug), "-e", "makemore4/ex1", "--json")
    assert out.returncode == 0
    result = json.loads(out.stdout)
    jsonschema.validate(result, RESULT_SCHEMA)
    assert result["score"] < 26


def test_check_reads_stdin_and_reports_errors_without_traceback() -> None:
    out = run("check", "-", "-e", "makemore4/ex2", stdin="def backward(t):\n  return {\n")
    assert out.returncode == 0
    assert "SyntaxError" in out.stdout and "line 2" in out.stdout
    assert "Traceback" not in out.stdout + out.stderr


@pytest.mark.parametrize("args, words", [
    (("check", "nope.py", "-e", "makemore4/ex1"), "no such file"),
    (("check", str(LECTURE), "-e", "makemore4/ex99"), "unknown exercise"),
    (("check", str(LECTURE)), "Missing option"),
    (("starter", "nope"), "unknown exercise"),
])
def test_usage_errors_exit_2(args, words) -> None:
    out = run(*args)
    assert out.returncode == 2
    assert words in out.stderr and "Traceback" not in out.stderr


def test_check_a_directory_is_a_usage_error(tmp_path) -> None:
    out = run("check", str(tmp_path), "-e", "makemore4/ex1")
    assert out.returncode == 2 and "Traceback" not in out.stderr

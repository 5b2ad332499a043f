"""The Gradescope bridge (SPEC §8): the bundle's contents, ``run_autograder`` end to end in a
directory laid out like Gradescope's, and results.json against Gradescope's field list."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from cli import gradescope
from grader import get_exercise
from tests.web.helpers import wrong_result

BACKPROP = str(Path(sys.executable).with_name("backprop"))
CORPUS = Path(__file__).parents[1] / "corpus" / "makemore4"
SIGN_BUG = '''import torch.nn.functional as F


def backward(t):
    d = F.softmax(t.logits, 1)
    d[range(t.n), t.Yb] -= 1
    d /= t.n
    return {"logits": -d}
'''


def check_results(data: dict) -> None:
    """Gradescope's published results.json fields, with their types."""
    assert isinstance(data["score"], float | int) and isinstance(data["output"], str)
    assert isinstance(data["execution_time"], float | int) and data["execution_time"] >= 0
    for test in data["tests"]:
        assert set(test) >= {"name", "score", "max_score", "status", "output"}, test
        assert test["status"] in ("passed", "failed")
        assert 0 <= test["score"] <= test["max_score"]
    assert data["score"] == pytest.approx(sum(t["score"] for t in data["tests"]))


@pytest.fixture(scope="module")
def autograder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build the bundle with the real CLI and unzip it where Gradescope puts it."""
    root = tmp_path_factory.mktemp("autograder")
    out = subprocess.run([BACKPROP, "gradescope", "bundle", "-e", "makemore4/ex2", "-o",
                          str(root / "autograder.zip")], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    with zipfile.ZipFile(root / "autograder.zip") as z:
        names = set(z.namelist())
        modes = {i.filename: (i.external_attr >> 16) & 0o777 for i in z.infolist()}
        z.extractall(root / "source")
    assert {"setup.sh", "run_autograder", "bundle_secret", "cli/gradescope.py",
            "grader/__init__.py", "exercises/makemore4/__init__.py"} <= names
    assert not any(n.startswith(("web/", "worker/", "tests/")) for n in names)
    assert modes["run_autograder"] & 0o111 and modes["setup.sh"] & 0o111
    assert "torch==2.13.0" in (root / "source" / "setup.sh").read_text()
    for script in ("run_autograder", "setup.sh"):  # zipfile does not restore modes
        path = root / "source" / script
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return root


def run_autograder(root: Path) -> dict:
    env = {**os.environ, "AUTOGRADER_ROOT": str(root),
           "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    out = subprocess.run([str(root / "source" / "run_autograder")], env=env,
                         capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stdout + out.stderr
    return json.loads((root / "results" / "results.json").read_text())


def test_run_autograder_grades_a_submission_end_to_end(autograder: Path) -> None:
    submission = autograder / "submission"
    submission.mkdir()
    (submission / "ex2.py").write_text(SIGN_BUG)
    (autograder / "submission_metadata.json").write_text(json.dumps(
        {"users": [{"id": 4242, "email": "ada@example.org"}]}))
    data = run_autograder(autograder)
    check_results(data)
    assert data["score"] == 0 and [t["name"] for t in data["tests"]] == ["dlogits"]
    test = data["tests"][0]
    assert test["status"] == "failed" and "diagnosis:" in test["output"]
    assert "sign" in test["output"]
    # a right answer, in the same layout
    (submission / "ex2.py").write_text((CORPUS / "ex2" / "one_hot.py").read_text())
    good = run_autograder(autograder)
    check_results(good)
    assert good["score"] == 1 and good["tests"][0]["status"] == "passed"


def test_results_json_from_a_result(tmp_path: Path) -> None:
    ex = get_exercise("makemore4/ex2")
    result = wrong_result()
    result.message = "0 of 1 tensors pass \x1b[2J"
    data = gradescope.results_json(result, ex)
    check_results(data)
    assert "\x1b" not in data["output"] and "␛" in data["output"]  # shown, not acted on
    assert data["tests"][0]["output"].startswith("values differ")
    assert "looks transposed" in data["tests"][0]["output"]


def test_the_submission_file_is_picked_never_guessed(tmp_path: Path) -> None:
    assert gradescope.pick_submission(tmp_path)[0] is None
    (tmp_path / "helpers.py").write_text("X = 1\n")
    assert gradescope.pick_submission(tmp_path)[0] == tmp_path / "helpers.py"
    (tmp_path / "mine.py").write_text("def backward(t):\n    return {}\n")
    assert gradescope.pick_submission(tmp_path)[0] == tmp_path / "mine.py"
    (tmp_path / "other.py").write_text("def backward(t):\n    return {}\n")
    path, why = gradescope.pick_submission(tmp_path)
    assert path is None and "several .py files" in why
    data = gradescope._failure(why, get_exercise("makemore4/ex2"))
    check_results(data)
    assert data["score"] == 0 and data["tests"][0]["status"] == "failed"


def test_bundle_of_an_unknown_exercise_is_a_usage_error(tmp_path: Path) -> None:
    out = subprocess.run([BACKPROP, "gradescope", "bundle", "-e", "makemore4/ex99", "-o",
                          str(tmp_path / "a.zip")], capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "makemore4/ex99" in out.stderr
    assert "Traceback" not in out.stderr and not (tmp_path / "a.zip").exists()

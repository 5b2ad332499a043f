"""``backprop batch`` over a folder and a zip, as an instructor would run it."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

BACKPROP = str(Path(sys.executable).with_name("backprop"))
CORPUS = Path(__file__).parents[1] / "corpus/makemore4/ex2"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([BACKPROP, "batch", *args], capture_output=True, text=True,
                          timeout=180)


def test_zip_with_hostile_members_to_csv(tmp_path: Path) -> None:
    archive = tmp_path / "subs.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("alice.py", (CORPUS / "lecture.py").read_text())
        z.writestr("sub/bob.py", (CORPUS / "bug_sign.py").read_text())
        z.writestr("../../evil.py", "def backward(t):\n    return {}\n")
        z.writestr("huge.py", "#" * (300 * 1024))
        z.writestr("notes.txt", "ignored")
    out = tmp_path / "grades.csv"
    proc = run(str(archive), "-e", "makemore4/ex2", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    rows = {r["student"]: r for r in csv.DictReader(out.open())}
    assert set(rows) == {"alice", "bob", "evil", "huge"}
    assert rows["alice"]["score"] == "1.0" and rows["alice"]["status"] == "graded"
    assert rows["bob"]["score"] == "0.0" and rows["bob"]["dlogits"] == "0.0"
    assert rows["huge"]["status"] == "error" and "KiB" in rows["huge"]["message"]
    assert not (tmp_path.parent.parent / "evil.py").exists()
    assert {"student", "score", "max_score", "status"} <= set(rows["alice"])


def test_folder_to_stdout(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "carol.py").write_text((CORPUS / "fused.py").read_text())
    (tmp_path / "dave.py").write_text("def backward(t) return 1\n")
    # a server kept in the environment for `backprop submit` does not make it an upload
    monkeypatch.setenv("BACKPROP_SERVER", "http://127.0.0.1:9")
    monkeypatch.setenv("BACKPROP_TOKEN", "t")
    proc = run(str(tmp_path), "-e", "makemore4/ex2")
    assert proc.returncode == 0, proc.stderr
    rows = {r["student"]: r for r in csv.DictReader(io.StringIO(proc.stdout))}
    assert rows["carol"]["score"] == "1.0"
    assert rows["dave"]["status"] == "error" and "SyntaxError" in rows["dave"]["message"]


def test_usage_errors(tmp_path: Path) -> None:
    assert run(str(tmp_path), "-e", "makemore4/ex2").returncode == 2  # no .py files
    (tmp_path / "x.txt").write_text("hi")
    proc = run(str(tmp_path / "x.txt"), "-e", "makemore4/ex2")
    assert proc.returncode == 2 and "neither a folder nor a zip" in proc.stderr
    proc = run(str(tmp_path), "-e", "nope/ex")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    proc = run(str(tmp_path), "-e", "makemore4/ex2", "--server", "http://127.0.0.1:9")
    assert proc.returncode == 2 and "needs --server, --token and --course" in proc.stderr
    proc = run(str(tmp_path), "-e", "makemore4/ex2", "--server", "http://x", "--token", "t",
               "--course", "C", "-j", "2")
    assert proc.returncode == 2 and "-j and --no-diagnosis are for a local batch" in proc.stderr


#: The ex1 class of the two tests below, in file (and so row) order: student → corpus file.
EX1_CLASS = {"erin": "bug_no_1_over_n.py", "fay": "lecture.py", "fred": "bug_transpose_dW2.py",
             "gina": "fused.py", "hal": "bug_sign_bnmeani.py"}


@pytest.fixture(scope="module")
def ex1_class(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of ex1 files, one per student of ``EX1_CLASS``."""
    folder = tmp_path_factory.mktemp("ex1-class")
    for student, name in EX1_CLASS.items():
        (folder / f"{student}.py").write_text((CORPUS.parent / "ex1" / name).read_text())
    return folder


@pytest.fixture(scope="module")
def one_sandbox(ex1_class: Path) -> subprocess.CompletedProcess[str]:
    """``backprop batch -j 1`` of the ex1 class: graded once, read by both tests below (each
    batch run pays for a torch import and a sandbox start)."""
    return run(str(ex1_class), "-e", "makemore4/ex1", "-j", "1")


def _rows(out: str) -> list[dict]:
    """The CSV's rows without the run times (wall times differ from run to run)."""
    return [{k: v for k, v in r.items() if k != "runtime_ms"}
            for r in csv.DictReader(io.StringIO(out))]


def test_csv_carries_both_scores_and_root_causes(
        one_sandbox: subprocess.CompletedProcess[str]) -> None:
    """An instructor's sheet: strict and carry-forward scores, root causes, fingerprints."""
    proc = one_sandbox
    assert proc.returncode == 0, proc.stderr
    rows = {r["student"]: r for r in csv.DictReader(io.StringIO(proc.stdout))}
    assert rows["erin"]["root_causes"] == "logprobs"
    assert rows["erin"]["fingerprints"] == "scale_1_over_n"
    assert float(rows["erin"]["carry_forward_score"]) == 25.0
    assert float(rows["erin"]["score"]) < 3
    assert (rows["fred"]["root_causes"], rows["fred"]["fingerprints"]) == ("W2", "transpose")
    assert float(rows["fred"]["carry_forward_score"]) == float(rows["fred"]["score"]) == 25.0
    assert rows["gina"]["root_causes"] == rows["gina"]["fingerprints"] == ""
    assert float(rows["gina"]["carry_forward_score"]) == float(rows["gina"]["score"]) == 26.0


def test_parallel_sandboxes_give_the_same_csv_and_diagnosis_can_be_skipped(
        ex1_class: Path, one_sandbox: subprocess.CompletedProcess[str]) -> None:
    """-j 2 grades side by side in two sandboxes: the same rows, in the files' order, as one
    sandbox; --no-diagnosis leaves root causes, fingerprints and carry-forward empty."""
    one = one_sandbox
    two = run(str(ex1_class), "-e", "makemore4/ex1", "-j", "2")
    assert one.returncode == two.returncode == 0, one.stderr + two.stderr

    assert _rows(one.stdout) == _rows(two.stdout)
    assert [r["student"] for r in _rows(two.stdout)] == list(EX1_CLASS)
    quick = run(str(ex1_class), "-e", "makemore4/ex1", "--no-diagnosis")
    assert quick.returncode == 0, quick.stderr
    fast = _rows(quick.stdout)
    assert [r["score"] for r in fast] == [r["score"] for r in _rows(one.stdout)]
    assert all(r["root_causes"] == r["fingerprints"] == r["carry_forward_score"] == ""
               for r in fast)
    assert any(r["root_causes"] for r in _rows(one.stdout))


#: ``backprop batch`` with a grader that crashes its forked grading process on file s2.
DYING_BATCH = """
import os, sys
from cli import batch
real = batch._grade_one
def grade_one(exercise, code, sandbox, student, *args, **kwargs):
    if student == "s2":
        os._exit(3)  # in the forked grading process
    return real(exercise, code, sandbox, student, *args, **kwargs)
batch._grade_one = grade_one
batch.batch_cmd.main(sys.argv[1:], prog_name="backprop batch")
"""


def test_a_grading_process_that_dies_costs_its_file_only(tmp_path: Path) -> None:
    """Files are graded by forked grading processes; one that dies (a crash of the grader's
    own, never the submission's: that runs in its sandboxed child) fails only the file it was
    grading. The files it had been handed next go to a replacement; rows keep their order.

    The batch runs in a fresh interpreter, as the command does: forked from this test process
    instead, a worker ran the after-fork hooks of whatever earlier tests left here (kombu's
    connection pools, read from a socket the parent owns) and could wait forever."""
    import os

    folder = tmp_path / "subs"
    folder.mkdir()
    for i in range(6):
        (folder / f"s{i}.py").write_text((CORPUS / "lecture.py").read_text())
    out = tmp_path / "out.csv"
    env = {**os.environ, "BACKPROP_HOME": str(tmp_path / "home"), "SECRET_KEY": "test-secret"}
    result = subprocess.run([sys.executable, "-c", DYING_BATCH, str(folder), "-e",
                             "makemore4/ex2", "-o", str(out), "-j", "2"],
                            capture_output=True, text=True, timeout=180, env=env,
                            stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stdout + result.stderr
    rows = list(csv.DictReader(out.open(newline="")))
    assert [r["student"] for r in rows] == [f"s{i}" for i in range(6)]
    assert rows[2]["status"] == "error", rows[2]
    assert "grading process ended: exit code 3" in rows[2]["message"], rows[2]
    assert all((r["status"], r["score"]) == ("graded", "1.0") for r in rows if r is not rows[2])

"""``backprop check --watch``: re-grade on save, say what changed, Ctrl-C exits 0."""

from __future__ import annotations

import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli import daemon
from cli.watch import changes
from grader.result import GradeResult, TensorResult

BACKPROP = str(Path(sys.executable).with_name("backprop"))
EX1 = Path(__file__).parents[1] / "corpus/makemore4/ex1"


def _result(status: str, **tensors: str) -> GradeResult:
    rows = [TensorResult(name, s, 1.0 if s == "exact" else 0.0, 1.0)
            for name, s in tensors.items()]
    return GradeResult("makemore4/ex1", status, sum(t.points for t in rows), len(rows), "",
                       tensors=rows)


def test_changes_names_fixed_and_newly_broken_tensors_and_the_score_delta() -> None:
    before = _result("graded", W2="wrong", b2="exact", h="exact")
    after = _result("graded", W2="exact", b2="wrong", h="exact")
    assert changes(None, after).plain == "first check"
    assert changes(before, after).plain == (
        "since the last check: fixed dW2 · newly broken db2 · score 2 → 2 (+0)")
    fixed = _result("graded", W2="exact", b2="exact", h="exact")
    assert changes(after, fixed).plain == "since the last check: fixed db2 · score 2 → 3 (+1)"
    assert changes(fixed, fixed).plain == (
        "since the last check: no tensor changed · score 3 → 3 (+0)")
    crashed = _result("error", W2="missing", b2="missing", h="missing")
    assert changes(fixed, crashed).plain == (
        "since the last check: graded → error · newly broken dW2, db2, dh · score 3 → 0 (-3)")


@pytest.fixture
def home(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="bpw-", dir="/tmp"))
    monkeypatch.setenv("BACKPROP_HOME", str(path))
    monkeypatch.setenv(daemon.CODE_STAMP_ENV, "tests")  # the tree may be edited meanwhile
    yield path
    daemon.stop(daemon.paths(path))
    shutil.rmtree(path, ignore_errors=True)


def test_watch_regrades_on_save_and_ctrl_c_exits_0(home, tmp_path) -> None:
    solution = tmp_path / "solution.py"
    shutil.copy(EX1 / "bug_transpose_dW2.py", solution)
    proc = subprocess.Popen(
        [BACKPROP, "check", str(solution), "-e", "makemore4/ex1", "--watch"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "COLUMNS": "120", "PYTHONUNBUFFERED": "1"})
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout],
                     daemon=True).start()
    seen: list[str] = []

    def read_until(text: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                proc.kill()
                raise AssertionError(f"no {text!r} in:\n{''.join(seen)}\n"
                                     f"stderr: {proc.stderr.read()}") from None
            seen.append(line)
            if text in line:
                return

    try:
        read_until("first check")
        read_until("Ctrl-C to stop")
        assert any("score 25 / 26" in line for line in seen), "".join(seen)
        saved = tmp_path / ".solution.py.swp"
        saved.write_text((EX1 / "lecture.py").read_text())
        os.replace(saved, solution)  # the fix, saved the way editors save: a rename
        read_until("since the last check")
        summary = seen[-1]
        assert "fixed dW2" in summary and "score 25 → 26 (+1)" in summary, summary
        assert "newly broken" not in summary
        read_until("Ctrl-C to stop")
        assert any("score 26 / 26" in line for line in seen[-40:]), "".join(seen)
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
        err = proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "Aborted" not in err, err

"""The documented mode without root: the grader runs as an ordinary user, so there is no
sandbox uid to drop to and the child shares the zygote's uid. The kernel walls must hold all
the same: the child is non-dumpable (another process of the same uid cannot ptrace it or read
its memory), cannot fork or start a thread, cannot signal the zygote, cannot write outside its
job directory — with bubblewrap and without it.

The test process is root; it runs the grader in a user namespace whose uid 1000 maps to it
(``unshare --user --map-user=1000``), which is how the sandbox sees a non-root user: no
``CAP_SETUID`` to use, ``os.geteuid() != 0``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

#: Runs inside the user namespace: grade a probe and the correct answer in each mode.
SCRIPT = r"""
import json, os, sys
sys.path.insert(0, {repo!r})
from grader import get_exercise, grade
from grader.sandbox import Sandbox

EX2 = get_exercise("makemore4/ex2")
CORRECT = open({correct!r}).read()
PROBE = '''
import os, signal
def attempt(label, fn):
    try:
        fn()
        print(label, "DONE", flush=True)
    except OSError as exc:
        print(label, "REFUSED", exc.errno, flush=True)
attempt("FORK", os.fork)
attempt("KILL_PARENT", lambda: os.kill(os.getppid(), signal.SIGSTOP))
attempt("HOST_TMP", lambda: open({marker!r}, "w").write("x"))
attempt("JOB_DIR", lambda: open("scratch.txt", "w").write("x"))
'''
out = {{"euid": os.geteuid()}}
# Dumpability cannot be seen from inside the child (reading it needs ctypes, a violation, and
# /proc ownership is confounded by this namespace's mapping), so the spare's confinement is
# run here in a fork of our own and asked with prctl(PR_GET_DUMPABLE), in both modes.
import ctypes, tempfile
from grader.sandbox import zygote
for own_netns in (False, True):
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            if own_netns:
                zygote._private_mounts()  # what the zygote does first without bwrap
            zygote._confine(tempfile.mkdtemp(), None, own_netns, None)
            os.write(w, str(ctypes.CDLL(None).prctl(3, 0, 0, 0, 0)).encode())
        finally:
            os._exit(0)
    os.close(w)
    os.waitpid(pid, 0)
    out["dumpable_" + str(own_netns)] = os.read(r, 16).decode()
for mode in (None, "off"):
    with Sandbox(bwrap=mode) as sb:
        sb.ensure_ready()
        probe = grade(EX2, PROBE + CORRECT, sandbox=sb, student="nonroot", secret=b"k")
        again = grade(EX2, CORRECT, sandbox=sb, student="nonroot", secret=b"k")
        out[str(mode)] = {{"status": probe.status, "score": probe.score, "stdout": probe.stdout,
                          "message": probe.message, "again": [again.status, again.score],
                          "restarts": sb.restarts}}
print("RESULT " + json.dumps(out))
"""


@pytest.fixture(scope="module")
def without_root() -> dict:
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.skip("util-linux unshare is not installed")
    marker = f"/tmp/backprop-nonroot-{uuid.uuid4().hex}"
    script = SCRIPT.format(repo=str(REPO), marker=marker,
                           correct=str(REPO / "tests/corpus/makemore4/ex2/lecture.py"))
    proc = subprocess.run([unshare, "--user", "--map-user=1000", "--map-group=1000",
                           sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=300, cwd=REPO)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    if not lines and "unshare failed" in proc.stderr:
        pytest.skip(f"user namespaces are not available here: {proc.stderr.strip()[:200]}")
    assert lines, proc.stdout[-2000:] + proc.stderr[-3000:]
    out = json.loads(lines[0][len("RESULT "):])
    out["host_tmp_written"] = Path(marker).exists()
    Path(marker).unlink(missing_ok=True)
    return out


def test_the_grader_really_runs_without_root(without_root: dict) -> None:
    assert without_root["euid"] == 1000


@pytest.mark.parametrize("own_netns", ["False", "True"], ids=["bwrap", "no-bwrap"])
def test_children_are_not_dumpable_without_root(without_root: dict, own_netns: str) -> None:
    # PR_GET_DUMPABLE after the spare's confinement: 0, where an ordinary process says 1
    assert without_root["dumpable_" + own_netns] == "0", without_root


@pytest.mark.parametrize("mode", ["None", "off"], ids=["bwrap", "no-bwrap"])
def test_child_walls_hold_without_root(without_root: dict, mode: str) -> None:
    run = without_root[mode]
    assert (run["status"], run["score"]) == ("graded", 1.0), run["message"]
    out = run["stdout"]
    assert "FORK REFUSED 1" in out, out  # EPERM: seccomp
    assert "KILL_PARENT REFUSED 1" in out, out  # signals only to itself
    assert "HOST_TMP REFUSED" in out, out
    assert "JOB_DIR DONE" in out, out  # the positive control: its own directory is writable
    assert run["again"] == ["graded", 1.0]
    assert run["restarts"] == 0
    assert not without_root["host_tmp_written"]

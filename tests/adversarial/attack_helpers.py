"""Shared helpers of the adversarial suite: plain functions, no fixtures.

Every attack test grades a hostile submission through the real sandbox and then checks three
things: the result (a clear status, a message that says what happened, none of our own
internals), the grader's survival (the same sandbox grades the correct answer to full marks),
and the machine (nothing outside the sandbox changed, no process of the sandbox uid lives on).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import time
from pathlib import Path

import jsonschema

from grader import Limits, get_exercise, grade
from grader.exercise import Exercise
from grader.result import RESULT_SCHEMA, GradeResult
from grader.sandbox import Sandbox

EX2 = get_exercise("makemore4/ex2")

#: The correct ex2 answer (cross-entropy backward in one formula).
CORRECT_EX2 = """\
import torch.nn.functional as F
def backward(t):
    d = F.softmax(t.logits, 1)
    d[range(t.n), t.Yb] -= 1
    return {"logits": d / t.n}
"""

#: Low limits, so that timeouts and bombs end fast.
QUICK_LIMITS = {"wall_seconds": 5, "cpu_seconds": 5, "memory_bytes": 512 * 1024**2}

_OUR_FRAME = re.compile(r'File "(?!submission\.py")[^"]*"')


def ex2(*, before: str = "", ret: str = "{'logits': d / t.n}", header: str = "") -> str:
    """Return an ex2 submission: ``header`` at module level, ``before`` (indented four
    spaces) at the top of ``backward``, then the correct formula, returning ``ret``."""
    return (f"import torch\nimport torch.nn.functional as F\n{header}\n"
            f"def backward(t):\n{before}"
            "    d = F.softmax(t.logits, 1)\n"
            "    d[range(t.n), t.Yb] -= 1\n"
            f"    return {ret}\n")


def quick_exercise(**limits: float) -> Exercise:
    """Return ex2 with low limits (``QUICK_LIMITS`` updated by ``limits``)."""
    values = {**QUICK_LIMITS, **limits}

    class Quick(type(EX2)):  # type: ignore[misc,valid-type]
        pass

    Quick.limits = Limits(**values)  # type: ignore[arg-type]
    return Quick()


def grade_quick(sandbox: Sandbox, src: str, **limits: float) -> GradeResult:
    """Grade ``src`` as ex2 with low limits; check the result is clean (see assert_clean)."""
    result = grade(quick_exercise(**limits), src, sandbox=sandbox, student="attacker",
                   secret=b"adversarial")
    assert_clean(result)
    return result


def texts(result: GradeResult) -> list[str]:
    """Return every human-readable text of a result (stdout excluded: the student's own)."""
    return [result.message, *(t.message for t in result.tensors),
            *(t.diagnosis or "" for t in result.tensors), *(c.message for c in result.checks)]


def assert_clean(result: GradeResult) -> None:
    """The result is valid JSON of spec §4 and shows none of our own code's internals."""
    jsonschema.validate(result.to_json(), RESULT_SCHEMA)
    for text in texts(result):
        assert "grader/" not in text, text
        assert "site-packages" not in text, text
        assert not _OUR_FRAME.search(text), text
        if "Traceback" in text:
            assert "submission.py" in text, text


# -- processes ------------------------------------------------------------------------------

def _real_uid(pid: str) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("Uid:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    return None


def _has_live_task(pid: str) -> bool:
    """True when some thread of the process is not a zombie (a thread-group leader that
    called pthread_exit shows as a zombie while its other threads still run)."""
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except (FileNotFoundError, ProcessLookupError):
        return False
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/stat", "rb") as f:
                state = f.read().rpartition(b")")[2].split()[0]
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        if state not in (b"Z", b"X"):
            return True
    return False


def procs_of_uid(uid: int | None) -> list[int]:
    """Return the pids (host view) of live processes whose *real* uid is ``uid``.

    Reads ``/proc/PID/status`` rather than the owner of ``/proc/PID`` (which a process can
    turn into root with ``PR_SET_DUMPABLE``), and counts a process as alive while any of
    its threads is.
    """
    if uid is None:
        return []
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and _real_uid(entry) == uid and _has_live_task(entry):
            found.append(int(entry))
    return found


def assert_no_procs(uid: int | None, grace: float = 0.0) -> None:
    """No live process of ``uid`` exists (after at most ``grace`` seconds)."""
    deadline = time.monotonic() + grace
    while True:
        left = procs_of_uid(uid)
        if not left or time.monotonic() >= deadline:
            break
        time.sleep(0.05)
    assert not left, f"processes of sandbox uid {uid} survived: {describe_procs(left)}"


def describe_procs(pids: list[int]) -> str:
    out = []
    for pid in pids[:10]:
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")[:80]
        except OSError:
            cmd = b"?"
        out.append(f"{pid} {cmd.decode(errors='replace')}")
    return "; ".join(out) + (f" … ({len(pids)} in all)" if len(pids) > 10 else "")


def kill_leftovers(uid: int | None) -> None:
    """SIGKILL every process of ``uid`` (cleanup after a test that expects survivors)."""
    for _ in range(50):
        pids = procs_of_uid(uid)
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.02)


def children_of(pid: int) -> list[int]:
    """Return the direct children of ``pid`` (host view)."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                fields = f.read().rpartition(b")")[2].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if int(fields[1]) == pid:
            out.append(int(entry))
    return out


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def zygote_pids(sandbox: Sandbox) -> set[int]:
    """Return the long-lived trusted processes of a sandbox: bwrap (outer and its init
    inside the jail) and the zygote, or the bare zygote without bwrap. The zygote's own
    children (jobs, the pre-forked spare) come and go and are not included."""
    assert sandbox._proc is not None
    top = sandbox._proc.pid
    found, todo = {top}, [top]
    while todo:
        pid = todo.pop()
        argv = _cmdline(pid).split(b"\0")
        if not argv[0].endswith(b"bwrap"):
            continue  # the zygote (bwrap's argv names it too): do not descend into its jobs
        for child in children_of(pid):
            if _real_uid(str(child)) == 0 and child not in found:
                found.add(child)
                todo.append(child)
    return found


def assert_survives(sandbox: Sandbox, trusted: set[int] | None = None) -> None:
    """The sandbox's trusted processes are alive (the same ones, when ``trusted`` is given),
    no process of its uid survives, and it grades the correct answer to full marks."""
    assert sandbox._proc is not None and sandbox._proc.poll() is None, "the zygote died"
    if trusted is not None:
        assert zygote_pids(sandbox) == trusted, "the zygote was replaced (it was killed)"
    assert_no_procs(sandbox.slot.uid)
    result = grade(EX2, CORRECT_EX2, sandbox=sandbox, student="after-attack", secret=b"k")
    assert (result.status, result.score) == ("graded", EX2.max_score), result.message
    if trusted is not None:
        assert zygote_pids(sandbox) == trusted, "the zygote was replaced (it was killed)"
    assert_no_procs(sandbox.slot.uid)


# -- memory ------------------------------------------------------------------------------------

def status_kb(field: str) -> int:
    """Return a ``/proc/self/status`` field (VmRSS, VmHWM, …) in KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def reset_peak_rss() -> bool:
    """Reset VmHWM to the current RSS (Linux ≥ 4.0); return whether it worked."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


# -- files and network ---------------------------------------------------------------------------

def reachable(host: str, port: int, timeout: float = 2.0) -> bool:
    """Whether this (trusted, unjailed) process can open a TCP connection to host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False

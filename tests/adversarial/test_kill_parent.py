"""Killing upwards: the parent, the process group, kill(-1), every pid. The child runs as its
own uid in its own session (and, under bwrap, its own pid namespace), so it can only signal
itself; the grader process (this test process), bwrap and the zygote are untouched."""

from __future__ import annotations

import os

import pytest

from tests.adversarial.attack_helpers import (
    assert_no_procs,
    assert_survives,
    ex2,
    grade_quick,
    zygote_pids,
)

TRY = (
    "import os, signal\n"
    "def attempt(what, fn, *args):\n"
    "    try:\n"
    "        fn(*args)\n"
    "        print('SENT', what, flush=True)\n"
    "    except OSError as exc:\n"
    "        print('FAILED', what, type(exc).__name__, flush=True)\n"
)


def attacks(test_pid: int) -> dict[str, str]:
    return {
        "kill-parent": "    attempt('ppid', os.kill, os.getppid(), signal.SIGKILL)\n"
                       "    attempt('ppid-stop', os.kill, os.getppid(), signal.SIGSTOP)\n",
        "kill-parent-group": "    attempt('ppgrp', os.killpg, os.getpgid(os.getppid()), 9)\n",
        "kill-pid-1": "    attempt('init', os.kill, 1, signal.SIGKILL)\n",
        "kill-minus-1": "    attempt('all', os.kill, -1, signal.SIGKILL)\n",
        "kill-grader": f"    attempt('grader', os.kill, {test_pid}, signal.SIGKILL)\n"
                       f"    attempt('grader-grp', os.killpg, {os.getpgid(test_pid)}, 9)\n",
        "kill-every-pid": "    for pid in range(1, 70_000):\n"
                          "        if pid != os.getpid():\n"
                          "            try:\n"
                          "                os.kill(pid, signal.SIGKILL)\n"
                          "                print('SENT', pid, flush=True)\n"
                          "            except OSError:\n"
                          "                pass\n",
    }


@pytest.mark.parametrize("name", ["kill-parent", "kill-parent-group", "kill-pid-1",
                                  "kill-minus-1", "kill-grader", "kill-every-pid"])
def test_cannot_kill_upwards(sandbox, name: str) -> None:
    my_pid = os.getpid()
    trusted = zygote_pids(sandbox)
    src = ex2(header=TRY, before=attacks(my_pid)[name])
    result = grade_quick(sandbox, src)
    # Every signal upwards failed, so the answer came back and was graded in full.
    assert result.status == "graded", result.message
    assert result.score == 1.0, result.message
    if name in ("kill-parent", "kill-pid-1", "kill-grader", "kill-every-pid"):
        # Signals aimed at one pid: each one was refused (EPERM, or ESRCH outside the jail's
        # pid namespace). kill(-1) and killpg(1) report success whenever the broadcast found
        # any process at all (EPERM is not an error for broadcasts), so only survival counts.
        assert "SENT" not in result.stdout, result.stdout
    if name not in ("kill-every-pid",):
        assert "ppid" in result.stdout or "all" in result.stdout or "init" in result.stdout \
            or "grader" in result.stdout or "ppgrp" in result.stdout, result.stdout
    assert os.getpid() == my_pid  # (we are still here)
    assert_no_procs(sandbox.slot.uid)
    assert_survives(sandbox, trusted)


@pytest.mark.parametrize("how", ["os.killpg(0, 9)", "os.kill(os.getpid(), 9)",
                                 "os.kill(0, 9)"])
def test_killing_itself_ends_only_itself(sandbox, how: str) -> None:
    trusted = zygote_pids(sandbox)
    result = grade_quick(sandbox, ex2(header="import os\n", before=f"    {how}\n"))
    # (memory_limit: see test_ignore_signals — every SIGKILL is reported as out of memory)
    assert result.status in ("error", "memory_limit"), result.message
    assert result.score == 0
    assert "killed" in result.message or "crashed" in result.message, result.message
    assert_no_procs(sandbox.slot.uid)
    assert_survives(sandbox, trusted)


def test_killing_itself_is_not_called_out_of_memory(sandbox) -> None:
    result = grade_quick(sandbox, ex2(header="import os\n", before="    os.killpg(0, 9)\n"))
    assert result.status == "error", (result.status, result.message)
    assert "memory" not in result.message, result.message

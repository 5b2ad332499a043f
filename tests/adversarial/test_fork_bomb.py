"""Fork bomb: RLIMIT_NPROC on the sandbox's own uid caps it; the wall clock ends it; the kill by
uid leaves nothing behind; the grader and the machine are unaffected."""

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

WALL = 1

BOMBS = {
    # Every process keeps forking, swallowing EAGAIN once the uid's process cap is reached.
    "fork-loop": ex2(header="import os\n", before=(
        "    while True:\n"
        "        try:\n"
        "            os.fork()\n"
        "        except OSError:\n"
        "            pass\n")),
    # The same at import time, through multiprocessing (fork start method).
    "import-time-multiprocessing": ex2(header=(
        "import multiprocessing as mp\n"
        "def spin():\n"
        "    while True:\n"
        "        pass\n"
        "procs = []\n"
        "while True:\n"
        "    try:\n"
        "        p = mp.get_context('fork').Process(target=spin)\n"
        "        p.start()\n"
        "        procs.append(p)\n"
        "    except Exception:\n"
        "        pass\n")),
    # Forks that return the correct answer from the harness while the bomb runs on.
    "fork-then-answer": ex2(header="import os\n", before=(
        "    for _ in range(64):\n"
        "        try:\n"
        "            if os.fork() == 0:\n"
        "                while True:\n"
        "                    try:\n"
        "                        os.fork()\n"
        "                    except OSError:\n"
        "                        pass\n"
        "        except OSError:\n"
        "            break\n")),
}


@pytest.mark.parametrize("name", list(BOMBS))
def test_fork_bomb(sandbox, name: str) -> None:
    trusted = zygote_pids(sandbox)
    my_pid = os.getpid()
    result = grade_quick(sandbox, BOMBS[name], wall_seconds=WALL, cpu_seconds=WALL)
    # Right after grade() returns, nothing of the sandbox uid runs any more.
    assert_no_procs(sandbox.slot.uid)
    if name == "fork-then-answer":
        # The forks never touch the result channel: the harness's own answer is graded —
        # unless the spinning forks starve it past the 1 s wall on a busy machine.
        assert result.status in ("graded", "timeout"), result.message
        assert result.score == (1.0 if result.status == "graded" else 0.0), result.message
    else:
        assert result.status in ("timeout", "error", "memory_limit"), result.message
        assert result.score == 0
        if result.status == "timeout":
            assert f"within {WALL} s" in result.message or "CPU" in result.message
    assert os.getpid() == my_pid
    assert_survives(sandbox, trusted)

"""Infinite loops: the wall clock (enforced by the parent) or the CPU rlimit ends them with
status timeout and a message saying which limit was hit."""

from __future__ import annotations

import pytest

from tests.adversarial.attack_helpers import (
    assert_no_procs,
    assert_survives,
    ex2,
    grade_quick,
    zygote_pids,
)

LOOPS = {
    # CPU-bound: the 0.5 s wall clock comes first (CPU limit 10 s).
    "busy-wall": (ex2(before="    while True:\n        pass\n"),
                  {"wall_seconds": 0.5, "cpu_seconds": 10}, "within 0.5 s"),
    # CPU-bound with a CPU limit below the wall clock: RLIMIT_CPU (SIGXCPU) ends it.
    "busy-cpu": (ex2(before="    while True:\n        pass\n"),
                 {"wall_seconds": 4, "cpu_seconds": 1}, "1 s of CPU"),
    # Blocking without CPU: only the wall clock can end it.
    "sleep": (ex2(header="import time\n", before="    time.sleep(10**6)\n"),
              {"wall_seconds": 0.5, "cpu_seconds": 10}, "within 0.5 s"),
    "blocking-read": (ex2(header="import os\n", before="    r, w = os.pipe()\n    os.read(r, 1)\n"),
                      {"wall_seconds": 0.5, "cpu_seconds": 10}, "within 0.5 s"),
    # Only a hidden case (n != 32) loops: the public case must not save it.
    "hidden-case-only": (ex2(before="    while t.n != 32:\n        pass\n"),
                         {"wall_seconds": 0.5, "cpu_seconds": 10}, "within 0.5 s"),
    "at-import": ("while True:\n    pass\n",
                  {"wall_seconds": 0.5, "cpu_seconds": 10}, "within 0.5 s"),
}


@pytest.mark.parametrize("name", list(LOOPS))
def test_infinite_loop(sandbox, name: str) -> None:
    src, limits, says = LOOPS[name]
    trusted = zygote_pids(sandbox)
    result = grade_quick(sandbox, src, **limits)
    assert result.status == "timeout", (result.status, result.message)
    assert result.score == 0
    assert says in result.message, result.message
    assert_no_procs(sandbox.slot.uid)
    assert_survives(sandbox, trusted)


def test_cold_sandbox_does_not_eat_the_wall_budget() -> None:
    from grader.sandbox import Sandbox
    from tests.adversarial.attack_helpers import CORRECT_EX2

    with Sandbox() as cold:  # no ensure_ready(): the torch import is still running
        result = grade_quick(cold, CORRECT_EX2, wall_seconds=0.5)
    # graded under a 0.5 s wall limit: the cold zygote's torch import was not charged to it
    assert result.status == "graded", result.message

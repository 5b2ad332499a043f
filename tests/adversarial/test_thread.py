"""Threads left running after backward returned: spinning, printing, writing to the result
channel. The harness ends the process when the job is over, so grade() returns promptly, the
thread dies with it, and a thread that scribbles on the channel only breaks its own result."""

from __future__ import annotations

import pytest

from tests.adversarial.attack_helpers import (
    assert_no_procs,
    assert_survives,
    ex2,
    grade_quick,
    zygote_pids,
)

THREAD = '''
import os, threading, time
def spin():
    while True:
        pass
def chatter():
    while True:
        print("still here", flush=True)
        time.sleep(0.01)
def sleeper():
    while True:
        time.sleep(1)
def scribble():
    time.sleep(0.001)
    while True:
        try:
            os.write(3, b"\\x00\\x00\\x00\\x02{}")
        except OSError:
            return
STARTED = []
def start(target, daemon):
    if not STARTED:
        STARTED.append(1)
        threading.Thread(target=target, daemon=daemon).start()
'''

REFUSED = "not available in the grading sandbox"
CASES = {
    # name: (thread target, daemon?, statuses)
    "non-daemon-spinner": ("spin", False, {"graded"}),
    "daemon-spinner": ("spin", True, {"graded"}),
    "non-daemon-sleeper": ("sleeper", False, {"graded"}),
    "chatter": ("chatter", False, {"graded"}),
    "channel-scribbler": ("scribble", True, {"graded", "error"}),
}


@pytest.mark.parametrize("name", list(CASES))
def test_thread_left_running(sandbox, name: str) -> None:
    target, daemon, statuses = CASES[name]
    trusted = zygote_pids(sandbox)
    src = ex2(header=THREAD, before=f"    start({target}, {daemon})\n")
    result = grade_quick(sandbox, src, wall_seconds=10, cpu_seconds=10)
    # A grade that waited for the stray thread would run into the 10 s wall clock.
    assert result.status in statuses | {"error"}, (result.status, result.message)
    if REFUSED in result.message:
        # The sandbox refuses threads outright (the autograd guard): nothing to leave running.
        assert result.score == 0
    elif result.status == "graded":
        assert result.score == 1.0, result.message
    else:
        assert result.score == 0 and "result channel" in result.message, result.message
    assert len(result.stdout.encode()) <= 70_000
    assert_no_procs(sandbox.slot.uid)
    assert_survives(sandbox, trusted)

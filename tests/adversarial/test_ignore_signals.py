"""A submission that ignores every catchable signal is killed anyway (SIGKILL): status timeout,
nothing of its uid survives, the sandbox keeps grading."""

from __future__ import annotations

import pytest

from tests.adversarial.attack_helpers import (
    assert_no_procs,
    assert_survives,
    ex2,
    grade_quick,
    procs_of_uid,
    zygote_pids,
)

IGNORE_ALL = (
    "import signal, time\n"
    "for s in signal.Signals:\n"
    "    try:\n"
    "        signal.signal(s, signal.SIG_IGN)\n"
    "    except (OSError, ValueError, RuntimeError):\n"
    "        pass\n"
)

SOURCES = {
    "ignore-then-sleep": ex2(header=IGNORE_ALL, before="    time.sleep(10**6)\n"),
    "ignore-then-spin": ex2(header=IGNORE_ALL, before="    while True:\n        pass\n"),
    # Ignoring SIGXCPU does not beat the CPU limit: the hard limit's SIGKILL follows.
    "ignore-sigxcpu": ex2(header=IGNORE_ALL, before="    while True:\n        pass\n"),
    # A handler that swallows SIGTERM/SIGINT and keeps going.
    "handler-swallows": ex2(header=(
        "import signal, time\n"
        "def handler(*args):\n"
        "    print('nope', flush=True)\n"
        "for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT):\n"
        "    signal.signal(s, handler)\n"), before="    time.sleep(10**6)\n"),
}


@pytest.mark.parametrize("name", [n for n in SOURCES if n != "ignore-sigxcpu"])
def test_ignored_signals_do_not_save_it(sandbox, name: str) -> None:
    trusted = zygote_pids(sandbox)
    result = grade_quick(sandbox, SOURCES[name], wall_seconds=0.5, cpu_seconds=10)
    assert result.status == "timeout", (result.status, result.message)
    assert result.score == 0
    assert "within 0.5 s" in result.message, result.message
    assert_no_procs(sandbox.slot.uid)
    assert_survives(sandbox, trusted)


@pytest.fixture(scope="module")
def sigxcpu_ignored(sandbox):
    """Grade the SIGXCPU-ignoring spinner once; return (result, leftover pids, trusted)."""
    trusted = zygote_pids(sandbox)
    result = grade_quick(sandbox, SOURCES["ignore-sigxcpu"], wall_seconds=8, cpu_seconds=1)
    leftovers = procs_of_uid(sandbox.slot.uid)
    return result, leftovers, trusted


def test_ignoring_sigxcpu_is_still_killed(sandbox, sigxcpu_ignored) -> None:
    result, leftovers, trusted = sigxcpu_ignored
    # Ended by the CPU hard limit (1 + 2 s of CPU), well before the 8 s wall clock — unless
    # the machine is so loaded that 3 s of CPU take longer than that; never later than it.
    assert result.status != "graded" and result.score == 0, result.message
    assert not leftovers
    assert_survives(sandbox, trusted)


def test_ignoring_sigxcpu_reports_cpu_time(sigxcpu_ignored) -> None:
    result = sigxcpu_ignored[0]
    assert result.status == "timeout", (result.status, result.message)
    assert "CPU" in result.message, result.message

"""Daemons: a double-forked, setsid()'d process that left the job's session and process group
and loops writing a file. The zygote kills every process of the sandbox's uid when the job ends,
so none survives grade() — however it disguises or hides itself."""

from __future__ import annotations

import time

import pytest

from tests.adversarial.attack_helpers import (
    assert_no_procs,
    assert_survives,
    ex2,
    grade_quick,
    kill_leftovers,
    procs_of_uid,
    zygote_pids,
)

DAEMONIZE = '''
import os, signal, threading, time
def libc():
    # ctypes may be refused by the autograd guard: then the daemon just runs undisguised.
    try:
        import ctypes
        return ctypes.CDLL(None)
    except Exception as exc:
        print("no ctypes:", type(exc).__name__, flush=True)
        return None
def prctl(*args):
    lib = libc()
    if lib is not None:
        try:
            lib.prctl(*args, 0, 0, 0)
        except Exception:
            pass
def daemon_body():
    n = 0
    while True:
        n += 1
        try:
            with open("heartbeat", "a") as f:
                f.write(f"{n}\\n")
        except OSError:
            pass
        time.sleep(0.05)
def daemonize(variant):
    if os.fork() != 0:
        return
    os.setsid()
    if os.fork() != 0:
        os._exit(0)
    for s in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(s, signal.SIG_IGN)
    if variant == "disguised":
        prctl(15, b"kworker/0:1")   # PR_SET_NAME
        prctl(1, 0)                 # PR_SET_PDEATHSIG: none
    if variant == "undumpable":
        prctl(4, 0)                 # PR_SET_DUMPABLE 0: /proc/PID owned by root
    if variant == "hopping":
        while True:                               # a new pid every 20 ms
            if os.fork() != 0:
                os._exit(0)
            time.sleep(0.02)
    if variant == "zombie-leader":
        # The thread-group leader exits, another thread runs on: /proc/PID/stat says Z.
        try:
            threading.Thread(target=daemon_body).start()
            libc().pthread_exit(None)
        except Exception as exc:
            print("refused:", exc, flush=True)
    daemon_body()
    os._exit(0)
'''


def source(variant: str) -> str:
    """Daemonize in the first call only (one daemon is enough), then answer correctly."""
    return ex2(header=DAEMONIZE + "STARTED = []\n",
               before=f"    if not STARTED:\n        STARTED.append(1)\n"
                      f"        daemonize({variant!r})\n        time.sleep(0.1)\n")


QUICK_WALL = 5  # attack_helpers.QUICK_LIMITS


def _check_result(result) -> None:
    # The kernel refuses fork() (seccomp): the daemon is never born and the case that tried
    # fails with EPERM. "violation": the autograd guard refuses ctypes first. Either way, what
    # matters below is that nothing of the uid survives.
    assert result.status in ("graded", "violation"), result.message
    if result.status == "graded":
        assert result.score == 0 and "Operation not permitted" in result.message, \
            result.message


@pytest.mark.parametrize("variant", ["plain", "disguised", "undumpable", "hopping"])
def test_no_daemon_survives_grade(sandbox, variant: str) -> None:
    trusted = zygote_pids(sandbox)
    result = grade_quick(sandbox, source(variant))
    # Right after grade() returns: nothing of the uid, and it stays that way.
    assert_no_procs(sandbox.slot.uid)
    time.sleep(0.2)
    assert_no_procs(sandbox.slot.uid)
    _check_result(result)
    assert_survives(sandbox, trusted)


@pytest.fixture(scope="module")
def zombie_leader_run(sandbox):
    """Grade the zombie-leader daemon; return the survivors seen right after grade() and
    0.5 s later (then kill them from here, so that they cannot disturb later tests)."""
    try:
        result = grade_quick(sandbox, source("zombie-leader"))
        first = procs_of_uid(sandbox.slot.uid)
        time.sleep(0.5)
        later = procs_of_uid(sandbox.slot.uid)
    finally:
        kill_leftovers(sandbox.slot.uid)
    after = grade_quick(sandbox, ex2())
    return result, first, later, after


def test_zombie_leader_daemon_does_not_survive(zombie_leader_run) -> None:
    """Survives only if the submission can call pthread_exit (ctypes): the autograd guard
    refuses ctypes; if it ever does not, _kill_uid's blind spot (below) shows here."""
    result, first, later, after = zombie_leader_run
    _check_result(result)
    assert after.status == "graded" and after.score == 1.0, after.message
    assert not first, f"survivors right after grade(): {first}"
    assert not later, f"survivors 0.5 s later: {later}"


ZOMBIE_LEADER = """
import ctypes, os, threading, time
os.setgid({uid}); os.setuid({uid})
def run():
    while True:
        time.sleep(0.05)
threading.Thread(target=run).start()
print("ready", flush=True)
ctypes.CDLL(None).pthread_exit(None)
"""


def test_kill_uid_kills_a_zombie_leader_process() -> None:
    import subprocess
    import sys

    from grader.sandbox import jail, zygote

    slot = jail.reserve_slot()  # a uid no sandbox uses right now
    try:
        proc = subprocess.Popen([sys.executable, "-c", ZOMBIE_LEADER.format(uid=slot.uid)],
                                stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        time.sleep(0.1)
        assert procs_of_uid(slot.uid) == [proc.pid]  # alive, though /proc says Z
        zygote._kill_uid(slot.uid)
        time.sleep(0.1)
        assert procs_of_uid(slot.uid) == [], "_kill_uid left a process of the uid alive"
    finally:
        kill_leftovers(slot.uid)
        proc.wait(timeout=5)
        slot.release()


def test_nested_fork_prints_no_grader_traceback(sandbox) -> None:
    result = grade_quick(sandbox, source("plain"))
    assert "grader/" not in result.stdout and "Exception ignored" not in result.stdout, \
        result.stdout[:1000]

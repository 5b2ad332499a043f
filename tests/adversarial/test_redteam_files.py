"""Red team: writing outside the job directory, process memory, and dumpability — with the
bubblewrap jail and without it (``Sandbox(bwrap="off")``, where the child shares the host's
file system and gets private tmpfs mounts on /tmp, /var/tmp and /dev/shm).

Expected: no file appears on the host (checked from this, the trusted, process, under a
unique name), reopening a read-only descriptor for writing through ``/dev/fd/N`` or
``/proc/self/fd/N`` fails (or is a violation), ``/proc/self/mem`` opened for writing and
``ctypes`` (for ``prctl(PR_SET_DUMPABLE, 1)``) are violations, and the child is non-dumpable in
both modes — seen from inside (``/proc/self/environ`` owned by root) and from outside (the
host's ``/proc/PID/environ`` of the running child owned by root, with a dumpable control
process showing its own uid). (The ``/proc/PID`` directory itself always shows the euid;
its non-world-readable files follow dumpability.)
"""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from pathlib import Path

import pytest

from grader.sandbox import Sandbox
from tests.adversarial.attack_helpers import (
    assert_survives,
    ex2,
    grade_quick,
    procs_of_uid,
    zygote_pids,
)


@pytest.fixture(params=["bwrap", "no-bwrap"])
def any_sandbox(request, sandbox):
    return sandbox if request.param == "bwrap" else request.getfixturevalue("off_sandbox")


HOST_DIRS = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock", "/var/lock")

PROBE = '''
TAG = {tag!r}
def attempt(label, fn):
    try:
        fn()
        print("WROTE", label, flush=True)
    except Exception as e:
        print("DENIED", label, type(e).__name__, flush=True)
def write_everywhere():
    for d in {dirs!r}:
        attempt(d, lambda d=d: open(d + "/" + TAG, "w").write("x"))
        attempt("os.open " + d, lambda d=d: os.close(os.open(d + "/" + TAG + "-b",
                os.O_WRONLY | os.O_CREAT, 0o666)))
        attempt("mkdir " + d, lambda d=d: os.mkdir(d + "/" + TAG + "-d"))
    attempt("../", lambda: open("../" + TAG, "w").write("x"))
    attempt("../../", lambda: open("../../" + TAG, "w").write("x"))
    attempt("rename ..", lambda: os.rename("..", TAG))
    ro = os.open(torch.__file__, os.O_RDONLY)
    attempt("/dev/fd r+b", lambda: open("/dev/fd/%d" % ro, "r+b").write(b"#"))
    attempt("/dev/fd O_RDWR", lambda: os.open("/dev/fd/%d" % ro, os.O_RDWR))
    attempt("/dev/fd O_APPEND", lambda: os.open("/dev/fd/%d" % ro, os.O_WRONLY | os.O_APPEND))
    attempt("fd write", lambda: os.write(ro, b"#"))
    attempt("truncate", lambda: os.truncate(torch.__file__, 0))
    attempt("chmod", lambda: os.chmod(torch.__file__, 0o666))
    print("SELF_OWNER", os.stat("/proc/self/environ").st_uid, "UID", os.getuid(), flush=True)
'''


def _host_has(tag: str) -> list[str]:
    found = []
    for d in HOST_DIRS:
        if not os.path.isdir(d):
            continue
        found += [f"{d}/{n}" for n in os.listdir(d) if tag in n]
    return found


def test_no_write_reaches_the_host(any_sandbox) -> None:
    sb = any_sandbox
    tag = f"redteam-{uuid.uuid4().hex}"
    torch_file = Path(__import__("torch").__file__)
    before = torch_file.stat()
    src = ex2(header="import os\n" + PROBE.format(tag=tag, dirs=HOST_DIRS),
              before="    write_everywhere()\n")
    trusted, restarts = zygote_pids(sb), sb.restarts
    result = grade_quick(sb, src)
    assert (result.status, result.score) == ("graded", 1.0), (result.message, result.stdout)
    out = result.stdout
    assert "DENIED /dev/fd r+b" in out, out  # the probe ran to the end
    assert "WROTE" not in out, [line for line in out.splitlines() if "WROTE" in line]
    assert _host_has(tag) == [], _host_has(tag)
    after = torch_file.stat()
    assert (after.st_size, after.st_mtime_ns, after.st_mode) == \
        (before.st_size, before.st_mtime_ns, before.st_mode)
    # non-dumpable, seen from inside: /proc/self/environ belongs to root, not the child
    owner = [line for line in out.splitlines() if line.startswith("SELF_OWNER")][0].split()
    assert owner[1] == "0" and (sb.slot.uid is None or owner[3] == str(sb.slot.uid)), owner
    assert sb.restarts == restarts
    assert_survives(sb, trusted)


def test_positive_control_the_probe_writes_without_a_sandbox(tmp_path: Path) -> None:
    """Run the probe's writing code here, unsandboxed, in a scratch directory: it reports
    WROTE (so 'no WROTE' above means the sandbox refused, not that the probe is broken)."""
    tag = f"redteam-ctl-{uuid.uuid4().hex}"
    ns: dict = {"os": os, "torch": __import__("torch")}
    exec(PROBE.format(tag=tag, dirs=(str(tmp_path),)), ns)
    wrote = []
    ns["print"] = lambda *a, **k: wrote.append(" ".join(map(str, a)))
    ns["attempt"]("scratch", lambda: (tmp_path / tag).write_text("x"))
    assert wrote == ["WROTE scratch"], wrote
    assert (tmp_path / tag).exists()


#: Writing where the guards live: violations (process memory, ctypes).
MEMORY = {
    "proc-self-mem-rb+": "    open('/proc/self/mem', 'rb+')\n    print('MEM_OPEN')\n",
    "proc-pid-mem-os-open": "    os.open('/proc/%d/mem' % os.getpid(), os.O_RDWR)\n"
                            "    print('MEM_OPEN')\n",
    "proc-self-fd-reopen-rw": "    ro = os.open(torch.__file__, os.O_RDONLY)\n"
                              "    open('/proc/self/fd/%d' % ro, 'r+b').write(b'#')\n"
                              "    print('MEM_OPEN')\n",
    "proc-self-fd-os-open-rdwr": "    ro = os.open(torch.__file__, os.O_RDONLY)\n"
                                 "    os.open('/proc/self/fd/%d' % ro, os.O_RDWR)\n"
                                 "    print('MEM_OPEN')\n",
    "proc-dir-fd-mem": "    d = os.open('/proc/self', os.O_RDONLY)\n"
                       "    os.open('mem', os.O_RDWR, dir_fd=d)\n    print('MEM_OPEN')\n",
    "dev-fd-to-proc-mem": "    m = os.open('/proc/self/mem', os.O_RDONLY)\n"
                          "    open('/dev/fd/%d' % m, 'r+b')\n    print('MEM_OPEN')\n",
    "prctl-dumpable-ctypes": "    import ctypes\n"
                             "    print('PRCTL', ctypes.CDLL(None).prctl(4, 1, 0, 0, 0))\n"
                             "    print('MEM_OPEN')\n",
    "prctl-dumpable-cdll-loadlibrary": "    import ctypes\n"
                                       "    libc = ctypes.cdll.LoadLibrary('libc.so.6')\n"
                                       "    libc.prctl(4, 1, 0, 0, 0)\n"
                                       "    print('MEM_OPEN')\n",
    "prctl-dumpable-pythonapi": "    import ctypes\n"
                                "    ctypes.pythonapi.PyOS_getsig(2)\n    print('MEM_OPEN')\n",
}


@pytest.mark.parametrize("name", list(MEMORY))
def test_process_memory_and_dumpability_are_off_limits(any_sandbox, name: str) -> None:
    sb = any_sandbox
    trusted, restarts = zygote_pids(sb), sb.restarts
    result = grade_quick(sb, ex2(header="import os\n", before=MEMORY[name]))
    assert result.score == 0, (result.status, result.message)
    assert result.status in ("violation", "error"), result.message
    assert "MEM_OPEN" not in result.stdout and "PRCTL" not in result.stdout
    assert sb.restarts == restarts
    assert_survives(sb, trusted)


#: The child sleeps inside backward (first call only) so that it can be looked at.
SLEEPER = ex2(header="import time\nSLEPT = []\n",
              before="    if not SLEPT:\n        SLEPT.append(1)\n"
                     "        print('SLEEPING', flush=True)\n        time.sleep(3)\n")


def _owner_while_running(sb: Sandbox) -> tuple[int, int]:
    """Grade SLEEPER in a thread; return (pid, owner of /proc/PID) of the running child."""
    result: dict = {}
    th = threading.Thread(target=lambda: result.setdefault("r", grade_quick(sb, SLEEPER)))
    th.start()
    try:
        deadline = time.monotonic() + 20
        pids: list[int] = []
        while time.monotonic() < deadline and not pids:
            pids = procs_of_uid(sb.slot.uid)
            time.sleep(0.02)
        assert len(pids) == 1, pids
        pid = pids[0]
        return pid, os.stat(f"/proc/{pid}/environ").st_uid
    finally:
        th.join(60)
        r = result.get("r")
        assert r is not None and (r.status, r.score) == ("graded", 1.0), r and r.message


@pytest.mark.skipif(os.geteuid() != 0, reason="needs a sandbox uid (the grader as root)")
def test_child_is_not_dumpable_seen_from_outside(any_sandbox) -> None:
    sb = any_sandbox
    pid, owner = _owner_while_running(sb)
    assert owner == 0 != sb.slot.uid, (pid, owner, sb.slot.uid)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs to change uid for the control")
def test_positive_control_a_dumpable_process_shows_its_uid() -> None:
    """A dumpable process of another uid: /proc/PID/environ belongs to that uid (so the
    check above would see a dumpable child)."""
    uid = 65534
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover — the child
        try:
            os.close(r)
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
            import ctypes
            ctypes.CDLL(None).prctl(4, 1, 0, 0, 0)  # PR_SET_DUMPABLE 1 (setuid cleared it)
            os.write(w, b"x")
            time.sleep(30)
        finally:
            os._exit(0)
    try:
        os.close(w)
        assert os.read(r, 1) == b"x"
        assert os.stat(f"/proc/{pid}/environ").st_uid == uid
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(r)


# -- findings --------------------------------------------------------------------------------

#: A harmless print through /dev/stdout (an honest student's spelling).
DEV_STDOUT = ex2(before="    with open('/dev/stdout', 'w') as f:\n"
                        "        f.write('hello from a student\\n')\n")


def test_writing_to_dev_stdout_is_no_violation(sandbox) -> None:
    """Was a false positive (a violation). Landlock allows writes beneath the job directory
    only, and the output pipe has no path: reopening it through /dev/stdout is refused, a
    plain error (print() and sys.stdout work), never an accusation."""
    result = grade_quick(sandbox, DEV_STDOUT)
    assert result.status != "violation", result.message
    assert "Permission denied: '/dev/stdout'" in result.message, result.message


#: Write a file in the job directory, read it back.
READ_BACK = ex2(header="import os\n",
                before="    with open('mine', 'w') as f:\n        f.write('abc')\n"
                       "    with open('mine') as f:\n        assert f.read() == 'abc'\n")


def test_job_files_read_back_with_bwrap(sandbox) -> None:
    result = grade_quick(sandbox, READ_BACK)
    assert (result.status, result.score) == ("graded", 1.0), result.message


def test_job_files_read_back_without_bwrap(off_sandbox) -> None:
    """Was broken: the read layer was built before the private /tmp was mounted over the
    host's. The zygote now mounts it first (for all its children) and builds the layer after."""
    result = grade_quick(off_sandbox, READ_BACK)
    assert (result.status, result.score) == ("graded", 1.0), result.message

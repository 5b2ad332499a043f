"""The fallback without bubblewrap: `Sandbox(bwrap="off")`, a bwrap path that does not exist, or
BACKPROP_BWRAP=off. It must say so loudly (a warning on grader.sandbox.host that starts
"SANDBOX WITHOUT FILESYSTEM JAIL"), and still cut the network (own network namespace), drop to
the sandbox uid, grade correctly and leave nothing behind. A bwrap that exists but cannot run
must fail closed, never run the submission unjailed."""

from __future__ import annotations

import logging
import os
import uuid
from pathlib import Path

import pytest

from grader.sandbox import Sandbox, SandboxError, jail
from tests.adversarial.attack_helpers import (
    CORRECT_EX2,
    EX2,
    assert_no_procs,
    assert_survives,
    ex2,
    grade_quick,
    reachable,
    zygote_pids,
)

LOGGER = "grader.sandbox.host"
WARNING_START = "SANDBOX WITHOUT FILESYSTEM JAIL"


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def _warned(records: list[logging.LogRecord]) -> bool:
    return any(r.name == LOGGER and r.levelno >= logging.WARNING
               and r.getMessage().startswith(WARNING_START) for r in records)


@pytest.fixture(scope="module")
def off_sandbox():
    """A sandbox without bwrap, and the log records of its creation."""
    handler = _Records()
    logger = logging.getLogger(LOGGER)
    logger.addHandler(handler)
    try:
        sb = Sandbox(bwrap="off")
    finally:
        logger.removeHandler(handler)
    with sb:
        sb.ensure_ready()
        yield sb, handler.records


def _discard(sb: Sandbox) -> None:
    """Close a sandbox we only built to see its warning, without waiting for its torch import."""
    assert sb._proc is not None
    sb._proc.kill()
    sb.close()


def test_off_warns_loudly(off_sandbox) -> None:
    sb, records = off_sandbox
    assert sb.bwrap is None
    assert _warned(records), [r.getMessage() for r in records]


@pytest.mark.parametrize("how", ["/nonexistent/bwrap", "env-off"])
def test_missing_bwrap_warns_loudly(how: str, caplog, monkeypatch) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)
    if how == "env-off":
        monkeypatch.setenv("BACKPROP_BWRAP", "off")
        sb = Sandbox()
    else:
        sb = Sandbox(bwrap=how)
    try:
        assert sb.bwrap is None
        assert _warned(caplog.records), caplog.text
    finally:
        _discard(sb)


def test_with_bwrap_there_is_no_warning(caplog) -> None:
    """Control: the warning is specific to the fallback (so the tests above can fail)."""
    caplog.set_level(logging.WARNING, logger=LOGGER)
    sb = Sandbox()
    try:
        assert sb.bwrap is not None
        assert not _warned(caplog.records), caplog.text
    finally:
        _discard(sb)


def test_off_still_grades_and_isolates(off_sandbox, tmp_path: Path) -> None:
    sb, _ = off_sandbox
    for host, port in [("127.0.0.1", 6379), ("127.0.0.1", 5432)]:
        assert reachable(host, port), f"{host}:{port} must be up for this test to mean much"
    me = os.getpid()
    canary = tmp_path / "canary"
    canary.write_text("untouched")
    probe = f'''
import os, socket
print("UID", os.getuid(), os.geteuid())
for port in (6379, 5432):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1)
        print("CONNECTED", port)
    except OSError as exc:
        print("BLOCKED", port, exc)
for what, fn in (("grader", lambda: os.kill({me}, 9)), ("all", lambda: os.kill(-1, 9)),
                 ("ppid", lambda: os.kill(os.getppid(), 9))):
    try:
        fn()
        print("SIGNALLED", what)
    except OSError as exc:
        print("REFUSED", what, type(exc).__name__)
try:
    print("READ", open("/proc/{me}/environ", "rb").read()[:50])
except OSError as exc:
    print("UNREADABLE", type(exc).__name__)
try:
    open({str(canary)!r}, "a").write("pwned")
    print("WROTE")
except OSError as exc:
    print("DENIED", type(exc).__name__)
'''
    trusted = zygote_pids(sb)
    result = grade_quick(sb, probe + CORRECT_EX2)
    assert result.status == "graded" and result.score == EX2.max_score, result.message
    out = result.stdout
    assert f"UID {sb.slot.uid} {sb.slot.uid}" in out, out
    assert "CONNECTED" not in out and "BLOCKED 6379" in out and "BLOCKED 5432" in out, out
    assert "REFUSED grader" in out and "REFUSED ppid" in out, out
    assert "WROTE" not in out and canary.read_text() == "untouched", out
    assert "UNREADABLE" in out and "READ" not in out.replace("UNREADABLE", ""), out
    assert os.getpid() == me
    assert_no_procs(sb.slot.uid)
    assert_survives(sb, trusted)


def test_off_kills_daemons_and_bombs(off_sandbox) -> None:
    sb, _ = off_sandbox
    src = ex2(header="import os\nSTARTED = []\n", before=(
        "    if not STARTED:\n"
        "        STARTED.append(1)\n"
        "        for _ in range(8):\n"
        "            try:\n"
        "                if os.fork() == 0:\n"
        "                    os.setsid()\n"
        "                    while True:\n"
        "                        pass\n"
        "            except OSError:\n"
        "                pass\n"))
    trusted = zygote_pids(sb)
    result = grade_quick(sb, src)
    assert result.status == "graded" and result.score == 1.0, result.message
    assert_no_procs(sb.slot.uid)
    assert_survives(sb, trusted)


def test_off_blocks_unix_sockets_of_local_services(off_sandbox) -> None:
    sb, _ = off_sandbox
    path = "/var/run/postgresql/.s.PGSQL.5432"
    if not os.path.exists(path):
        pytest.skip("no PostgreSQL Unix socket on this machine")
    probe = f'''
import socket
s = socket.socket(socket.AF_UNIX)
s.settimeout(1)
try:
    s.connect({path!r})
    print("CONNECTED")
except OSError as exc:
    print("BLOCKED", exc)
'''
    result = grade_quick(sb, probe + CORRECT_EX2)
    assert "BLOCKED" in result.stdout, result.stdout


def test_unrunnable_bwrap_fails_closed(tmp_path: Path) -> None:
    """A bwrap that exists but cannot run must not degrade into running the code unjailed."""
    drop = Path(f"/tmp/backprop-adversarial-{uuid.uuid4().hex}")
    drop.mkdir(mode=0o777)
    drop.chmod(0o777)
    marker = drop / "ran-unjailed"
    src = f"open({str(marker)!r}, 'w').write('x')\n" + CORRECT_EX2
    try:
        with Sandbox(bwrap="/bin/false") as sb:
            from grader import grade

            with pytest.raises(SandboxError):
                grade(EX2, src, sandbox=sb)
        assert not marker.exists()
    finally:
        marker.unlink(missing_ok=True)
        drop.rmdir()


def test_jail_warning_text() -> None:
    assert jail.JAIL_WARNING.startswith(WARNING_START)

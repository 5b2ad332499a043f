"""Issue 14 red team, the local sockets: another user's process listening where a client of
``backprop`` connects (the preloader's ``admin.sock``, the check daemon's ``check.sock``).

``run/`` is checked to be the user's own 0700 folder, but a client that connects without
asking who listens trusts a path: in a shared or pre-created ``BACKPROP_HOME`` another user
can rename ``run/`` away between the check and the connect. The squatter here is a real
process of uid 65534 (nobody) listening on the instance's socket path (bound by this uid,
which is what a won race looks like from the client); it records what it is sent.

Both clients ask the kernel who listens (``SO_PEERCRED``) before sending anything: the
preloader's client its descriptors and environment, the check daemon's client the submission.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli import daemon, preload

NOBODY = 65534

pytestmark = pytest.mark.skipif(os.getuid() != 0, reason="needs root to be another user")


def _squat(path: Path, reply: dict | None) -> tuple[int, int]:
    """Listen on ``path`` as uid nobody in a forked child; return (pid, pipe to read).

    The child accepts one connection, reads what comes for two seconds (counting passed
    descriptors), answers ``reply`` (framed as the daemons frame) and writes a JSON summary
    of what it got to the pipe.
    """
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    read, write = os.pipe()
    pid = os.fork()
    if pid:
        listener.close()
        os.close(write)
        assert os.read(read, 1) == b"L", "the squatter did not get to listen"
        return pid, read
    got = {"bytes": 0, "fds": 0}  # pragma: no cover - the child
    try:
        os.close(read)
        os.setgid(NOBODY)
        os.setuid(NOBODY)
        listener.listen(1)  # the peer credentials a client sees are the listener's, now
        os.write(write, b"L")
        listener.settimeout(20)
        conn, _ = listener.accept()
        conn.settimeout(2)
        try:
            while True:
                data, fds, _, _ = socket.recv_fds(conn, 1 << 16, 8)
                for fd in fds:
                    os.close(fd)
                got["fds"] += len(fds)
                got["bytes"] += len(data)
                if not data:
                    break
                if reply is not None and got["bytes"] >= 4:
                    body = json.dumps(reply).encode()
                    conn.sendall(struct.pack("!I", len(body)) + body)
                    reply = None
        except OSError:
            pass
    except BaseException as exc:  # noqa: BLE001 - reported through the pipe
        got["error"] = repr(exc)
    os.write(write, json.dumps(got).encode())
    os._exit(0)


def _report(pid: int, read: int) -> dict:
    os.waitpid(pid, 0)
    with os.fdopen(read) as pipe:
        return json.loads(pipe.read())


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path / "home"
    monkeypatch.setenv("BACKPROP_HOME", str(home))
    monkeypatch.setenv(preload.STAMP_ENV, "pinned")
    monkeypatch.delenv(preload.DISABLE_ENV, raising=False)
    daemon.paths(home).prepare()
    yield home
    # Should a client have started a real preloader or daemon after all: stop it.
    for name in ("admin.pid", "daemon.pid"):
        with contextlib.suppress(OSError, ValueError):
            pid = int((home / "run" / name).read_text())
            if b"cli." in Path(f"/proc/{pid}/cmdline").read_bytes():
                os.kill(pid, signal.SIGTERM)


def test_the_preloader_client_hands_nothing_to_another_users_listener(
        home: Path, capfd: pytest.CaptureFixture[str]) -> None:
    pid, read = _squat(home / "run" / "admin.sock", reply={"pid": 1})
    assert preload.run(["user", "list"]) is None  # the command then runs cold
    got = _report(pid, read)
    assert "error" not in got, got
    assert got["fds"] == 0 and got["bytes"] == 0, got
    assert f"served by uid {NOBODY}, not you" in capfd.readouterr().err
    assert not (home / "run" / "admin.lock").exists()  # no preloader was started for it


def _wire_header_matches() -> bool:
    return daemon._HEADER.format in ("!I", ">I")


def test_the_check_client_sends_no_submission_to_another_users_listener(home: Path) -> None:
    assert _wire_header_matches()
    forged = {"ok": True, "result": {"exercise": "makemore4/ex1", "status": "graded",
                                     "score": 26.0, "max_score": 26.0}}
    pid, read = _squat(daemon.paths(home).socket, reply=forged)
    secret = b"def backward(t):\n    return {}  # SECRET-SOLUTION\n"
    try:
        result = daemon.check(secret, "makemore4/ex1", where=daemon.paths(home))
    except daemon.DaemonError:
        result = None
    got = _report(pid, read)
    assert "error" not in got, got
    assert got["bytes"] == 0, f"the squatter got {got['bytes']} bytes of the request"
    assert result is None

"""The administration commands' warm preloader (cli/preload.py), run as a user would: real
``backprop`` processes on a fresh instance, a real preloader forking real children."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

BACKPROP = str(Path(sys.executable).with_name("backprop"))


@pytest.fixture
def env(tmp_path: Path) -> Iterator[dict[str, str]]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "REDIS_URL", "BACKPROP_NO_PRELOAD")}
    env["BACKPROP_HOME"] = str(tmp_path / "home")
    env["BACKPROP_PRELOAD_STAMP"] = "pinned"  # the tree may be edited while tests run
    yield env
    for pid in _preloaders(tmp_path / "home"):
        _stop(pid)


def run(env: dict[str, str], *args: str, stdin: str | None = None) \
        -> subprocess.CompletedProcess[str]:
    return subprocess.run([BACKPROP, *args], capture_output=True, text=True, timeout=120,
                          env=env, input=stdin, stdin=None if stdin else subprocess.DEVNULL)


def _log(home: Path) -> str:
    path = home / "logs" / "preload.log"
    return path.read_text() if path.exists() else ""


def _preloaders(home: Path) -> list[int]:
    """Return the pids of running preloaders of this instance (from their log)."""
    pids = []
    for line in _log(home).splitlines():
        if line.startswith("preload: pid ") and "ready" in line:
            pid = int(line.split()[2])
            if Path(f"/proc/{pid}").exists() and b"cli.preload" in \
                    Path(f"/proc/{pid}/cmdline").read_bytes():
                pids.append(pid)
    return pids


def _stop(pid: int) -> None:
    try:
        os.kill(pid, 15)
    except ProcessLookupError:
        return
    _until(lambda: not Path(f"/proc/{pid}").exists() or
           Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z")


def _until(condition, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.1)


def _ready(home: Path) -> int:
    """Wait for a preloader of ``home`` to listen; return its pid."""
    _until(lambda: (home / "run" / "admin.sock").exists() and _preloaders(home))
    return _preloaders(home)[-1]


def test_admin_commands_run_in_the_preloader_as_they_would_cold(env: dict[str, str]) -> None:
    home = Path(env["BACKPROP_HOME"])
    first = run(env, "user", "add", "prof@example.org", "--role", "instructor", "--password",
                "a long password")
    assert first.returncode == 0, first.stderr  # cold: nothing was running
    pid = _ready(home)
    out = run(env, "token", "prof@example.org")
    assert out.returncode == 0 and len(out.stdout.strip()) >= 32, out.stderr
    assert "['token'] in pid" in _log(home)  # it ran in a child of the preloader
    # The same refusal, word for word and with the same status, warm and cold.
    warm = run(env, "user", "add", "prof@example.org")
    cold = run({**env, "BACKPROP_NO_PRELOAD": "1"}, "user", "add", "prof@example.org")
    assert warm.returncode == cold.returncode == 2
    assert warm.stderr == cold.stderr and "already exists" in warm.stderr
    # Standard input reaches the child (a roster piped in), and so does the working folder.
    assert run(env, "course", "add", "CS1", "--instructor", "prof@example.org").returncode == 0
    out = run(env, "roster", "import", "CS1", "-", stdin="email,name\nada@example.org,Ada\n")
    assert out.returncode == 0 and "1 added" in out.stdout, out.stderr
    (home.parent / "grades").mkdir()
    out = subprocess.run([BACKPROP, "gradebook", "CS1", "-o", "book.csv"], env=env,
                         cwd=home.parent / "grades", capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "ada@example.org" in (home.parent / "grades" / "book.csv").read_text()
    assert _preloaders(home) == [pid]  # one preloader served them all
    # It never imported torch (no libtorch mapped), so neither did its children.
    assert "libtorch" not in Path(f"/proc/{pid}/maps").read_text()


def test_a_preloader_of_other_code_is_replaced(env: dict[str, str]) -> None:
    home = Path(env["BACKPROP_HOME"])
    old_env = {**env, "BACKPROP_PRELOAD_STAMP": "older"}
    assert run(old_env, "user", "add", "a@example.org", "--password", "").returncode == 0
    old = _ready(home)
    out = run(env, "token", "a@example.org")  # newer code: the old one must not run it
    assert out.returncode == 0, out.stderr
    assert "['token']" not in _log(home)
    _until(lambda: old not in _preloaders(home))  # it made way ...
    new = _ready(home)  # ... for one of the current code
    assert new != old
    assert run(env, "token", "a@example.org").returncode == 0
    assert "['token'] in pid" in _log(home)
    out = run(env, "daemon", "stop")  # stops the preloader too
    assert f"stopped the admin commands' preloader (pid {new})" in out.stdout, out.stderr
    _until(lambda: new not in _preloaders(home))


def test_only_its_own_user_may_connect(env: dict[str, str]) -> None:
    home = Path(env["BACKPROP_HOME"])
    assert run(env, "user", "add", "a@example.org", "--password", "").returncode == 0
    _ready(home)
    if os.getuid() != 0:
        pytest.skip("needs root to try as another user")
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # another user, trying the socket
        os.close(read)
        outcome = b"connected"
        try:
            os.setgid(65534)
            os.setuid(65534)
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.connect(str(home / "run" / "admin.sock"))
        except PermissionError:
            outcome = b"refused"
        except BaseException as exc:  # noqa: BLE001
            outcome = repr(exc).encode()
        os.write(write, outcome)
        os._exit(0)
    os.close(write)
    os.waitpid(child, 0)
    assert os.read(read, 200) == b"refused"
    os.close(read)
    assert oct((home / "run").stat().st_mode & 0o777) == "0o700"


def test_it_exits_when_idle_and_is_restarted(env: dict[str, str]) -> None:
    home = Path(env["BACKPROP_HOME"])
    idle = {**env, "BACKPROP_PRELOAD_IDLE": "3"}
    assert run(idle, "user", "add", "a@example.org", "--password", "").returncode == 0
    _until(lambda: " ready " in _log(home))  # the cold command started one ...
    _until(lambda: not _preloaders(home))  # ... which left once idle
    assert not (home / "run" / "admin.sock").exists()
    assert run(idle, "token", "a@example.org").returncode == 0  # cold again, and it restarts
    _until(lambda: _log(home).count(" ready ") >= 2)

"""A warm preloader for the administration commands (``user``, ``token``, ``course``, …).

These commands never import torch, but they import the web application's stack (Flask,
SQLAlchemy, Alembic, the models, the services): on a small machine that alone costs a
third to a half of ``python -c "import torch"``, for work that takes milliseconds. Rails'
Spring solves the same problem: a background process keeps the libraries imported and
**forks one child per command**. The child gets the caller's argv, environment, working
folder and its three standard descriptors (passed over the socket with ``SCM_RIGHTS``),
so a password prompt, a pipe or a redirect behave exactly as in a cold run; the caller
waits for the child's exit status and forwards Ctrl-C to it.

Nothing here is needed for correctness: whenever the preloader is missing, from an older
version of the code, busy starting or refused, the command runs cold in the caller's own
process (today's behaviour) and a preloader is started in the background for next time.
``BACKPROP_NO_PRELOAD=1`` turns it off. The preloader lives in the instance's private
``run/`` folder (0700, a socket checked with ``SO_PEERCRED``, like the check daemon),
imports nothing until it is asked to run a command it has not imported, never imports
torch, and exits after ``BACKPROP_PRELOAD_IDLE`` seconds (default 600) without work or
when its instance folder is deleted.

The wire: the caller sends one byte carrying its descriptors 0, 1 and 2, then a framed
JSON request ``{"stamp", "argv", "env", "cwd"}``; the preloader answers ``{"pid": P}``
once the child is forked and ``{"exit": N}`` when it ends, or ``{"error": why}``.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

#: The commands worth preloading: they read the database and never grade.
COMMANDS = frozenset({"user", "token", "course", "assignment", "extension", "gradebook",
                      "roster", "db"})
DISABLE_ENV = "BACKPROP_NO_PRELOAD"
IDLE_ENV = "BACKPROP_PRELOAD_IDLE"
#: Pins the version stamp (the tests: the tree they run from may be edited meanwhile).
STAMP_ENV = "BACKPROP_PRELOAD_STAMP"
DEFAULT_IDLE = 600.0
#: How long a new preloader waits for the instance's lock before leaving it to its holder.
LOCK_WAIT = 10.0
#: What the preloader imports before it forks: everything the commands above use.
WARM = ("cli.main", "cli.service", "cli.course", "cli.roster", "web", "web.db", "web.models",
        "web.services.accounts", "web.services.courses", "web.services.roster",
        "web.services.gradebook", "web.times", "flask_migrate", "email_validator")


def _files() -> tuple[Path, Path, Path]:
    """Return the socket, the lock held while a preloader runs, and its log."""
    from cli import daemon

    run = daemon.paths().prepare().run
    return run / "admin.sock", run / "admin.lock", run.parent / "logs" / "preload.log"


def _stamp() -> str:
    """The check daemon's stamp, plus the web package these commands run on."""
    if os.environ.get(STAMP_ENV):
        return os.environ[STAMP_ENV]
    from cli import daemon

    return daemon.stamp(extra_roots=("web",))


# -- the caller's side ---------------------------------------------------------------------

def run(argv: list[str]) -> int | None:
    """Run ``backprop ARGV`` in the warm preloader and return its exit status.

    Return None when the preloader could not take it: the caller then runs the command
    itself, and a preloader has been started for the next command.
    """
    if os.environ.get(DISABLE_ENV) or not argv or argv[0] not in COMMANDS:
        return None
    from cli import daemon

    try:
        sock_path, _, _ = _files()
        stamp = _stamp()
    except (OSError, daemon.DaemonError):
        return None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        try:
            with daemon._address(sock_path) as address:
                sock.connect(address)
            # Who listens must be this user before the terminal and environment (tokens,
            # database URLs) are handed over: ``run/`` is checked to be ours, but between
            # that check and this connect a folder that someone else can rename in (a shared
            # BACKPROP_HOME) could be swapped for theirs. Then run cold, start no preloader.
            if (owner := daemon.peer_uid(sock)) != os.getuid():
                print(f"backprop: {sock_path} is served by uid {owner}, not you: not using it",
                      file=sys.stderr)
                return None
            socket.send_fds(sock, [b"F"], [0, 1, 2])
            daemon.send_message(sock, {"stamp": stamp, "argv": argv, "cwd": os.getcwd(),
                                       "env": dict(os.environ)})
            reply = daemon.recv_message(sock)
        except (OSError, daemon._Lost):
            _start()
            return None
        if "pid" not in reply:
            if reply.get("error") == "stale":
                _start()  # the old one is on its way out
            return None
        return _wait(sock, int(reply["pid"]))
    finally:
        sock.close()


def _wait(sock: socket.socket, pid: int) -> int:
    """Wait for the child's exit status, forwarding Ctrl-C and termination to it."""
    from cli import daemon

    def forward(signum: int, _frame: Any) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, forward)
    try:
        return int(daemon.recv_message(sock).get("exit", 1))
    except (OSError, daemon._Lost, ValueError):
        print("backprop: the command's preloader went away before it finished",
              file=sys.stderr)
        return 1


def _start() -> None:
    """Start a preloader in the background (at most one runs: it holds the lock)."""
    try:
        _, _, log = _files()
        log.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with open(log, "ab") as out:
            subprocess.Popen([sys.executable, "-m", "cli.preload"], stdin=subprocess.DEVNULL,
                             stdout=out, stderr=out, start_new_session=True, close_fds=True)
    except Exception:  # noqa: BLE001 - the command runs anyway; the next one tries again
        pass


# -- the preloader -------------------------------------------------------------------------

def _child(conn: socket.socket, listener: socket.socket, fds: list[int],
           request: dict[str, Any]) -> None:
    """In the forked child: become the caller's command, then exit with its status."""
    code = 1
    try:
        listener.close()
        conn.close()
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGCHLD):
            signal.signal(signum, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        os.environ.clear()
        os.environ.update({str(k): str(v) for k, v in request["env"].items()})
        os.chdir(request["cwd"])
        # New standard streams on the caller's descriptors, buffered as a cold run would be.
        sys.stdin = open(0, encoding="utf-8", errors="surrogateescape", closefd=False)  # noqa: SIM115
        sys.stdout = open(1, "w", encoding="utf-8", closefd=False,  # noqa: SIM115
                          buffering=1 if os.isatty(1) else -1)
        sys.stderr = open(2, "w", encoding="utf-8", errors="backslashreplace",  # noqa: SIM115
                          closefd=False, buffering=1)
        sys.argv = ["backprop", *request["argv"]]
        from cli.main import main

        try:
            main(args=request["argv"], prog_name="backprop")
            code = 0
        except SystemExit as exc:
            if exc.code is None:
                code = 0
            elif isinstance(exc.code, int):
                code = exc.code
            else:
                print(exc.code, file=sys.stderr)
                code = 1
        except KeyboardInterrupt:
            code = 130
    except BaseException:  # a cold run would print it too
        import traceback

        traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


class _Preloader:
    """Accept commands, fork a child for each, report its exit status; exit when idle."""

    def __init__(self, listener: socket.socket, stamp: str, idle: float, home: Path) -> None:
        self.listener, self.stamp, self.idle, self.home = listener, stamp, idle, home
        self.last = time.monotonic()
        self.running = 0
        self.lock = threading.Lock()

    def serve(self) -> None:
        """Serve until idle for ``idle`` seconds, or the instance folder is gone."""
        from cli import daemon

        self.listener.settimeout(1.0)
        while True:
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                with self.lock:
                    idle = self.running == 0 and time.monotonic() - self.last > self.idle
                if idle or not self.home.exists():
                    return
                continue
            conn.settimeout(30)
            try:
                why = daemon.refusal(daemon.peer_uid(conn))
                _, fds, _, _ = socket.recv_fds(conn, 1, 3)
                if why:
                    for fd in fds:
                        os.close(fd)
                    daemon.send_message(conn, {"error": why})
                    conn.close()
                    continue
                request = daemon.recv_message(conn)
            except (OSError, daemon._Lost) as exc:
                print(f"preload: dropped a connection: {exc}", file=sys.stderr)
                conn.close()
                continue
            if request.get("stamp") != self.stamp or len(fds) != 3:
                for fd in fds:
                    os.close(fd)
                with contextlib.suppress(OSError):
                    daemon.send_message(conn, {"error": "stale"})
                conn.close()
                if request.get("stamp") != self.stamp:
                    return  # the code changed under us: make way for a new preloader
                continue
            self._fork(conn, fds, request)

    def _fork(self, conn: socket.socket, fds: list[int], request: dict[str, Any]) -> None:
        from cli import daemon

        pid = os.fork()
        if pid == 0:
            _child(conn, self.listener, fds, request)
        for fd in fds:
            os.close(fd)
        with self.lock:
            self.running += 1
        print(f"preload: {request['argv'][:1]} in pid {pid}", file=sys.stderr, flush=True)

        def reap() -> None:
            _, status = os.waitpid(pid, 0)
            code = os.waitstatus_to_exitcode(status)
            with contextlib.suppress(OSError):
                daemon.send_message(conn, {"exit": code if code >= 0 else 128 - code})
            conn.close()
            with self.lock:
                self.running -= 1
                self.last = time.monotonic()

        with contextlib.suppress(OSError):
            daemon.send_message(conn, {"pid": pid})
        threading.Thread(target=reap, daemon=True).start()


def serve() -> int:
    """Run a preloader for this instance (``python -m cli.preload``); 0 if another runs."""
    from cli import daemon

    sock_path, lock_path, _ = _files()
    lock = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    # A preloader of older code may still be on its way out: give it a few seconds.
    deadline = time.monotonic() + LOCK_WAIT
    while True:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() > deadline:
                return 0  # another preloader serves this instance
            time.sleep(0.1)
    (sock_path.parent / "admin.pid").write_text(f"{os.getpid()}\n")
    stamp = _stamp()
    for module in WARM:
        __import__(module)
    try:  # the first app also imports its views, API and extensions: pay that here, once
        from web import create_app

        create_app()
    except Exception as exc:  # noqa: BLE001 - each child creates its own app and says why
        print(f"preload: could not build an app to warm up: {exc}", file=sys.stderr)
    if "torch" in sys.modules:  # a command module grew a top-level torch import
        print("preload: torch got imported; refusing to preload", file=sys.stderr)
        return 1
    try:
        idle = float(os.environ.get(IDLE_ENV, DEFAULT_IDLE))
    except ValueError:
        idle = DEFAULT_IDLE
    with contextlib.suppress(FileNotFoundError):
        sock_path.unlink()  # a dead preloader's socket: we hold the lock
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    try:
        with daemon._address(sock_path) as address:
            listener.bind(address)
    finally:
        os.umask(old)
    listener.listen(16)
    print(f"preload: pid {os.getpid()} ready ({json.dumps(stamp)})", file=sys.stderr,
          flush=True)
    try:
        _Preloader(listener, stamp, idle, sock_path.parents[1]).serve()
    finally:
        with contextlib.suppress(OSError):
            sock_path.unlink()
        listener.close()
    return 0


def stop() -> int | None:
    """Stop this instance's preloader, if one runs; return its pid."""
    sock_path, _, _ = _files()
    try:
        pid = int((sock_path.parent / "admin.pid").read_text())
        if b"cli.preload" not in Path(f"/proc/{pid}/cmdline").read_bytes():
            return None  # gone, and the pid reused by another process
        os.kill(pid, signal.SIGTERM)
    except (OSError, ValueError):
        return None
    return pid


if __name__ == "__main__":
    raise SystemExit(serve())

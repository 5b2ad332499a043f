"""The local grading daemon behind ``backprop check``: a warm sandbox kept between checks.

A cold ``backprop check`` pays ~7 s of torch imports and sandbox start-up for ~0.2 s of
grading, and learners re-check a file twenty times. So by default the CLI hands the file to a
per-user daemon that keeps a warm :class:`~grader.sandbox.Sandbox`, torch and the exercises
loaded, and draws the report from the result JSON it gets back: the client never imports torch.
The daemon grades with the same :func:`grader.grade.grade`, sandbox and
:func:`grader.instance.secret_key` as the cold path, so the verdicts are the same.

Its files, all in the instance folder (``BACKPROP_HOME``):

- ``run/`` (0700, must be the user's own): ``check.sock`` (0600), the unix socket;
  ``daemon.pid``; ``daemon.lock``, held by the living daemon for its whole life, so "is a
  daemon alive?" is asked of the kernel (an ``flock`` dies with its holder), never of a pid
  file that may be stale; ``start.lock``, held by a client while it starts one, so two
  clients starting at once never start two daemons.
- ``logs/daemon.log``: the daemon's own output (it runs detached, in its own session).

Protocol: one request and one reply per connection, each a 4-byte big-endian length and a
UTF-8 JSON object. The daemon first checks the peer's uid (``SO_PEERCRED``): the 0700 folder
already keeps other users out, this check holds even if the folder's mode is loosened.
Requests are ``{"op": "check", "stamp", "exercise", "student", "source_b64"}``,
``{"op": "status"}`` and ``{"op": "stop", "unless_stamp"?}``; a reply is ``{"ok": true, …}``
(for a check: ``"result"``, the result JSON of spec §4) or ``{"ok": false, "kind", "error"}``.

The *stamp* names what the daemon runs: the package version, the paths, sizes and mtimes of
the installed ``grader``, ``cli`` and exercise packs' files, the entry points of the packs, the
interpreter, the jail setting and a digest of the secret. A client whose stamp differs (an
upgrade, an edited source, another ``SECRET_KEY``) replaces the daemon. The daemon exits after
``BACKPROP_DAEMON_IDLE`` seconds without a check (default 15 minutes), or when its socket is
removed or taken over.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import json
import logging
import os
import signal
import socket
import socketserver
import stat
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from importlib import metadata, util
from pathlib import Path
from typing import Any

from cli.quick import LOST, MAX_REPLY, STAMP_ENV
from cli.quick import REPLY_TIMEOUT as QUICK_REPLY_TIMEOUT
from grader import instance

log = logging.getLogger("backprop.daemon")

PROTOCOL = 1
IDLE_ENV = "BACKPROP_DAEMON_IDLE"
#: Stands for the sources' fingerprint when set (tests: the tree they run from may be edited
#: meanwhile; the version, interpreter, jail setting and secret still count).
CODE_STAMP_ENV = "BACKPROP_DAEMON_CODE_STAMP"
DEFAULT_IDLE = 15 * 60.0
#: The largest message either side accepts: a submission is ≤ 256 KiB, a result far less.
MAX_MESSAGE = MAX_REPLY
#: How long a client waits for a new daemon (torch import + zygote) before grading cold.
START_TIMEOUT = 180.0
#: How long a client waits for a reply: checks queue behind each other on one sandbox.
REPLY_TIMEOUT = QUICK_REPLY_TIMEOUT
PACK_GROUP = "backprop_grader.exercises"
_HEADER = struct.Struct(">I")
_UCRED = struct.Struct("3i")  # struct ucred: pid, uid, gid


class DaemonError(Exception):
    """The daemon could not grade: ``kind`` says whose fault and what the CLI does about it.

    ``usage`` (unknown exercise: a usage error), ``sandbox`` (the sandbox failed), ``refused``
    (another user's daemon), ``start`` (no daemon could be started), ``lost`` (the daemon died
    during the check, twice), ``internal`` (the daemon's own failure), ``stale`` (it kept
    running other code), ``too_large`` (a file far over the submission limit). The CLI grades
    in process after any but the first three.
    """

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


class _Lost(Exception):
    """The connection broke before a whole reply arrived (the daemon died or hung up)."""


@dataclass(frozen=True)
class Paths:
    """Where one instance's daemon keeps its socket, locks and log."""

    home: Path

    @property
    def run(self) -> Path:
        return self.home / "run"

    @property
    def socket(self) -> Path:
        return self.run / "check.sock"

    @property
    def pid(self) -> Path:
        return self.run / "daemon.pid"

    @property
    def alive_lock(self) -> Path:
        return self.run / "daemon.lock"

    @property
    def start_lock(self) -> Path:
        return self.run / "start.lock"

    @property
    def log(self) -> Path:
        return self.home / "logs" / "daemon.log"

    def prepare(self) -> Paths:
        """Create ``run/`` (0700) and ``logs/``; refuse a ``run/`` that is not the user's own.

        Whoever could write in ``run/`` could put their own socket where the client connects
        and read every submission, so it must be a real directory owned by this user.
        """
        for folder in (self.run, self.log.parent):
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            st = os.lstat(folder)
            if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid():
                raise DaemonError("start", f"{folder} is not a directory owned by you")
            if stat.S_IMODE(st.st_mode) != 0o700:
                os.chmod(folder, 0o700)
        return self


def paths(home: Path | None = None) -> Paths:
    """Return the daemon's paths for ``home`` (default: the current instance folder)."""
    return Paths(home or instance.home())


# -- the version stamp ------------------------------------------------------------------

def _package_roots() -> tuple[list[str], list[str]]:
    """Return the top-level packages to fingerprint and the packs' entry points."""
    points = sorted(f"{ep.name}={ep.value}" for ep in metadata.entry_points(group=PACK_GROUP))
    roots = {"grader", "cli", "exercises"}
    roots |= {p.split("=", 1)[1].split(":")[0].split(".")[0] for p in points}
    return sorted(roots), points




def stamp(executable: str | None = None, environ: Mapping[str, str] | None = None,
          extra_roots: tuple[str, ...] = ()) -> str:
    """Return a short digest of everything a daemon's verdicts depend on (cheap: stats only).

    Sources are fingerprinted by path, size and mtime (not content): reading them would cost
    more than the check it saves. ``find_spec`` of a top-level name locates a package without
    importing it, so no torch is paid here. ``executable`` and ``environ`` name the caller's
    interpreter and settings (default: this process's), so the daemon can compute the stamp
    a fast client would have computed; ``extra_roots`` adds packages to fingerprint (the
    admin preloader's ``web``).
    """
    environ = os.environ if environ is None else environ
    digest = hashlib.sha256()
    try:
        version = metadata.version("backprop-grader")
    except metadata.PackageNotFoundError:
        version = "unknown"
    key = environ.get("SECRET_KEY")
    if not key:
        path = instance.home() / "secret_key"
        key = path.read_text().strip() if path.exists() else instance.secret_key()
    secret = hashlib.sha256(key.encode()).hexdigest()
    roots, points = _package_roots()
    roots = sorted({*roots, *extra_roots})
    for part in (str(PROTOCOL), version, executable or sys.executable,
                 environ.get("BACKPROP_BWRAP", ""), secret, *points):
        digest.update(part.encode() + b"\0")
    if environ.get(CODE_STAMP_ENV):
        digest.update(environ[CODE_STAMP_ENV].encode())
        roots = []
    for name in roots:
        spec = util.find_spec(name)
        if spec is None:
            digest.update(f"missing {name}\0".encode())
            continue
        for top in spec.submodule_search_locations or [spec.origin or name]:
            for folder, dirs, files in os.walk(top):
                dirs[:] = sorted(d for d in dirs if d != "__pycache__")
                for file in sorted(files):
                    path = os.path.join(folder, file)
                    with contextlib.suppress(OSError):
                        st = os.stat(path)
                        digest.update(f"{path}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


# -- framing ----------------------------------------------------------------------------

def send_message(sock: socket.socket, message: dict[str, Any]) -> None:
    """Send one length-prefixed JSON object."""
    data = json.dumps(message).encode()
    sock.sendall(_HEADER.pack(len(data)) + data)


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    chunks, left = [], size
    while left:
        chunk = sock.recv(min(left, 1 << 20))
        if not chunk:
            raise _Lost("the connection closed before a whole message arrived")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def recv_message(sock: socket.socket) -> dict[str, Any]:
    """Receive one length-prefixed JSON object (bounded, and it must be an object)."""
    (size,) = _HEADER.unpack(_recv_exact(sock, _HEADER.size))
    if size > MAX_MESSAGE:
        raise _Lost(f"a message of {size} bytes is over the {MAX_MESSAGE} byte limit")
    try:
        message = json.loads(_recv_exact(sock, size))
    except ValueError:
        raise _Lost("a message was not JSON") from None
    if not isinstance(message, dict):
        raise _Lost("a message was not a JSON object")
    return message


@contextlib.contextmanager
def _address(path: Path) -> Iterator[str]:
    """Yield an address for ``path`` that fits ``sun_path`` (108 bytes on Linux).

    A deep ``BACKPROP_HOME`` would not fit: its folder is then reached through an open
    descriptor, ``/proc/self/fd/N/check.sock``, which binds and connects the same file.
    """
    if len(os.fsencode(path)) < 100:
        yield str(path)
        return
    fd = os.open(path.parent, os.O_PATH | os.O_DIRECTORY)
    try:
        yield f"/proc/self/fd/{fd}/{path.name}"
    finally:
        os.close(fd)


def peer_uid(conn: socket.socket) -> int:
    """Return the uid of the process at the other end of a unix socket (``SO_PEERCRED``)."""
    _pid, uid, _gid = _UCRED.unpack(
        conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _UCRED.size))
    return uid


def refusal(uid: int, own: int | None = None) -> str | None:
    """Return why a peer with ``uid`` is refused (None: it is this daemon's own user)."""
    own = os.getuid() if own is None else own
    if uid == own:
        return None
    return (f"this grading daemon belongs to uid {own}; uid {uid} may not use it "
            "(run `backprop check` as yourself: each user gets their own daemon)")


# -- the daemon ---------------------------------------------------------------------------

class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    """A thread per connection: checks queue on the sandbox's lock, status answers at once."""

    daemon_threads = True
    block_on_close = False
    owner: _Daemon


class _Handler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        daemon = self.server.owner  # type: ignore[attr-defined]
        conn: socket.socket = self.request
        daemon.busy(+1)
        try:
            problem = refusal(peer_uid(conn))
            if problem:
                log.warning("refused a connection: %s", problem)
                send_message(conn, {"ok": False, "kind": "refused", "error": problem})
                _drain(conn)
                return
            conn.settimeout(30)  # a request is sent at once: do not let a silent peer hang
            if not conn.recv(1, socket.MSG_PEEK):
                return  # a client only probing whether a daemon listens
            request = recv_message(conn)
            conn.settimeout(None)
            send_message(conn, daemon.answer(request))
        except (OSError, _Lost) as exc:
            log.info("a client went away: %s", exc)
        finally:
            daemon.busy(-1)


def _drain(conn: socket.socket, limit: int = 1 << 20) -> None:
    """Read and drop what a refused peer still sends (bounded), so that its request is not
    met by a broken pipe before it can read why it was refused."""
    conn.shutdown(socket.SHUT_WR)
    conn.settimeout(2)
    with contextlib.suppress(OSError):
        while limit > 0 and (chunk := conn.recv(65536)):
            limit -= len(chunk)


class _Daemon:
    """The warm sandbox and exercises, the socket server, and the idle timer."""

    def __init__(self, where: Paths, idle: float) -> None:
        # The stamp first: code that changes while it is imported makes the daemon stale.
        self.stamp = stamp()
        self.started = time.time()
        from grader.grade import grade
        from grader.registry import load_exercises
        from grader.sandbox import Sandbox

        self.paths = where
        self.idle = idle
        self.checks = 0
        self._active = 0
        self._last = time.monotonic()
        self._mutex = threading.Lock()
        self._stopping = threading.Event()
        self._grade = grade
        self.sandbox = Sandbox()
        load_exercises()  # imports torch and the packs while the zygote imports its own
        self.sandbox.ensure_ready()
        log.info("warm in %.1f s (torch, exercises, sandbox zygote)", time.time() - self.started)
        self.secret = instance.secret_key().encode()
        self.server: _Server | None = None
        self._inode: int | None = None

    def busy(self, delta: int) -> None:
        with self._mutex:
            self._active += delta
            self._last = time.monotonic()

    def answer(self, request: dict[str, Any]) -> dict[str, Any]:
        """Answer one request; every failure is a reply, never a dropped connection."""
        op = request.get("op")
        if op == "status":
            return {"ok": True, "pid": os.getpid(), "stamp": self.stamp, "checks": self.checks,
                    "started": self.started, "idle_timeout": self.idle,
                    "busy": self._active - 1}
        if op == "stop":
            if request.get("unless_stamp") == self.stamp:
                return {"ok": True, "pid": os.getpid(), "stopping": False}
            log.info("asked to stop")
            self.stop()
            return {"ok": True, "pid": os.getpid(), "stopping": True}
        if op == "check":
            return self._check(request)
        return {"ok": False, "kind": "internal", "error": f"unknown request {op!r}"}

    def _check(self, request: dict[str, Any]) -> dict[str, Any]:
        stale = {"ok": False, "kind": "stale", "stamp": self.stamp,
                 "error": "the grading daemon runs another version"}
        caller = request.get("caller")
        if not isinstance(caller, dict):
            return stale if request.get("stamp") != self.stamp else self._graded(request)
        # A fast client (cli.quick) left the stamp to us: compute the one it would have
        # computed while the check runs (stats of the sources: ~15 ms, mostly waiting on
        # the kernel), and drop the verdict if it turns out to come from other code.
        env = caller.get("env") if isinstance(caller.get("env"), dict) else {}
        theirs: list[str] = []
        worker = threading.Thread(target=lambda: theirs.append(stamp(
            str(caller.get("executable") or ""),
            {k: str(v) for k, v in env.items() if k in STAMP_ENV})))
        worker.start()
        reply = self._graded(request)
        worker.join()
        return reply if theirs == [self.stamp] else stale

    def _graded(self, request: dict[str, Any]) -> dict[str, Any]:
        """Grade a request whose stamp is (or is being) checked; reply with its result."""
        from grader.registry import UnknownExercise, get_exercise
        from grader.sandbox import SandboxError

        try:
            exercise = get_exercise(str(request.get("exercise")))
            source = base64.b64decode(request.get("source_b64", ""), validate=True)
        except UnknownExercise as exc:
            return {"ok": False, "kind": "usage", "error": str(exc)}
        except ValueError:
            return {"ok": False, "kind": "internal", "error": "the source was not base64"}
        try:
            result = self._grade(exercise, source, sandbox=self.sandbox,
                                 student=str(request.get("student", "local")),
                                 secret=self.secret)
        except SandboxError as exc:
            return {"ok": False, "kind": "sandbox", "error": str(exc)}
        except Exception as exc:
            log.exception("grading failed")
            return {"ok": False, "kind": "internal",
                    "error": f"the grading daemon failed ({type(exc).__name__}: {exc})"}
        with self._mutex:
            self.checks += 1
        log.info("graded %s: %s %g/%g in %.0f ms", exercise.id, result.status, result.score,
                 result.max_score, result.runtime_ms)
        reply: dict[str, Any] = {"ok": True, "result": result.to_json()}
        if isinstance(request.get("render"), dict):
            reply["report"] = render_report(reply["result"], request["render"])
        return reply

    def stop(self) -> None:
        """Stop serving (from any thread but the one in ``serve_forever``)."""
        if not self._stopping.is_set():
            self._stopping.set()
            if self.server is not None:
                threading.Thread(target=self.server.shutdown, daemon=True).start()

    def _still_ours(self) -> bool:
        try:
            return os.stat(self.paths.socket).st_ino == self._inode
        except OSError:
            return False

    def _watch(self) -> None:
        """Stop after ``idle`` seconds with no connection, or once the socket is not ours."""
        while not self._stopping.wait(0.5):
            with self._mutex:
                idle = self._active == 0 and time.monotonic() - self._last > self.idle
            if idle:
                log.info("idle for %.0f s: exiting", self.idle)
                break
            if not self._still_ours():
                log.info("the socket %s was removed or replaced: exiting", self.paths.socket)
                break
        self.stop()

    def serve(self) -> None:
        """Bind the socket (0600, renamed into place once listening) and serve until stopped."""
        where = self.paths
        temporary = where.run / f"check.sock.{os.getpid()}"
        temporary.unlink(missing_ok=True)
        with _address(temporary) as address:
            self.server = _Server(address, _Handler)
        self.server.owner = self
        os.chmod(temporary, 0o600)
        os.replace(temporary, where.socket)
        self._inode = os.stat(where.socket).st_ino
        signal.signal(signal.SIGTERM, lambda *_: self.stop())
        signal.signal(signal.SIGINT, lambda *_: self.stop())
        log.info("serving on %s (pid %d, stamp %s, idle timeout %g s)", where.socket,
                 os.getpid(), self.stamp, self.idle)
        threading.Thread(target=self._watch, daemon=True).start()
        try:
            self.server.serve_forever(poll_interval=0.2)
        finally:
            self.server.server_close()
            # Let checks under way finish (and a stop request get its reply): 10 s at most.
            deadline = time.monotonic() + 10
            while self._active and time.monotonic() < deadline:
                time.sleep(0.05)
            if self._still_ours():
                where.socket.unlink(missing_ok=True)
            if _pid_from_file(where) == os.getpid():
                where.pid.unlink(missing_ok=True)
            self.sandbox.close()
            log.info("stopped after %d checks", self.checks)


def render_report(result: dict[str, Any], terminal: dict[str, Any]) -> str:
    """Draw the report of ``result`` as the client's terminal would show it.

    The fast client (:mod:`cli.quick`) imports neither click nor rich, so the daemon, which
    has them loaded, draws the report for it: with the client's width, whether its stdout is
    a terminal and its colour settings (``TERM``, ``COLORTERM``, ``NO_COLOR``, …), the text
    is byte for byte what ``cli.report.render`` would print there.
    """
    import io

    from rich.console import Console

    from cli.report import render
    from grader.result import GradeResult

    env = {str(k): str(v) for k, v in dict(terminal.get("env") or {}).items()}
    width = terminal.get("width")
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=bool(terminal.get("tty")),
                      width=int(width) if isinstance(width, int) and 20 <= width <= 1000
                      else None, _environ=env)
    render(GradeResult.from_json(result), console)
    return buffer.getvalue()


def _idle_timeout() -> float:
    raw = os.environ.get(IDLE_ENV, "")
    try:
        return float(raw) if raw else DEFAULT_IDLE
    except ValueError:
        log.warning("%s=%r is not a number of seconds; using %g", IDLE_ENV, raw, DEFAULT_IDLE)
        return DEFAULT_IDLE


def run_daemon() -> int:
    """The daemon process's main (``python -m cli.daemon``): exit 0 if one already runs."""
    os.umask(0o077)  # the socket is born 0600, before any chmod
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s")
    where = paths().prepare()
    alive = os.open(where.alive_lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(alive, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        log.info("another daemon holds %s: exiting", where.alive_lock)
        return 0
    # Written while holding the alive lock: whoever sees the lock held can trust this pid.
    where.pid.write_text(f"{os.getpid()}\n")
    try:
        daemon = _Daemon(where, _idle_timeout())
    except Exception:
        log.exception("the daemon could not start")
        return 1
    daemon.serve()
    return 0


# -- the client -------------------------------------------------------------------------

def is_alive(where: Paths) -> bool:
    """Whether a daemon (running or still starting) holds this instance's alive lock."""
    try:
        fd = os.open(where.alive_lock, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # also drops the shared lock if we got it
    return False


def _pid_running(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie waiting to be reaped is not)."""
    try:
        status = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return status.rsplit(")", 1)[-1].split()[0] not in ("Z", "X")


def _connect(where: Paths, timeout: float | None) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(10)
        with _address(where.socket) as address:
            sock.connect(address)
        # Whoever listens gets the submission and answers with a verdict: it must be our
        # own daemon, not another user's process squatting a shared instance folder.
        uid = peer_uid(sock)
        if uid != os.getuid():
            raise DaemonError("refused", f"{where.socket} is served by uid {uid}, not by you: "
                                         "refusing to send it your code")
        sock.settimeout(timeout)
    except BaseException:
        sock.close()
        raise
    return sock


def _exchange(where: Paths, request: dict[str, Any], timeout: float | None) -> dict[str, Any]:
    """Send one request to a running daemon and return its reply (``_Lost`` if it broke).

    :raise ConnectionRefusedError, FileNotFoundError: no daemon listens.
    :raise PermissionError: the socket is not this user's to reach.
    """
    try:
        sock = _connect(where, timeout)
    except (ConnectionRefusedError, FileNotFoundError, PermissionError):
        raise
    except OSError as exc:
        raise _Lost(f"cannot connect: {exc.strerror or exc}") from None
    with sock:
        try:
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                send_message(sock, request)  # if refused, the reason may still be there to read
            return recv_message(sock)
        except TimeoutError:
            raise _Lost(f"no reply in {timeout:.0f} s") from None
        except OSError as exc:
            raise _Lost(exc.strerror or str(exc)) from None


def _spawn(where: Paths) -> subprocess.Popen[bytes]:
    """Start a detached daemon: its own session, stdio to the log, cwd its private folder."""
    if where.log.exists() and where.log.stat().st_size > 1 << 20:
        where.log.replace(where.log.with_suffix(".log.1"))
    with open(where.log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "cli.daemon"], stdin=subprocess.DEVNULL, stdout=out,
            stderr=subprocess.STDOUT, cwd=where.run, start_new_session=True,
            env={**os.environ, "BACKPROP_HOME": str(where.home)})


def _ensure(where: Paths) -> None:
    """Make sure a daemon answers on the socket, starting one under the start lock if not.

    Only one client starts a daemon: the others wait for the lock and then find it running.
    A socket file with nobody behind it (the daemon was killed) is removed first.
    """
    where.prepare()
    lock = os.open(where.start_lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        proc: subprocess.Popen[bytes] | None = None
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            with contextlib.suppress(FileNotFoundError, ConnectionRefusedError):
                _connect(where, None).close()
                return
            if proc is not None and proc.poll() is not None:
                raise DaemonError("start", f"the grading daemon exited while starting "
                                           f"(code {proc.returncode}); see {where.log}")
            if proc is None and not is_alive(where):
                where.socket.unlink(missing_ok=True)  # stale: nobody is behind it
                proc = _spawn(where)
            if time.monotonic() > deadline:
                raise DaemonError("start", f"the grading daemon did not start in "
                                           f"{START_TIMEOUT:.0f} s; see {where.log}")
            time.sleep(0.05)
    finally:
        os.close(lock)


def stop(where: Paths | None = None, unless_stamp: str | None = None,
         timeout: float = 15.0) -> int | None:
    """Stop the daemon (only one whose stamp is not ``unless_stamp``, if given).

    Return the pid it had, or None if none was running (or it was up to date). A daemon that
    does not exit in ``timeout`` seconds (wedged) is killed.
    """
    where = where or paths()
    request: dict[str, Any] = {"op": "stop"}
    if unless_stamp:
        request["unless_stamp"] = unless_stamp
    try:
        reply = _exchange(where, request, timeout)
    except (OSError, _Lost):
        reply = None
    if reply is not None and not reply.get("stopping"):
        return None
    pid = reply.get("pid") if reply else _pid_from_file(where)
    if pid is None or not is_alive(where):
        return pid if reply else None
    if reply is None and _is_daemon(pid):
        # Alive but not answering: still warming up (no handler yet) or wedged.
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _pid_running(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _pid_running(pid) and _is_daemon(pid):
        log.warning("the grading daemon (pid %d) did not stop in %g s: killing it", pid, timeout)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        while _pid_running(pid) and time.monotonic() < deadline + 5:
            time.sleep(0.05)
    return pid


def _is_daemon(pid: int) -> bool:
    """Whether ``pid`` runs this module (never kill a process that merely reused the pid)."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"cli.daemon" in argv


def _pid_from_file(where: Paths) -> int | None:
    try:
        return int(where.pid.read_text())
    except (OSError, ValueError):
        return None


def status(where: Paths | None = None) -> dict[str, Any] | None:
    """Return the running daemon's status reply, or None when none answers."""
    where = where or paths()
    try:
        return _exchange(where, {"op": "status"}, 10)
    except (OSError, _Lost):
        return None


def lost_notice(exc: Exception) -> str:
    """The one line that tells a user their daemon died during a check."""
    return LOST.format(exc)


def check(source: bytes, exercise_id: str, student: str = "local", *,
          notice: Callable[[str], None] = lambda _: None,
          where: Paths | None = None) -> dict[str, Any]:
    """Grade ``source`` through the daemon (started or replaced as needed): the result JSON.

    A daemon that dies during the check is reported through ``notice`` (one line) and the
    check is retried once on a fresh daemon.

    :raise DaemonError: when the daemon could not grade (see its ``kind``).
    """
    where = where or paths()
    if len(source) > MAX_MESSAGE // 2:  # base64 grows it by a third; grade() refuses it anyway
        raise DaemonError("too_large", f"the file is {len(source) >> 20} MiB, too large to "
                                       "send to the grading daemon")
    mine = stamp()
    request = {"op": "check", "stamp": mine, "exercise": exercise_id, "student": student,
               "source_b64": base64.b64encode(source).decode()}
    lost = replaced = starts = 0
    while True:
        try:
            reply = _exchange(where, request, REPLY_TIMEOUT)
        except (ConnectionRefusedError, FileNotFoundError):
            # Nobody listens (first use, idle exit, killed): start one and ask again.
            starts += 1
            if starts > 3:
                raise DaemonError("start", "the grading daemon keeps going away; see "
                                           f"{where.log}") from None
            try:
                _ensure(where)
            except OSError as exc:
                raise DaemonError("start", f"cannot start the grading daemon: {exc}") from None
            continue
        except _Lost as exc:
            lost += 1
            if lost > 1:
                raise DaemonError("lost", f"the grading daemon stopped again ({exc})") from None
            notice(lost_notice(exc))
            continue
        if reply.get("ok"):
            return reply["result"]
        kind = str(reply.get("kind", "internal"))
        if kind == "stale" and replaced < 3:
            replaced += 1
            # Files may have changed since this client computed its stamp (an upgrade under
            # way): the daemon is stale only if it differs from what is installed now.
            mine = request["stamp"] = stamp()
            if reply.get("stamp") != mine:
                stop(where, unless_stamp=mine)
            continue
        raise DaemonError(kind, str(reply.get("error", "the grading daemon failed")))


if __name__ == "__main__":
    sys.exit(run_daemon())

"""The parent side of the sandbox: start the zygote, open one session per submission.

The grader never runs student code itself. It asks the zygote for a child, hands it the
submission and, case by case, the ``t`` tensors; it reads back only tensors (checked against
the expected shapes) and drains the child's output into a bounded buffer. The wall-clock limit
is enforced here, in the trusted process, by killing the child's whole session.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import platform
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from grader.exercise import Limits
from grader.result import ERROR, MEMORY_LIMIT, TIMEOUT, VIOLATION
from grader.sandbox import jail, landlock, seccomp, wire
from grader.sandbox.wire import clean_text

log = logging.getLogger(__name__)

#: The only variables the zygote (and so every child) inherits; PATH is fixed below.
ENV_ALLOW = ("LANG", "LC_ALL", "TZ")
ROOT = Path(__file__).resolve().parents[2]
SECCOMP_WARNING = (
    "SANDBOX WITHOUT SYSCALL FILTER: no seccomp filter is known for %s, so a submission's "
    "process can start threads and processes (they are still detected after each call and, "
    "as root, capped by RLIMIT_NPROC). Supported: " + ", ".join(seccomp.ARCHES))
LANDLOCK_WARNING = (
    "SANDBOX WITHOUT LANDLOCK: this kernel does not offer Landlock (Linux >= 5.13 with "
    "landlock in its LSM list), so student code is kept from writing outside its job "
    "directory and from reading sympy/mpmath by the jail and the audit hook only.")


class SandboxError(Exception):
    """The sandbox itself failed (not the student's code): worth a retry."""


class SessionEnded(Exception):
    """The child can answer no more requests; ``status`` says why (timeout, error, …)."""

    def __init__(self, status: str, message: str, error: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        #: The child's own description (kind, line, traceback) when it sent one.
        self.error = error


@dataclass
class Reply:
    """What ``backward`` returned for one case, as far as the parent could verify it.

    ``error`` is set when the call raised; ``not_dict`` names the type when it returned
    something other than a dict. ``entries`` describe every expected name it returned and
    ``tensors`` hold the payloads the parent accepted in the expected shape, ``misshaped``
    the (bounded) ones of another shape, kept for diagnosis only.
    """

    error: dict[str, Any] | None = None
    not_dict: str | None = None
    entries: dict[str, wire.Returned] = field(default_factory=dict)
    tensors: dict[str, torch.Tensor] = field(default_factory=dict)
    extra: list[str] = field(default_factory=list)
    misshaped: dict[str, torch.Tensor] = field(default_factory=dict)
    #: Groups of returned names whose tensors share memory (the child's word: advice only).
    shares: list[tuple[str, ...]] = field(default_factory=list)
    #: Names of ``t``'s tensors the call changed in place (the child's word: advice only).
    changed_inputs: list[str] = field(default_factory=list)
    #: The float dtype the gradients were asked in (what a wrong dtype is told against).
    dtype: str = "float32"
    #: CPU milliseconds the call took, as the child measured it (None: not said). Only ever
    #: used to *flag* a submission for review, never to score it: the child can lie.
    cpu_ms: float | None = None


class _Output:
    """A bounded capture of the child's stdout+stderr: keep the head, count the rest."""

    def __init__(self, fd: int, limit: int) -> None:
        self.fd, self.limit = fd, limit
        self.head = bytearray()
        self.dropped = 0
        self.eof = False
        os.set_blocking(fd, False)

    def drain(self) -> None:
        while not self.eof:
            try:
                chunk = os.read(self.fd, 1 << 16)
            except BlockingIOError:
                return
            if not chunk:
                self.eof = True
                return
            room = self.limit - len(self.head)
            self.head += chunk[:room]
            self.dropped += max(0, len(chunk) - room)

    def text(self) -> str:
        out = clean_text(self.head.decode("utf-8", errors="replace"), self.limit)
        if self.dropped:
            out += f"\n… output truncated ({self.dropped} more bytes not shown)\n"
        return out


class Sandbox:
    """A warm zygote plus the means to open sessions on it. One session at a time.

    Create one per worker process (or per CLI run) and reuse it: the zygote's torch import
    is paid once. Thread-safe through a lock; not shareable across ``fork()``.
    """

    def __init__(self, *, bwrap: str | None = None) -> None:
        """Start the zygote now (it imports torch in the background).

        :param bwrap: path of bubblewrap, or ``"off"``; default ``BACKPROP_BWRAP`` or PATH.
        """
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._ctl: socket.socket | None = None
        self._exits: dict[int, dict[str, Any]] = {}
        self._hello = False
        #: How often the zygote had to be replaced (a healthy sandbox stays at 0).
        self.restarts = 0
        self.bwrap = jail.find_bwrap(bwrap)
        if self.bwrap is None:
            log.warning(jail.JAIL_WARNING)
        if not seccomp.supported():
            log.warning(SECCOMP_WARNING, platform.machine())
        if not landlock.abi():
            log.warning(LANDLOCK_WARNING)
        self.slot = jail.reserve_slot()
        self.start()

    # -- zygote lifecycle -------------------------------------------------------------

    def start(self) -> None:
        """Exec the zygote with a clean environment (it imports torch in the background)."""
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        env = {k: os.environ[k] for k in ENV_ALLOW if k in os.environ}
        env.update(PATH="/usr/bin:/bin", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
                   PYTHONDONTWRITEBYTECODE="1")
        code = (f"import sys; sys.path.insert(0, {str(ROOT)!r}); "
                "from grader.sandbox.zygote import main; main()")
        uid = "-" if self.slot.uid is None else str(self.slot.uid)
        argv = [sys.executable, "-I", "-c", code, str(child.fileno()), uid,
                "0" if self.bwrap else "1"]
        if self.bwrap:
            argv = jail.bwrap_argv(self.bwrap, ROOT) + argv
        self._proc = subprocess.Popen(
            argv, env=env, pass_fds=[child.fileno()], stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, cwd="/", start_new_session=True)
        child.close()
        self._ctl = parent
        self._hello = False
        self._exits.clear()

    def close(self) -> None:
        """Stop the zygote (it kills any child it still has) and free the uid."""
        self._stop()
        self.slot.release()

    def restart(self) -> None:
        """Replace the zygote by a fresh one (after a sandbox failure)."""
        self.restarts += 1
        self._stop()
        self.start()

    def _stop(self) -> None:
        if self._ctl is not None:
            self._ctl.close()
            self._ctl = None
        if self._proc is not None:
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._proc = None

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _recv_ctl(self, timeout: float) -> dict[str, Any] | None:
        assert self._ctl is not None
        self._ctl.settimeout(timeout)
        try:
            data = self._ctl.recv(wire.MAX_HEADER)
        except TimeoutError:
            return None
        except OSError as exc:
            raise SandboxError(f"zygote control socket failed: {exc}") from None
        if not data:
            raise SandboxError("the sandbox zygote exited")
        msg = json.loads(data)
        if msg.get("type") == "exited":
            self._exits[msg["pid"]] = msg
        return msg

    def _expect(self, kind: str, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            msg = self._recv_ctl(left)
            if msg is not None and msg.get("type") == kind:
                return msg
        raise SandboxError(f"the sandbox zygote did not answer ({kind}) in {timeout:.0f} s")

    def ensure_ready(self, timeout: float = 120.0) -> None:
        """Wait until the zygote has imported torch; restart it if it died."""
        if self._proc is None or self._proc.poll() is not None:
            if self._proc is not None:
                log.warning("sandbox zygote exited (code %s); restarting", self._proc.returncode)
            self.restart()
        if not self._hello:
            self._expect("hello", timeout)
            self._hello = True

    def _spawn(self, job: socket.socket, out_w: int, limits: Limits) -> int:
        self.ensure_ready()
        assert self._ctl is not None
        msg = json.dumps({"type": "spawn", "limits": asdict(limits)}).encode()
        try:
            socket.send_fds(self._ctl, [msg], [job.fileno(), out_w])
        except OSError as exc:
            raise SandboxError(f"cannot reach the sandbox zygote: {exc}") from None
        return int(self._expect("spawned", 30)["pid"])

    def _kill(self, pid: int) -> None:
        if self._ctl is not None:
            try:
                self._ctl.sendall(json.dumps({"type": "kill", "pid": pid}).encode())
            except OSError:
                pass

    def _exit_of(self, pid: int, timeout: float) -> dict[str, Any] | None:
        deadline = time.monotonic() + timeout
        while pid not in self._exits and (left := deadline - time.monotonic()) > 0:
            try:
                self._recv_ctl(left)
            except SandboxError:
                return None
        return self._exits.pop(pid, None)

    # -- sessions ---------------------------------------------------------------------

    def session(self, source: str, limits: Limits) -> Session:
        """Start a child for ``source``; use the returned session as a context manager."""
        self._lock.acquire()
        try:
            return Session(self, source, limits)
        except BaseException:
            self._lock.release()
            raise


class Session:
    """One submission's child: ``ready()``, then ``ask()`` per case, then ``close()``."""

    def __init__(self, sandbox: Sandbox, source: str, limits: Limits) -> None:
        self.sandbox = sandbox
        self.limits = limits
        self.pid: int | None = None
        self.ended: SessionEnded | None = None
        self._closed = False
        #: Names of the tensors in the last case's `t` (what "changed in place" may name).
        self._inputs: frozenset[str] = frozenset()
        #: The float dtype gradients must come back in (the exercise's: float32, or float64
        #: for numerically delicate packs); set by the caller before the first case.
        self.dtype: str = "float32"
        job, job_child = socket.socketpair()
        out_r, out_w = os.pipe()
        try:
            self.pid = sandbox._spawn(job_child, out_w, limits)
        finally:
            job_child.close()
            os.close(out_w)
        # The clock starts once the child exists: a cold zygote's torch import is not the
        # submission's time.
        self.started = time.monotonic()
        self.sock = job
        self.output = _Output(out_r, limits.output_bytes)
        self.reader = wire.Reader(job, self.started + limits.wall_seconds,
                                  extra={out_r: self._drain})
        self._send({"type": "job", "source": source})
        self._ready: dict[str, Any] | None = None
        #: The harness said it took the job: everything after is the submission's doing.
        self._started = False

    def _drain(self) -> None:
        self.output.drain()
        if self.output.eof:
            self.reader.forget(self.output.fd)

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def runtime_ms(self) -> float:
        """Return the wall time since the child was spawned, in milliseconds."""
        return (time.monotonic() - self.started) * 1000

    def _send(self, header: Mapping[str, Any], tensors: Mapping[str, torch.Tensor] = ()) -> None:
        self.sock.settimeout(max(0.001, self.reader.deadline - time.monotonic()))
        try:
            wire.send(self.sock, header, tensors)
        except TimeoutError:
            self._end(TIMEOUT, None)
        except OSError:
            self._end(ERROR, None)
        finally:
            self.sock.setblocking(False)

    def _end(self, status: str, message: str | None) -> None:
        """Kill the child, find out how it ended, and raise :class:`SessionEnded`.

        Before the harness said "started", no submission code has run: whatever ended the
        child is the sandbox's failure (a mount, a kernel without a feature), raised as
        :class:`SandboxError` so that it is retried and never blamed on the student.
        """
        if self.ended is None and not self._started:
            self._reap()
            raise SandboxError("the sandbox could not start the submission's process: "
                               + (self.output.text().strip()[:500] or f"{status}"))
        if self.ended is None:
            timed_out = status == TIMEOUT
            if timed_out:
                message = (f"the submission did not finish within {self.limits.wall_seconds:g} s "
                           "(infinite loop?)")
            info = self._reap()
            if message is None:
                status, message = _explain_exit(info, self.limits)
            self.ended = SessionEnded(status, message)
        raise self.ended

    def _reap(self) -> dict[str, Any] | None:
        """Kill the child, collect its last output and return how it exited."""
        assert self.pid is not None
        self.sandbox._kill(self.pid)
        info = self.sandbox._exit_of(self.pid, 2.0)
        self._finish_output()
        return info

    @contextlib.contextmanager
    def _reading(self) -> Iterator[None]:
        """Turn a failure of the result channel into the end of the session, explained."""
        try:
            yield
        except wire.Deadline:
            self._end(TIMEOUT, None)
        except wire.PeerClosed:
            self._end(ERROR, None)
        except wire.WireError as exc:
            self._end(ERROR, f"the submission broke the result channel ({exc})")

    def _receive(self) -> dict[str, Any]:
        with self._reading():
            msg = self.reader.header()
            if not self._started and msg.get("type") == "started":
                self._started = True
                msg = self.reader.header()
        if msg.get("type") == "violation":
            self._end(VIOLATION, _violation_message(msg))
        return msg

    def ready(self) -> None:
        """Wait until the file is loaded; raise :class:`SessionEnded` if it cannot be."""
        if self.ended:
            raise self.ended
        if self._ready is None:
            msg = self._receive()
            if msg.get("type") == "fatal":
                err = _clean_error(msg.get("error"))
                status = MEMORY_LIMIT if err["kind"] == "memory" else ERROR
                message = err["message"]
                if status == MEMORY_LIMIT:
                    message = f"{_memory_message(self.limits)} while loading the file"
                self.ended = SessionEnded(status, message, err)
                self._reap()
                raise self.ended
            if msg.get("type") != "ready":
                self._end(ERROR, "the submission broke the result channel (no ready message)")
            self._ready = msg

    def ask(self, inputs: Mapping[str, Any], expect: Mapping[str, tuple[int, ...]]) -> Reply:
        """Call ``backward(t)`` on one case's inputs; return what came back, verified."""
        self.send_case(inputs, expect)
        return self.receive_reply(expect)

    def send_case(self, inputs: Mapping[str, Any],
                  expect: Mapping[str, tuple[int, ...]]) -> None:
        """Start ``backward(t)`` on one case; the parent may work while the child computes."""
        self.ready()
        tensors = {k: v for k, v in inputs.items() if isinstance(v, torch.Tensor)}
        self._inputs = frozenset(tensors)
        scalars = {k: v for k, v in inputs.items() if not isinstance(v, torch.Tensor)}
        self._send({"type": "case", "scalars": scalars, "dtype": self.dtype,
                    "expect": {k: list(v) for k, v in expect.items()},
                    "misshaped_bytes": self._misshaped_bytes(expect)}, tensors)

    def _misshaped_bytes(self, expect: Mapping[str, tuple[int, ...]]) -> int:
        """The bytes a reply's mis-shaped gradients may take together (told to the child,
        enforced on its reply): what ``Limits.result_bytes`` leaves after the expected ones."""
        return int(wire.misshaped_budget(expect, self.dtype, self.limits.result_bytes))

    def receive_reply(self, expect: Mapping[str, tuple[int, ...]]) -> Reply:
        """Wait for the reply to the case last sent; return what came back, verified."""
        header = self._receive()
        if header.get("type") != "reply":
            self._end(ERROR, "the submission broke the result channel (unexpected message)")
        if not header.get("ok"):
            err = _clean_error(header.get("error"))
            if err["kind"] == "memory":
                self._end(MEMORY_LIMIT, _memory_message(self.limits))
            return Reply(error=err)
        cpu = header.get("cpu_ms")
        cpu = float(cpu) if type(cpu) in (int, float) and 0 <= cpu < 1e9 else None
        if header.get("not_dict") is not None:
            return Reply(not_dict=clean_text(header["not_dict"], 100), cpu_ms=cpu)
        with self._reading():
            entries = wire.parse_entries(header)
            payloads = wire.read_payloads(self.reader, entries, expect, self.dtype,
                                          self._misshaped_bytes(expect))
        extra = header.get("extra") if isinstance(header.get("extra"), list) else []
        shaped = {k: v for k, v in payloads.items() if tuple(v.shape) == tuple(expect[k])}
        return Reply(entries={e.name: e for e in entries if e.name in expect},
                     tensors=shaped, dtype=self.dtype,
                     extra=[clean_text(x, 100) for x in extra[:50]],
                     misshaped={k: v for k, v in payloads.items() if k not in shaped},
                     shares=wire.name_groups(header.get("shares"), expect),
                     changed_inputs=wire.names_in(header.get("changed_inputs"),
                                                  self._inputs),
                     cpu_ms=cpu)

    def _finish_output(self) -> None:
        # The child is dead or finishing: collect what it printed, briefly. Wait on the pipe
        # itself (woken the moment the last writer closes it), not in fixed sleeps.
        end = time.monotonic() + 0.5
        while True:
            self.output.drain()
            left = end - time.monotonic()
            if self.output.eof or left <= 0:
                return
            select.select([self.output.fd], [], [], left)

    def stdout(self) -> str:
        """Return the first ``output_bytes`` of what the child printed (so far)."""
        self.output.drain()
        return self.output.text()

    def close(self) -> None:
        """End the child (politely, then by force) and release the sandbox."""
        if self._closed:
            return
        self._closed = True
        try:
            if self.ended is None and self.pid is not None:
                try:
                    self._send({"type": "close"})
                except SessionEnded:
                    pass
                self.sandbox._kill(self.pid)
                self._finish_output()
                self.sandbox._exit_of(self.pid, 1.0)
        finally:
            self.reader.close()
            self.sock.close()
            os.close(self.output.fd)
            self.sandbox._lock.release()


def _clean_error(err: Any) -> dict[str, Any]:
    """Sanitise an error dict coming from the (untrusted) child."""
    if not isinstance(err, dict):
        err = {}
    line = err.get("line")
    if not (isinstance(line, int) and not isinstance(line, bool) and 0 < line < 10**7):
        line = None
    return {"kind": clean_text(err.get("kind", "exception"), 40),
            "message": clean_text(err.get("message", "the submission failed"), 2000),
            "line": line,
            "traceback": clean_text(err.get("traceback", ""), 8000)}


def _violation_message(msg: dict[str, Any]) -> str:
    """Say what autograd use was detected (the child's words are capped, not trusted)."""
    found = clean_text(msg.get("message") or "autograd use", 2000)
    text = f"autograd is off limits in this exercise — detected: {found}"
    hints = msg.get("hints")
    if isinstance(hints, list) and hints:
        text += " (the source mentions: " + ", ".join(clean_text(h, 80) for h in hints[:10]) \
            + ")"
    return text


def _memory_message(limits: Limits) -> str:
    return f"the submission ran out of memory (limit {limits.memory_bytes // 2**20} MiB)"


def _explain_exit(info: dict[str, Any] | None, limits: Limits) -> tuple[str, str]:
    """Turn a child's exit into a status and a clear message."""
    if info is None:
        return ERROR, "the submission's process ended without returning a result"
    sig = info.get("signal")
    if sig == signal.SIGXCPU:
        return TIMEOUT, f"the submission used more than {limits.cpu_seconds} s of CPU time"
    cpu = info.get("cpu_seconds")
    if sig == signal.SIGKILL and isinstance(cpu, int | float) and cpu >= limits.cpu_seconds:
        # SIGXCPU was ignored: the hard CPU limit's SIGKILL ended it.
        return TIMEOUT, f"the submission used more than {limits.cpu_seconds} s of CPU time"
    if sig == signal.SIGKILL:
        return ERROR, ("the submission's process was killed (SIGKILL) before returning a "
                       "result — does it kill its own process?")
    if sig is not None:
        name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else sig
        return ERROR, f"the submission's process crashed ({name}) before returning a result"
    return ERROR, (f"the submission's process exited (status {info.get('code')}) before "
                   "returning a result — does it call sys.exit() or os._exit()?")

"""The zygote: a warm process that has imported torch and forks one child per submission.

``import torch`` costs ~2 s here while grading ex1 costs milliseconds, so a fresh interpreter
per submission would be hundreds of times slower than the work. The zygote pays the import
once; each job is a ``fork()`` (~15 ms).

It is started by *exec* with a clean environment (never forked from the worker or the web
process, whose memory and ``/proc/self/environ`` hold broker and database credentials), and
is driven over a SOCK_SEQPACKET control socket:

    parent → zygote  {"type": "spawn", "limits": {...}}  + fds [job socket, output pipe]
    zygote → parent  {"type": "spawned", "pid": P}
    parent → zygote  {"type": "kill", "pid": P}
    zygote → parent  {"type": "exited", "pid": P, "code": C, "signal": S}   (asynchronous)

The zygote exits when the control socket closes, killing its children first.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import socket
import sys
import tempfile
from typing import Any

CTL_MAX = 64 * 1024


def _limit(which: int, value: int) -> None:
    try:
        resource.setrlimit(which, (value, value))
    except (ValueError, OSError):
        soft, hard = resource.getrlimit(which)
        if hard != resource.RLIM_INFINITY and value > hard:
            resource.setrlimit(which, (hard, hard))


def _vm_size() -> int:
    """Return this process's current virtual memory size in bytes."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


def _child(job_fd: int, out_fd: int, ctl: socket.socket, limits: dict[str, Any],
           workdir: str) -> None:
    """Set up the forked child (session, fds, limits, cwd) and run the harness."""
    try:
        os.setsid()
        ctl.close()
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(out_fd, 1)
        os.dup2(out_fd, 2)
        if job_fd != 3:
            os.dup2(job_fd, 3)
        os.closerange(4, 1 << 16)
        os.chdir(workdir)
        # The address-space cap adds the budget to what torch already maps: torch reserves
        # far more virtual memory than it touches, so an absolute cap would starve it.
        _limit(resource.RLIMIT_AS, _vm_size() + int(limits["memory_bytes"]))
        _limit(resource.RLIMIT_CPU, int(limits["cpu_seconds"]))
        _limit(resource.RLIMIT_FSIZE, int(limits["file_bytes"]))
        _limit(resource.RLIMIT_NOFILE, int(limits["open_files"]))
        _limit(resource.RLIMIT_CORE, 0)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.set_wakeup_fd(-1)
        from grader.sandbox import child

        child.serve(socket.socket(fileno=3))
    finally:
        os._exit(70)


def main() -> None:
    """Serve spawn/kill requests on the control socket given as argv[1]."""
    ctl = socket.socket(fileno=int(sys.argv[1]))
    import torch

    # A child forked after OpenMP's pool started hangs forever: pin one thread before any use.
    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    import grader.sandbox.child  # noqa: F401 — preload the harness for every child

    children: dict[int, str] = {}
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)

    def send(msg: dict[str, Any]) -> None:
        try:
            ctl.sendall(json.dumps(msg).encode())
        except OSError:  # the parent is gone; the loop ends at the next read
            pass

    def reap() -> None:
        while children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            shutil.rmtree(children.pop(pid, ""), ignore_errors=True)
            send({"type": "exited", "pid": pid,
                  "code": os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else None,
                  "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None})

    send({"type": "hello", "pid": os.getpid()})
    import select

    while True:
        try:
            ready, _, _ = select.select([ctl, wake_r], [], [])
        except InterruptedError:
            continue
        if wake_r in ready:
            os.read(wake_r, 4096)
            reap()
        if ctl not in ready:
            continue
        try:
            data, fds, _, _ = socket.recv_fds(ctl, CTL_MAX, 4)
        except OSError:
            data, fds = b"", []
        if not data:
            break
        msg = json.loads(data)
        if msg["type"] == "spawn":
            job_fd, out_fd = fds
            workdir = tempfile.mkdtemp(prefix="backprop-job-")
            pid = os.fork()
            if pid == 0:
                _child(job_fd, out_fd, ctl, msg["limits"], workdir)
            os.close(job_fd)
            os.close(out_fd)
            children[pid] = workdir
            send({"type": "spawned", "pid": pid})
        elif msg["type"] == "kill" and msg.get("pid") in children:
            _kill(msg["pid"])
        for fd in fds if msg["type"] != "spawn" else ():
            os.close(fd)
    for pid in list(children):
        _kill(pid)
    reap()


def _kill(pid: int) -> None:
    """Kill a child's whole session; also the pid itself, in case it has not called setsid."""
    for kill in (os.killpg, os.kill):
        try:
            kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


if __name__ == "__main__":
    main()

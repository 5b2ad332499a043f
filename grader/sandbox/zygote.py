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

import contextlib
import ctypes
import gc
import importlib
import json
import os
import resource
import signal
import socket
import stat
import sys
import tempfile
from pathlib import Path
from typing import Any

from grader.sandbox import landlock, seccomp

CTL_MAX = 64 * 1024
#: Imported by the zygote so children find them in sys.modules: a child may run as a uid
#: that cannot read the Python install (e.g. pyenv under a 0700 /root without bwrap).
PRELOAD = (
    "grader.sandbox.child", "torch.nn.functional", "torch.nn", "numpy", "math", "random",
    "string", "collections", "itertools", "functools", "operator", "json", "re", "typing",
    "dataclasses", "statistics", "encodings.idna", "copy", "time", "warnings",
)
CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
CLONE_NEWNS = 0x00020000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_REMOUNT, MS_BIND = 1, 2, 4, 32, 4096
MS_REC, MS_PRIVATE = 16384, 1 << 18
#: Size of each private temporary mount of a child without the jail (bwrap's /tmp: jail.py).
PRIVATE_TMP_BYTES = 64 * 1024**2
_libc = ctypes.CDLL(None, use_errno=True)
#: The kernel's Landlock ABI (0: none); read once by the zygote.
LANDLOCK_ABI = landlock.abi()
#: Trees a child may not read (see landlock.py): symbolic differentiation packages.
HIDDEN_PACKAGES = ("sympy", "mpmath")
#: The checkout (the grader package's parent), as the parent's host.ROOT.
ROOT = Path(__file__).resolve().parents[2]
#: What a child may read besides the Python runtime, its packages and the job directories.
SYSTEM_READABLE = ("/usr", "/bin", "/lib", "/lib32", "/lib64", "/sbin", "/proc", "/dev",
                   "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d",
                   "/etc/alternatives", "/etc/localtime")


def readable_paths() -> list[str]:
    """Return what a child may read (the Landlock read layer; see landlock.py): what the
    jail shows, whether or not there is a jail."""
    from grader.sandbox import jail

    return [*SYSTEM_READABLE, jobs_root(), *jail.readonly_paths(ROOT)]


def jobs_root() -> str:
    """Return the directory that holds the job directories (in the jail's, or the zygote's
    private, /tmp). It exists before the read layer is built, so that the layer covers the
    job directories made in it later — a rule covers what is beneath it, and /tmp itself may
    only get rules for its entries (a checkout in /tmp holds a hidden tree)."""
    return os.path.join(tempfile.gettempdir(), "backprop-jobs")


def hidden_trees() -> list[str]:
    """Return every installed copy of :data:`HIDDEN_PACKAGES` beneath a readable path."""
    roots = [p for p in readable_paths() if os.path.isdir(p) and not p.startswith("/proc")
             and not p.startswith("/dev")]
    return landlock.find_hidden(roots, HIDDEN_PACKAGES)


def _prctl(option: int, value: int) -> None:
    _libc.prctl(option, value, 0, 0, 0)


def _limit(which: int, value: int, hard: int | None = None) -> None:
    hard = value if hard is None else hard
    try:
        resource.setrlimit(which, (value, hard))
    except (ValueError, OSError):
        soft, hard = resource.getrlimit(which)
        if hard != resource.RLIM_INFINITY and value > hard:
            resource.setrlimit(which, (hard, hard))


def _vm_size() -> int:
    """Return this process's current virtual memory size in bytes."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


def _spare(ctl: socket.socket, inbox: socket.socket, uid: int | None, own_netns: bool,
           workdir: str, read_layer: int | None) -> None:
    """Run as a child forked ahead of time: confine itself, wait for a job, then run it.

    Forking a torch-loaded process costs ~10 ms and confining it ~1 ms; a spare pays both
    before the submission arrives, so a job starts as soon as its file descriptors are
    handed over. Everything that does not depend on the job happens here, while the spare is
    still root (so the zygote's sweep of the sandbox uid after the *previous* job does not
    kill it); the uid drop and the job's own limits come with the job.
    """
    try:
        os.setsid()
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # never outlive the zygote
        ctl.close()
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.set_wakeup_fd(-1)
        try:
            _confine(workdir, uid, own_netns, read_layer)
            failed = None
        except Exception as exc:  # noqa: BLE001 — reported on the job's output, below
            failed = exc
        data, fds, _, _ = socket.recv_fds(inbox, CTL_MAX, 2)
        if not data or len(fds) != 2:
            os._exit(0)
        job = json.loads(data)
        inbox.close()
        _child(fds[0], fds[1], job["limits"], uid, failed)
    finally:
        os._exit(70)


def _confine(workdir: str, uid: int | None, own_netns: bool, read_layer: int | None) -> None:
    """Confine the spare for good, before any job: namespaces, working directory, then the
    kernel's walls, in the order they need (mounts before Landlock, Landlock and
    ``PR_SET_DUMPABLE`` before the seccomp filter, which refuses both afterwards)."""
    if own_netns:
        _isolate_without_jail()
    os.chdir(workdir)  # the job's own 0700 directory (root's DAC override enters it)
    # Non-dumpable in every mode (a uid change implies it; without root nothing does): no
    # core file, no ptrace or /proc/PID/mem access by another process of the same uid.
    _prctl(PR_SET_DUMPABLE, 0)
    _prctl(PR_SET_NO_NEW_PRIVS, 1)
    # Reads: no sympy/mpmath; writes: the job directory only (see landlock.py).
    landlock.restrict(read_layer, workdir, LANDLOCK_ABI)
    # Last: one thread and one process, for good (see seccomp.py). Fail closed if the kernel
    # refuses; an architecture without a filter is warned about by the parent.
    if seccomp.supported():
        seccomp.install(_libc)
    from grader.sandbox import guard

    guard.warm()  # pay the check's copy-on-write faults now, not during the job


def _child(job_fd: int, out_fd: int, limits: dict[str, Any], uid: int | None,
           failed: BaseException | None) -> None:
    """Take the job's fds, apply its limits, drop to the sandbox uid and run the harness."""
    try:
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(out_fd, 1)
        os.dup2(out_fd, 2)
        if job_fd != 3:
            os.dup2(job_fd, 3)
        os.closerange(4, 1 << 16)
        if failed is not None:
            raise failed
        # The address-space cap adds the budget to what torch already maps: torch reserves
        # far more virtual memory than it touches, so an absolute cap would starve it.
        _limit(resource.RLIMIT_AS, _vm_size() + int(limits["memory_bytes"]))
        # SIGXCPU at the soft limit says "CPU time"; the hard limit's SIGKILL is a backstop.
        _limit(resource.RLIMIT_CPU, int(limits["cpu_seconds"]), int(limits["cpu_seconds"]) + 2)
        _limit(resource.RLIMIT_FSIZE, int(limits["file_bytes"]))
        _limit(resource.RLIMIT_NOFILE, int(limits["open_files"]))
        _limit(resource.RLIMIT_CORE, 0)
        if uid is not None:
            # The uid is this sandbox's alone, so NPROC counts exactly this job's processes
            # (none can be started: the seccomp filter already refuses threads and forks).
            _limit(resource.RLIMIT_NPROC, int(limits["max_processes"]))
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
        from grader.sandbox import child

        child.serve(socket.socket(fileno=3))
    except BaseException as exc:  # noqa: BLE001 — report, never fall through to the zygote
        with contextlib.suppress(Exception):
            os.write(2, f"sandbox setup failed: {exc}\n".encode())
    finally:
        os._exit(70)


def _private_mounts() -> None:
    """Without bwrap (in the zygote, once): a private mount namespace for it and its children.

    Empty tmpfs mounts hide the host's unix sockets (PostgreSQL's in /run/postgresql, …),
    since a network namespace does not cover socket files; private, size-capped ``/tmp``,
    ``/var/tmp`` and ``/dev/shm`` take the job directories and whatever a child writes:
    nothing reaches the host's, nothing outlives the zygote. Done before the Landlock read
    layer is built, so that its rules cover these mounts. Fails closed.
    """
    real_uid, real_gid = os.getuid(), os.getgid()
    flags = CLONE_NEWNS | (CLONE_NEWUSER if real_uid != 0 else 0)
    if _libc.unshare(flags) != 0:
        raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNS) failed")
    if real_uid != 0:
        # Map our own ids into the new user namespace: files created in the private mounts
        # need an owner the kernel can name. (The children keep this uid: there is no other.)
        for name, text in (("setgroups", "deny"), ("uid_map", f"{real_uid} {real_uid} 1"),
                           ("gid_map", f"{real_gid} {real_gid} 1")):
            with open(f"/proc/self/{name}", "w") as f:
                f.write(text)
    if _libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None) != 0:
        raise OSError(ctypes.get_errno(), "cannot make the mounts private")
    hidden = {b"/run": b"size=1m", b"/var/run": b"size=1m",
              b"/var/lib/postgresql": b"size=1m", b"/var/lib/mysql": b"size=1m",
              b"/tmp": b"size=%d,mode=1777" % PRIVATE_TMP_BYTES,
              b"/var/tmp": b"size=%d,mode=1777" % PRIVATE_TMP_BYTES,
              b"/dev/shm": b"size=%d,mode=1777" % PRIVATE_TMP_BYTES}
    # What the children need that lives below one of these (a checkout or a venv in /tmp):
    # held open now, bound back read-only on top of the new mount, as bwrap does.
    from grader.sandbox import jail

    below = [p for p in jail.readonly_paths(ROOT)
             if any(p.startswith(m.decode() + "/") for m in hidden)]
    held = {p: os.open(p, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC) for p in below}
    for path, options in hidden.items():
        if os.path.isdir(path) and not os.path.islink(path) and _libc.mount(
                b"tmpfs", path, b"tmpfs", MS_NOSUID | MS_NODEV, options) != 0:
            raise OSError(ctypes.get_errno(), f"cannot hide {path.decode()}")
    for path, fd in held.items():
        os.makedirs(path, exist_ok=True)
        source, target = f"/proc/self/fd/{fd}".encode(), path.encode()
        if _libc.mount(source, target, None, MS_BIND | MS_REC, None) != 0 or _libc.mount(
                None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV,
                None) != 0:
            raise OSError(ctypes.get_errno(), f"cannot bind {path} back")
        os.close(fd)


def _isolate_without_jail() -> None:
    """Without bwrap (in each spare): a private network namespace (fail closed).

    It cuts TCP, loopback included, and abstract unix sockets. (Without root the zygote's
    user namespace gives the spare the right to make it; seccomp then refuses any other.)
    """
    if _libc.unshare(CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNET) failed")


_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def _open_dir(name: str, dir_fd: int | None) -> int:
    """Open a directory entry without following a symlink; make it readable if it is not."""
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
    except PermissionError:  # a 000 directory of our own uid (without root's DAC override)
        os.chmod(name, 0o700, dir_fd=dir_fd)
        return os.open(name, _DIR_FLAGS, dir_fd=dir_fd)


def _clear(fd: int) -> list[str]:
    """Unlink every non-directory in the directory ``fd``; return its subdirectories."""
    for attempt in (0, 1):
        subdirs: list[str] = []
        try:
            with os.scandir(fd) as entries:
                for entry in entries:
                    if entry.is_dir(follow_symlinks=False):
                        subdirs.append(entry.name)
                    else:
                        with contextlib.suppress(FileNotFoundError):
                            os.unlink(entry.name, dir_fd=fd)
            return subdirs
        except PermissionError:
            if attempt:
                raise
            os.chmod(fd, 0o700)  # a read-only directory of our own: unlinking needs write
    return []


def remove_tree(path: str) -> None:
    """Remove the directory tree at ``path`` without recursion and trusting nothing of it.

    A job's directory is built by hostile code: it may be thousands of levels deep (past
    ``PATH_MAX`` and Python's recursion limit: ``shutil.rmtree`` raises there), hold
    symlinks (never followed: entries are opened ``O_NOFOLLOW`` relative to their parent's
    fd) and unreadable or read-only directories (made ours again). Only one directory fd is
    open at a time; the walk climbs back with ``..``, which nobody can move: every process
    of the job is dead by then.
    """
    fd = _open_dir(path, None)
    names: list[str] = []  # the path from ``path`` down to the current directory
    pending = [_clear(fd)]  # per level, the subdirectories still to remove
    try:
        while pending:
            if pending[-1]:
                name = pending[-1].pop()
                try:
                    sub = _open_dir(name, fd)
                except (FileNotFoundError, NotADirectoryError):
                    with contextlib.suppress(FileNotFoundError, IsADirectoryError):
                        os.unlink(name, dir_fd=fd)
                    continue
                os.close(fd)
                fd = sub
                names.append(name)
                pending.append(_clear(fd))
                continue
            pending.pop()
            if not names:
                break
            parent = os.open("..", _DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = parent
            os.rmdir(names.pop(), dir_fd=fd)
    finally:
        os.close(fd)
    if not stat.S_ISDIR(os.lstat(path).st_mode):
        raise OSError(f"{path} changed while it was being removed")
    os.rmdir(path)


def _is_zombie(proc_dir: str) -> bool:
    """Return whether every thread of the process is dead (a zombie leader may have live
    threads: a main thread that called pthread_exit leaves its pid looking like a zombie)."""
    try:
        tasks = os.listdir(f"{proc_dir}/task")
    except OSError:
        return True
    for tid in tasks:
        try:
            with open(f"{proc_dir}/task/{tid}/stat", "rb") as f:
                if f.read().rpartition(b")")[2].split()[0] not in (b"Z", b"X"):
                    return False
        except OSError:
            continue
    return True


def _kill_uid(uid: int) -> None:
    """SIGKILL every process of ``uid`` (a fork bomb or setsid daemon included), until none."""
    for _ in range(100):
        found = False
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                if entry.stat().st_uid != uid or _is_zombie(entry.path):
                    continue
                os.kill(int(entry.name), signal.SIGKILL)
                found = True
            except (FileNotFoundError, ProcessLookupError, PermissionError):
                continue
        if not found:
            return


def main() -> None:
    """Serve spawn/kill requests on the control socket given as argv[1].

    argv: ``CTL_FD UID OWN_NETNS`` — the uid children drop to (``-`` for none) and whether
    each child must unshare its own network namespace (``1`` when there is no bwrap jail).
    """
    ctl = socket.socket(fileno=int(sys.argv[1]))
    uid = None if sys.argv[2] == "-" else int(sys.argv[2])
    own_netns = sys.argv[3] == "1"
    if own_netns:
        _private_mounts()  # no jail: private /tmp & co. for the zygote and all its children
    _prctl(PR_SET_CHILD_SUBREAPER, 1)  # orphans of a job come back to us to be reaped
    import torch

    # A child forked after OpenMP's pool started hangs forever: pin one thread before any use.
    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    # Preload what children import: they may run as a uid that cannot read the install.
    for module in PRELOAD:
        with contextlib.suppress(ImportError):
            importlib.import_module(module)
    os.makedirs(jobs_root(), mode=0o711, exist_ok=True)
    # The read layer every child enforces (built once: ~50 ms of listing directories).
    read_layer = None
    if LANDLOCK_ABI:
        try:
            read_layer = landlock.read_ruleset(readable_paths(), hidden_trees(), LANDLOCK_ABI,
                                               listable=[tempfile.gettempdir()])
        except OSError as exc:
            sys.stderr.write(f"zygote: no Landlock read layer: {exc}\n")
    # Everything above lives as long as the zygote and is shared with every child: keep the
    # garbage collector off it (a collection writes to every object it walks, and each write
    # to a page a child shares copies that page).
    gc.collect()
    gc.freeze()

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

    spare: dict[str, Any] = {}

    def fork_spare() -> None:
        # The next job's directory exists before its spare, which confines itself to it.
        workdir = tempfile.mkdtemp(prefix="job-", dir=jobs_root())
        if uid is not None:
            os.chown(workdir, uid, uid)
        zygote_end, spare_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        pid = os.fork()
        if pid == 0:
            zygote_end.close()
            _spare(ctl, spare_end, uid, own_netns, workdir, read_layer)
        spare_end.close()
        spare.update(pid=pid, sock=zygote_end, workdir=workdir)

    def use_spare(job_fd: int, out_fd: int, limits: dict[str, Any]) -> tuple[int, str]:
        if not spare:
            fork_spare()
        pid, sock, workdir = spare.pop("pid"), spare.pop("sock"), spare.pop("workdir")
        payload = json.dumps({"limits": limits}).encode()
        socket.send_fds(sock, [payload], [job_fd, out_fd])
        sock.close()
        return pid, workdir

    def remove(workdir: str) -> None:
        try:
            remove_tree(workdir)
        except OSError as exc:  # never let one job's files reach the next
            sys.stderr.write(f"zygote: cannot remove {workdir}: {exc}; stopping\n")
            os._exit(75)

    def reap() -> None:
        while True:
            try:
                pid, status, usage = os.wait4(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid == spare.get("pid"):
                spare.pop("sock").close()
                remove(spare.pop("workdir"))
                spare.clear()
                continue
            if pid not in children:
                continue  # an orphan of some job, re-parented to us
            if uid is not None:
                _kill_uid(uid)  # whatever the job left behind (setsid daemons included)
            remove(children.pop(pid))
            send({"type": "exited", "pid": pid,
                  "code": os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else None,
                  "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
                  "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 3)})

    fork_spare()
    send({"type": "hello", "pid": os.getpid()})
    import select

    spawned = 0
    to_collapse: list[tuple[int, int]] = []

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
            pid, workdir = use_spare(job_fd, out_fd, msg["limits"])
            os.close(job_fd)
            os.close(out_fd)
            children[pid] = workdir
            send({"type": "spawned", "pid": pid})
            fork_spare()  # for the next job, while the parent grades this one
            spawned += 1
            if spawned == HUGE_PAGES_AFTER:
                to_collapse = huge_ranges()
            if to_collapse:  # a few MiB per job, while the parent grades this one
                collapse(to_collapse, HUGE_PAGES_STEP)
        elif msg["type"] == "kill" and msg.get("pid") in children:
            _kill(msg["pid"], uid)
        for fd in fds if msg["type"] != "spawn" else ():
            os.close(fd)
    for pid in [*children, *([spare["pid"]] if spare else [])]:
        _kill(pid, uid)
    reap()
    # No interpreter shutdown: tearing torch's modules down takes ~0.5 s, and the parent
    # waits for this process to exit before it gives the uid back.
    with contextlib.suppress(Exception):
        sys.stderr.flush()
    os._exit(0)


MADV_COLLAPSE = 25
HUGE_PAGE = 2 * 1024**2
#: Jobs a zygote serves before it packs its memory into huge pages, and how much it packs
#: after each job from then on (see :func:`huge_ranges`): a one-file ``backprop check``
#: never pays for it; a batch's or a worker's zygote pays ~10–50 ms after each of its 8th
#: to ~18th jobs, and saves ~10 ms of CPU (its own and the child's) on every job after.
HUGE_PAGES_AFTER = 8
HUGE_PAGES_STEP = 8 * HUGE_PAGE


def huge_ranges() -> list[tuple[int, int]]:
    """Return the 2 MiB-aligned ranges of this process's private writable memory.

    ``fork()`` copies one page-table entry per 4 KiB page of private memory (~150 MB once
    torch is imported: ~38,000 entries, each with a reference count taken at the fork and
    dropped at the child's exit): ~5–7 ms of kernel time in the zygote per job, and about
    as much again in each child. Collapsed into 2 MiB transparent huge pages (:func:`collapse`),
    the same memory is ~75 entries. Nothing a child can see changes: the contents are the
    same, and a page a child writes is still copied 4 KiB at a time (the kernel splits the
    huge mapping in that process only). Only the anonymous mappings and the brk heap: no
    file mapping, no stack.
    """
    try:
        with open("/proc/self/maps") as f:
            lines = f.read().splitlines()
    except OSError:
        return []
    out = []
    for line in lines:
        fields = line.split()
        if len(fields) < 5 or fields[1][:2] != "rw" or fields[1][3] != "p" or \
                (len(fields) > 5 and fields[5] != "[heap]"):
            continue
        start, end = (int(x, 16) for x in fields[0].split("-"))
        lo = -(-start // HUGE_PAGE) * HUGE_PAGE
        hi = end // HUGE_PAGE * HUGE_PAGE
        out += [(a, min(a + HUGE_PAGES_STEP, hi)) for a in range(lo, hi, HUGE_PAGES_STEP)]
    return out


def collapse(ranges: list[tuple[int, int]], step: int) -> None:
    """Collapse about ``step`` bytes of ``ranges`` (consumed from the front) into huge pages.

    ``MADV_COLLAPSE`` (Linux >= 6.1) copies the pages into a new huge page for this process
    alone (children keep theirs) and works whatever the THP ``enabled`` setting except
    ``never``; no region is marked ``MADV_HUGEPAGE``, so what children allocate keeps the
    system's default. Best effort: a range the kernel refuses (an older kernel, no free huge
    page, memory that changed since it was listed) stays as it was.
    """
    madvise = _libc.madvise
    madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    done = 0
    while ranges and done < step:
        lo, hi = ranges.pop(0)
        madvise(lo, hi - lo, MADV_COLLAPSE)
        done += hi - lo


def _kill(pid: int, uid: int | None) -> None:
    """Kill a child's whole session; also the pid itself, in case it has not called setsid."""
    if uid is not None:
        _kill_uid(uid)
    for kill in (os.killpg, os.kill):
        try:
            kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


if __name__ == "__main__":
    main()

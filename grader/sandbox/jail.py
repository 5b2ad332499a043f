"""The zygote's outer jail (bubblewrap) and the per-sandbox unprivileged uid.

Isolation is layered, each layer for a threat the others miss:

- **bwrap** (Debian package ``bubblewrap``) runs the zygote, and so every child, in new
  network, PID, IPC and UTS namespaces, on a root file system that holds only the system
  libraries, the Python runtime and site-packages (read-only), the ``grader`` package and a
  size-capped ``/tmp``: no instance folder, no home, no caller's working directory, no network
  at all (not even the host's loopback, where Redis and PostgreSQL listen).
- **A uid per sandbox** (when the grader runs as root): each child drops to a uid that no other
  process on the machine uses, so ``RLIMIT_NPROC`` caps exactly that child's processes (a
  fork bomb) and ``kill(-1)`` run as that uid ends everything the job started, even a
  ``setsid()`` daemon that left the process group.
- Without bwrap the sandbox still drops privileges and cuts the network with
  ``unshare(CLONE_NEWNET)`` per child, but the file system is only protected by permissions:
  that is logged as a loud warning, never silently.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

#: uids reserved for sandbox children; one per live Sandbox on the machine.
UID_BASE = 61000
UID_COUNT = 1000
LOCK_DIR = Path("/tmp/backprop-grader-uids")
#: Size of the jail's private /tmp, shared by the working dirs of its (sequential) children.
TMP_BYTES = 64 * 1024**2

JAIL_WARNING = (
    "SANDBOX WITHOUT FILESYSTEM JAIL: bubblewrap (bwrap) was not found or cannot run here, so "
    "student code runs without a private root file system (it still gets its own network "
    "namespace, an unprivileged uid where possible and resource limits). Install the Debian "
    "package 'bubblewrap' to jail it.")


@dataclass
class Slot:
    """A reserved sandbox uid, held by an flock for the lifetime of the sandbox."""

    uid: int | None
    _fd: int | None = None

    def release(self) -> None:
        """Give the uid back."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def reserve_slot() -> Slot:
    """Reserve a uid no other sandbox on this machine holds (none when not root)."""
    if os.geteuid() != 0:
        return Slot(None)
    LOCK_DIR.mkdir(mode=0o700, exist_ok=True)
    start = os.getpid() % UID_COUNT
    for i in range(UID_COUNT):
        uid = UID_BASE + (start + i) % UID_COUNT
        fd = os.open(LOCK_DIR / str(uid), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        os.set_inheritable(fd, False)
        return Slot(uid, fd)
    raise RuntimeError(f"all {UID_COUNT} sandbox uids are in use")


def find_bwrap(setting: str | None = None) -> str | None:
    """Return the bwrap to use: ``setting`` or ``BACKPROP_BWRAP`` (a path, or ``off``)."""
    choice = setting if setting is not None else os.environ.get("BACKPROP_BWRAP", "")
    if choice.lower() in ("off", "none", "0", "no"):
        return None
    return shutil.which(choice or "bwrap")


def readonly_paths(root: Path) -> list[str]:
    """Return what the jail must show read-only: runtime, site-packages, the grader package."""
    paths = {sys.base_prefix, sys.prefix, str(root / "grader")}
    # Only package directories from sys.path: a script's own folder (a home directory, say)
    # is on sys.path too, and must not be shown to student code.
    paths.update(p for p in sys.path if p and os.path.isdir(p)
                 and Path(p).name in ("site-packages", "dist-packages"))
    # Keep only the outermost of nested paths.
    out: list[str] = []
    for p in sorted(paths, key=len):
        if not any(p == q or p.startswith(q.rstrip("/") + "/") for q in out):
            out.append(p)
    return out


def bwrap_argv(bwrap: str, root: Path) -> list[str]:
    """Return the bwrap command line that jails the zygote."""
    argv = [bwrap, "--die-with-parent", "--new-session",
            "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
            "--hostname", "sandbox"]
    for top in ("/usr", "/bin", "/lib", "/lib64", "/sbin"):
        if os.path.islink(top):
            argv += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            argv += ["--ro-bind", top, top]
    # /etc made first, traversable by the children's uid (bwrap would make it 0700)
    argv += ["--perms", "0755", "--dir", "/etc"]
    for etc in ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/alternatives",
                "/etc/localtime"):
        argv += ["--ro-bind-try", etc, etc]
    # The private /tmp first: a bind below /tmp (a checkout there) must land on top of it.
    argv += ["--size", str(TMP_BYTES), "--tmpfs", "/tmp"]
    binds = readonly_paths(root)
    # Parents of the binds are made 0755: the runtime may live under a 0700 home (pyenv in
    # /root), which the children's unprivileged uid could not traverse to import modules.
    parents = sorted({str(p) for b in binds for p in Path(b).parents if str(p) != "/"}, key=len)
    for parent in parents:
        argv += ["--perms", "0755", "--dir", parent]
    for path in binds:
        argv += ["--ro-bind", path, path]
    argv += ["--proc", "/proc", "--dev", "/dev", "--chdir", "/tmp"]
    if os.geteuid() == 0:
        # Root inside the jail keeps only what the zygote needs to drop children to their uid.
        argv += ["--cap-drop", "ALL"]
        # DAC_OVERRIDE lets it remove each job's 0700 directory after the job.
        for cap in ("CAP_SETUID", "CAP_SETGID", "CAP_KILL", "CAP_CHOWN", "CAP_FOWNER",
                    "CAP_DAC_OVERRIDE"):
            argv += ["--cap-add", cap]
    else:
        argv += ["--unshare-user"]
    return argv + ["--"]

"""A seccomp filter for the sandboxed child: one thread, one process, no way out of either.

Grad mode is per thread and a new thread starts with it *on*; C++ worker threads (e.g. those
``torch.distributed.rpc`` starts) run Python where no Python-level guard watches. So the child
must never gain a second thread of any kind, nor a second process — and that must be a limit
the kernel enforces, not one Python code could talk its way around. A seccomp filter does it
in every mode (root or not, with or without bubblewrap) and cannot be removed once set
(``PR_SET_NO_NEW_PRIVS`` is set first, as the kernel requires of unprivileged filters).

Denied with ``EPERM`` (the call fails, the process goes on and reports a clear error):

- ``clone``, ``clone3``, ``fork``, ``vfork``: no thread and no process. ``pthread_create``
  and ``std::thread`` fail, ``os.fork()`` raises.
- ``execve``/``execveat``: no program replaces the harness.
- namespaces, mounts, ``ptrace``, ``process_vm_*``, ``bpf``, ``perf_event_open``,
  ``userfaultfd``, ``io_uring``, kernel keyrings, module loading, ``kexec``: kernel surface a
  gradient checker never needs (defence in depth under the jail).
- ``prctl(PR_SET_DUMPABLE, …)``: the child stays non-dumpable.
- signals to anything but itself (``kill``, ``tkill``, ``tgkill`` with another pid;
  ``rt_sigqueueinfo``, ``pidfd_send_signal``): without a uid of its own (the mode without
  root) the child shares the zygote's uid, and must not be able to kill it.
- any system call of another ABI (i386 ``int 0x80`` or x32 on x86_64), whose numbers differ.

Filters are hand-assembled classic BPF (a few dozen instructions; no libseccomp needed).
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import struct

# classic BPF opcodes (linux/filter.h)
_LD_W_ABS = 0x00 | 0x00 | 0x20
_JEQ_K = 0x05 | 0x10 | 0x00
_JGE_K = 0x05 | 0x30 | 0x00
_RET_K = 0x06 | 0x00
# seccomp return actions (linux/seccomp.h)
_RET_ALLOW = 0x7FFF0000
_RET_ERRNO = 0x00050000
# offsets in struct seccomp_data: int nr; u32 arch; u64 ip; u64 args[6] (little endian)
_NR, _ARCH, _ARG0, _ARG1 = 0, 4, 16, 24

PR_SET_DUMPABLE = 4
PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2

#: Per architecture: the AUDIT_ARCH value and the numbers of the calls the filter names.
ARCHES: dict[str, dict] = {
    "x86_64": {
        "audit_arch": 0xC000003E, "x32_bit": 0x40000000,
        "deny": {"clone": 56, "fork": 57, "vfork": 58, "clone3": 435, "execve": 59,
                 "execveat": 322, "unshare": 272, "setns": 308, "mount": 165, "umount2": 166,
                 "pivot_root": 155, "chroot": 161, "ptrace": 101, "process_vm_readv": 310,
                 "process_vm_writev": 311, "bpf": 321, "perf_event_open": 298,
                 "userfaultfd": 323, "io_uring_setup": 425, "io_uring_enter": 426,
                 "io_uring_register": 427, "keyctl": 250, "add_key": 248, "request_key": 249,
                 "init_module": 175, "finit_module": 313, "delete_module": 176,
                 "kexec_load": 246, "kexec_file_load": 320, "rt_sigqueueinfo": 129,
                 "rt_tgsigqueueinfo": 297, "pidfd_send_signal": 424, "pidfd_open": 434,
                 "pidfd_getfd": 438, "open_tree": 428, "move_mount": 429, "fsopen": 430,
                 "fsmount": 432, "mount_setattr": 442},
        "prctl": 157, "kill": 62, "tkill": 200, "tgkill": 234,
    },
    "aarch64": {
        "audit_arch": 0xC00000B7, "x32_bit": None,
        "deny": {"clone": 220, "clone3": 435, "execve": 221, "execveat": 281, "unshare": 97,
                 "setns": 268, "mount": 40, "umount2": 39, "pivot_root": 41, "chroot": 51,
                 "ptrace": 117, "process_vm_readv": 270, "process_vm_writev": 271,
                 "bpf": 280, "perf_event_open": 241, "userfaultfd": 282,
                 "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
                 "keyctl": 219, "add_key": 217, "request_key": 218, "init_module": 105,
                 "finit_module": 273, "delete_module": 106, "kexec_load": 104,
                 "kexec_file_load": 294, "rt_sigqueueinfo": 138, "rt_tgsigqueueinfo": 240,
                 "pidfd_send_signal": 424, "pidfd_open": 434, "pidfd_getfd": 438,
                 "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsmount": 432,
                 "mount_setattr": 442},
        "prctl": 167, "kill": 129, "tkill": 130, "tgkill": 131,
    },
}


class Unsupported(OSError):
    """No filter is known for this machine's architecture."""


def supported() -> bool:
    """Return whether this machine's architecture has a filter."""
    return platform.machine() in ARCHES


class _Asm:
    """A tiny assembler for classic BPF with forward labels."""

    def __init__(self) -> None:
        self.code: list[tuple[int, object, object, int]] = []
        self.labels: dict[str, int] = {}

    def emit(self, op: int, k: int, jt: object = 0, jf: object = 0) -> None:
        self.code.append((op, jt, jf, k))

    def label(self, name: str) -> None:
        self.labels[name] = len(self.code)

    def assemble(self) -> bytes:
        out = bytearray()
        for i, (op, jt, jf, k) in enumerate(self.code):
            def rel(target: object, i: int = i) -> int:
                if isinstance(target, int):
                    return target
                offset = self.labels[str(target)] - i - 1
                assert 0 <= offset < 256, "BPF jump out of range"
                return offset
            out += struct.pack("=HBBI", op, rel(jt), rel(jf), k & 0xFFFFFFFF)
        return bytes(out)


def program(pid: int, arch: str | None = None) -> bytes:
    """Return the filter (raw ``sock_filter`` array) for a child whose pid is ``pid``."""
    spec = ARCHES.get(arch or platform.machine())
    if spec is None:
        raise Unsupported(errno.ENOSYS, f"no seccomp filter for {platform.machine()}")
    a = _Asm()
    a.emit(_LD_W_ABS, _ARCH)
    a.emit(_JEQ_K, spec["audit_arch"], 0, "deny")
    a.emit(_LD_W_ABS, _NR)
    if spec["x32_bit"] is not None:
        a.emit(_JGE_K, spec["x32_bit"], "deny", 0)
    for nr in spec["deny"].values():
        a.emit(_JEQ_K, nr, "deny", 0)
    a.emit(_JEQ_K, spec["prctl"], "prctl", 0)
    a.emit(_JEQ_K, spec["kill"], "self0", 0)
    a.emit(_JEQ_K, spec["tkill"], "self0", 0)
    a.emit(_JEQ_K, spec["tgkill"], "self0", 0)
    a.emit(_RET_K, _RET_ALLOW)
    # prctl: only PR_SET_DUMPABLE is refused
    a.label("prctl")
    a.emit(_LD_W_ABS, _ARG0)
    a.emit(_JEQ_K, PR_SET_DUMPABLE, "deny", 0)
    a.emit(_RET_K, _RET_ALLOW)
    # kill(pid|0|-pid), tkill(tid), tgkill(tgid, …): the first argument must name this
    # process (one thread: its tid is its pid). Only the low 32 bits hold a pid_t.
    a.label("self0")
    a.emit(_LD_W_ABS, _ARG0)
    a.emit(_JEQ_K, pid, "allow", 0)
    a.emit(_JEQ_K, 0, "allow", 0)
    a.emit(_JEQ_K, (-pid) & 0xFFFFFFFF, "allow", "deny")
    a.label("allow")
    a.emit(_RET_K, _RET_ALLOW)
    a.label("deny")
    a.emit(_RET_K, _RET_ERRNO | errno.EPERM)
    return a.assemble()


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def install(libc: ctypes.CDLL | None = None) -> None:
    """Confine this process for good (call it last in the child's setup, single-threaded).

    Raises :class:`Unsupported` on an architecture without a filter, ``OSError`` when the
    kernel refuses it (the caller fails closed).
    """
    prog = program(os.getpid())
    libc = libc or ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
    buf = ctypes.create_string_buffer(prog, len(prog))
    fprog = _SockFprog(len(prog) // 8, ctypes.addressof(buf))
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP) failed")


def thread_counter():
    """Return a function that says how many threads this process has (``/proc/self/stat``,
    field 20), for the child's check after every ``backward``.

    The file is opened once, here (before the submission runs), and re-read with
    ``pread``: an ``open`` per call would cost a path walk and an audit event. If the
    submission closes or replaces the descriptor, the next read fails or names another
    file (its device and inode are checked), and the count is unknown (-1).
    """
    try:
        fd = os.open("/proc/self/stat", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:  # no /proc here: the filter alone keeps the process single-threaded
        return lambda: 1
    identity = os.fstat(fd)
    ident = (identity.st_dev, identity.st_ino)

    def count(_fd=fd, _ident=ident, _pread=os.pread, _fstat=os.fstat, _int=int) -> int:
        try:
            st = _fstat(_fd)
            if (st.st_dev, st.st_ino) != _ident:
                return -1
            return _int(_pread(_fd, 4096, 0).rpartition(b")")[2].split()[17])
        except (OSError, ValueError, IndexError):
            return -1

    return count

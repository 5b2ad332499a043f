"""Landlock: what the sandboxed child may read and write, by path, enforced by the kernel.

Two layers, each an allow-list the kernel checks on every ``open`` (``/dev/fd/N`` and
``/proc/self/fd/N`` reopenings included: they are judged by what they resolve to), and that
the child can never lift:

- **reads** (built once in the zygote, inherited by every child): everything the jail shows
  except the *hidden* trees — ``sympy`` and ``mpmath``, which torch depends on and so are in
  every jail, and which differentiate symbolically. A child cannot read their files at all,
  so it cannot import them under another name either.
- **writes** (built in each child for its own job directory): files may be created, written,
  truncated, renamed or removed only beneath the job's working directory (and ``/dev/null``
  written). ``/proc/self/mem``, the host's ``/tmp`` (without the jail) and every other path
  are read-only to it, whatever the permissions say.

Landlock (Linux ≥ 5.13, ABI 1+) needs no privilege. Where the kernel lacks it, :func:`abi`
is 0 and the sandbox relies on its other layers (the parent logs a warning); the audit hook
still reports the same attempts in Python.
"""

from __future__ import annotations

import ctypes
import os
import stat
import struct
from collections.abc import Iterable

_SYS_CREATE_RULESET, _SYS_ADD_RULE, _SYS_RESTRICT_SELF = 444, 445, 446  # every 64-bit arch
_CREATE_RULESET_VERSION = 1
_RULE_PATH_BENEATH = 1

EXECUTE, WRITE_FILE, READ_FILE, READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
REMOVE_DIR, REMOVE_FILE, MAKE_CHAR, MAKE_DIR = 1 << 4, 1 << 5, 1 << 6, 1 << 7
MAKE_REG, MAKE_SOCK, MAKE_FIFO, MAKE_BLOCK, MAKE_SYM = 1 << 8, 1 << 9, 1 << 10, 1 << 11, 1 << 12
REFER, TRUNCATE = 1 << 13, 1 << 14  # ABI 2, ABI 3
#: Rights that may be granted on a single file (not only on a directory).
FILE_RIGHTS = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


def abi() -> int:
    """Return the kernel's Landlock ABI version (0: not available)."""
    version = _libc.syscall(_SYS_CREATE_RULESET, None, ctypes.c_size_t(0),
                            ctypes.c_uint32(_CREATE_RULESET_VERSION))
    return max(0, int(version))


def write_rights(version: int) -> int:
    """Return every write-like right this ABI knows."""
    rights = (WRITE_FILE | REMOVE_DIR | REMOVE_FILE | MAKE_CHAR | MAKE_DIR | MAKE_REG
              | MAKE_SOCK | MAKE_FIFO | MAKE_BLOCK | MAKE_SYM)
    if version >= 2:
        rights |= REFER
    if version >= 3:
        rights |= TRUNCATE
    return rights


def _check(result: int, what: str) -> int:
    if result < 0:
        raise OSError(ctypes.get_errno(), f"landlock: {what} failed")
    return result


def create_ruleset(handled: int) -> int:
    """Return the fd of a new ruleset handling the filesystem rights ``handled``."""
    attr = struct.pack("=Q", handled)
    return _check(_libc.syscall(_SYS_CREATE_RULESET, attr, ctypes.c_size_t(len(attr)),
                                ctypes.c_uint32(0)), "create_ruleset")


def allow(ruleset: int, path: str, rights: int, *, follow: bool = True) -> None:
    """Allow ``rights`` beneath ``path`` (file rights only, when it is not a directory).

    With ``follow=False`` a symlink gets the rule itself, not its target (so a link that
    points into a hidden tree's ancestor grants nothing there).
    """
    flags = os.O_PATH | os.O_CLOEXEC | (0 if follow else os.O_NOFOLLOW)
    fd = os.open(path, flags)
    try:
        if not stat.S_ISDIR(os.fstat(fd).st_mode):
            rights &= FILE_RIGHTS
        if not rights:
            return
        attr = struct.pack("=Qi", rights, fd)
        _check(_libc.syscall(_SYS_ADD_RULE, ctypes.c_int(ruleset),
                             ctypes.c_int(_RULE_PATH_BENEATH), attr, ctypes.c_uint32(0)),
               f"add_rule({path})")
    finally:
        os.close(fd)


def enforce(ruleset: int) -> None:
    """Confine this process by ``ruleset`` for good (needs ``PR_SET_NO_NEW_PRIVS``)."""
    _check(_libc.syscall(_SYS_RESTRICT_SELF, ctypes.c_int(ruleset), ctypes.c_uint32(0)),
           "restrict_self")


def _siblings(hidden: str) -> Iterable[str]:
    """Yield every path that is not ``hidden`` nor beneath it, as few subtrees as possible:
    the other entries of each directory on the way from ``/`` down to ``hidden``."""
    parts = [p for p in os.path.normpath(hidden).split("/") if p]
    here = "/"
    for part in parts:
        try:
            names = os.listdir(here)
        except OSError:
            return
        for name in names:
            if name != part:
                yield os.path.join(here, name)
        here = os.path.join(here, part)


def read_ruleset(hidden: Iterable[str], version: int) -> int | None:
    """Build (in the zygote) the read layer that hides ``hidden`` trees; None if no tree
    exists. Its fd is inherited by every child, which enforces it."""
    trees = sorted({os.path.realpath(h) for h in hidden if os.path.isdir(h)})
    if not trees or version < 1:
        return None
    # A layer that does not handle REFER forbids every rename across directories: handle it
    # here too, and allow it wherever reads are allowed.
    rights = READ_FILE | (REFER if version >= 2 else 0)
    ruleset = create_ruleset(rights)
    allowed: set[str] = set()
    for tree in trees:
        for path in _siblings(tree):
            if path in allowed or any(t == path or t.startswith(path + "/") for t in trees):
                continue  # an ancestor of a hidden tree: its other entries are listed instead
            try:
                allow(ruleset, path, rights, follow=False)
            except OSError:
                continue  # vanished or unopenable (a dangling link): nothing to read there
            allowed.add(path)
    return ruleset


def restrict(read_layer: int | None, workdir: str, version: int) -> None:
    """Confine this child: the inherited read layer, then writes beneath ``workdir`` only."""
    if version < 1:
        return
    if read_layer is not None:
        enforce(read_layer)
        os.close(read_layer)
    rights = write_rights(version)
    ruleset = create_ruleset(rights)
    try:
        allow(ruleset, workdir, rights)
        if os.path.exists("/dev/null"):
            allow(ruleset, "/dev/null", WRITE_FILE)
        enforce(ruleset)
    finally:
        os.close(ruleset)

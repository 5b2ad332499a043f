"""Landlock: what the sandboxed child may read and write, by path, enforced by the kernel.

Two layers, each an allow-list the kernel checks on every ``open`` (``/dev/fd/N`` and
``/proc/self/fd/N`` reopenings included: they are judged by what they resolve to), and that
the child can never lift:

- **reads** (built once in the zygote, inherited by every child): only what a child needs —
  the system's ``/usr`` (and its ``/bin``, ``/lib`` links), the dynamic linker's files in
  ``/etc``, the Python runtime, site-packages and the grader package, ``/proc``, ``/dev``
  and the private ``/tmp`` that holds the job directories — *minus* the hidden trees:
  ``sympy`` and ``mpmath``, wherever they are installed (torch depends on them, so they are in
  every jail, and they differentiate symbolically). Home directories, the instance folder,
  package caches (a ``.deb`` of sympy in ``/var/cache/apt``), other projects: unreadable
  even without bubblewrap.
- **writes** (built in each spare for its own job directory): files may be created, written,
  truncated, renamed or removed only beneath the job's working directory (and ``/dev/null``
  written). ``/proc/self/mem``, the host's ``/tmp`` and every other path are read-only to it,
  whatever the permissions say.

A rule covers what lies beneath a directory *as it is when the rule is made*: a file system
mounted over it later is not covered. So the zygote builds the read layer after its own
private mounts (without bubblewrap, see ``zygote._private_mounts``).

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


def _allow_except(ruleset: int, path: str, rights: int, hidden: list[str]) -> int:
    """Allow ``rights`` beneath ``path`` except reading files beneath the ``hidden`` trees;
    return how many rules it took.

    A rule covers everything beneath it, so a tree that holds a hidden one gets a rule per
    entry instead (recursively, down the hidden tree's ancestors only). The ancestors
    themselves may still be listed (``READ_DIR``, which reaches the hidden tree too: its
    file *names* are no secret): Python's import system lists every directory on
    ``sys.path``, and a new import from one it cannot list would fail.
    """
    if path in hidden:
        return 0
    if not any(h.startswith(path.rstrip("/") + "/") for h in hidden):
        try:
            allow(ruleset, path, rights, follow=False)
        except OSError:
            return 0  # vanished or unopenable (a dangling link): nothing to read there
        return 1
    try:
        names = os.listdir(path)
        allow(ruleset, path, rights & READ_DIR, follow=False)
    except OSError:
        return 0
    return 1 + sum(_allow_except(ruleset, os.path.join(path, name), rights, hidden)
                   for name in names)


#: Where Python packages live below a prefix (a venv, pyenv, Debian's /usr, /usr/local).
PACKAGE_DIRS = ("lib/python3*/site-packages", "lib/python3*/dist-packages",
                "lib/python3/dist-packages", "local/lib/python3*/dist-packages",
                "local/lib/python3*/site-packages", "lib64/python3*/site-packages")


def find_hidden(roots: Iterable[str], names: Iterable[str]) -> list[str]:
    """Return every installed package directory called one of ``names`` in a package
    directory at or below one of ``roots`` (``PACKAGE_DIRS``; a root may itself be one)."""
    import glob

    found: set[str] = set()
    for root in roots:
        homes = [root] if os.path.basename(root) in ("site-packages", "dist-packages") \
            else [d for pattern in PACKAGE_DIRS for d in glob.glob(os.path.join(root, pattern))]
        for home in homes:
            found.update(os.path.realpath(os.path.join(home, n)) for n in names
                         if os.path.isdir(os.path.join(home, n)))
    return sorted(found)


def read_ruleset(readable: Iterable[str], hidden: Iterable[str], version: int,
                 listable: Iterable[str] = ()) -> int | None:
    """Build (in the zygote) the read layer: ``readable`` paths allowed, ``hidden`` trees not,
    ``listable`` directories listed (their files are not readable unless ``readable``).

    Its fd is inherited by every child, which enforces it (:func:`restrict`). Returns None
    when the kernel has no Landlock.
    """
    if version < 1:
        return None
    trees = sorted({os.path.realpath(h) for h in hidden if os.path.isdir(h)})
    # A layer that does not handle REFER forbids every rename across directories: handle it
    # here too, and allow it wherever reads are allowed (the job directory's renames).
    rights = READ_FILE | READ_DIR | (REFER if version >= 2 else 0)
    ruleset = create_ruleset(rights)
    for path in sorted({os.path.realpath(p) for p in readable if os.path.lexists(p)}):
        _allow_except(ruleset, path, rights, trees)
    for path in listable:
        if os.path.isdir(path):
            allow(ruleset, path, READ_DIR)
    return ruleset


def restrict(read_layer: int | None, workdir: str, version: int) -> None:
    """Confine this spare: the inherited read layer, then writes beneath ``workdir`` only."""
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

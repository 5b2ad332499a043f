"""The instance folder (``BACKPROP_HOME``): embedded database, secret key, uploads.

Every command — ``check``, ``serve``, ``user``, ``batch`` — reads the same folder, never the
repository, so a checkout can be deleted without losing a course's data or secret.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

DEFAULT_HOME = "~/.backprop-grader"


def home() -> Path:
    """Return the instance folder, creating it (mode 0700) if needed."""
    path = Path(os.environ.get("BACKPROP_HOME") or DEFAULT_HOME).expanduser()
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def secret_key() -> str:
    """Return ``SECRET_KEY`` from the environment, or the instance's generated one.

    The key seeds the hidden cases (and, in the web app, signs sessions), so it is created
    once with 0600 permissions and kept. It is written to a private temporary file and then
    linked into place, so a process starting at the same moment never reads a half-written
    (empty) key: it either finds no key or the whole one.
    """
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    folder = home()
    path = folder / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    key = secrets.token_urlsafe(48)
    tmp = folder / f".secret_key.{os.getpid()}.{secrets.token_hex(4)}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(key)
        try:
            os.link(tmp, path)  # atomic, and fails if another process linked its key first
        except FileExistsError:
            return path.read_text().strip()
        return key
    finally:
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def locked(name: str) -> Iterator[None]:
    """Hold an exclusive lock named ``name`` in the instance folder, waiting for it if needed.

    Serializes work that two commands on one instance must not do at once (the first
    migration of a fresh SQLite database). The lock is ``flock`` on ``<name>.lock``: the
    kernel releases it when its holder exits, even killed, so no stale lock is left behind.
    Not re-entrant: a process must not take the same lock twice.
    """
    fd = os.open(home() / f"{name}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock

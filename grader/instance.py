"""The instance folder (``BACKPROP_HOME``): embedded database, secret key, uploads.

Every command — ``check``, ``serve``, ``user``, ``batch`` — reads the same folder, never the
repository, so a checkout can be deleted without losing a course's data or secret.
"""

from __future__ import annotations

import os
import secrets
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
    once with 0600 permissions and kept.
    """
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    path = home() / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        key = secrets.token_urlsafe(48)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process created it first
            return path.read_text().strip()
        with os.fdopen(fd, "w") as f:
            f.write(key)
        return key

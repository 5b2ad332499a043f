"""Configuration defaults: environment variables first, embedded defaults otherwise.

Embedded defaults need nothing installed system-wide: SQLite in ``BACKPROP_HOME`` and the
private Redis that ``backprop serve`` starts on a unix socket there. Production sets
``DATABASE_URL`` (PostgreSQL, psycopg 3) and ``REDIS_URL``.
"""

from __future__ import annotations

import os
from typing import Any

from grader import instance

#: Hard Celery time limit for one grading task; the sandbox's own wall limits are far below.
TASK_TIME_LIMIT = 180
TASK_SOFT_TIME_LIMIT = 150


def database_url(raw: str | None = None) -> str:
    """Return a SQLAlchemy URL: ``DATABASE_URL`` (psycopg 3 for PostgreSQL) or SQLite."""
    url = raw if raw is not None else os.environ.get("DATABASE_URL", "")
    if not url:
        return f"sqlite:///{instance.home() / 'backprop.db'}"
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def redis_socket() -> str:
    """Return the path of the embedded Redis server's unix socket."""
    return str(instance.home() / "redis.sock")


def broker_url() -> str:
    """Return ``REDIS_URL`` or the embedded Redis socket as a kombu URL."""
    return os.environ.get("REDIS_URL") or f"redis+socket://{redis_socket()}"


def defaults() -> dict[str, Any]:
    """Return the app's default configuration (read at app creation, not import)."""
    return {
        "SECRET_KEY": instance.secret_key(),
        "SQLALCHEMY_DATABASE_URI": database_url(),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "REDIS_URL": broker_url(),
        # A submission whose grading task killed its worker this many times is not retried.
        "GRADING_MAX_ATTEMPTS": int(os.environ.get("GRADING_MAX_ATTEMPTS", 3)),
        # The reconciler requeues submissions stuck this long (seconds) in queued / running.
        "RECONCILE_QUEUED_AFTER": float(os.environ.get("RECONCILE_QUEUED_AFTER", 60)),
        "RECONCILE_RUNNING_AFTER": float(os.environ.get("RECONCILE_RUNNING_AFTER",
                                                        TASK_TIME_LIMIT + 30)),
        "RECONCILE_EVERY": float(os.environ.get("RECONCILE_EVERY", 30)),
        "MAX_CONTENT_LENGTH": 1024 * 1024,
        # A course created by a join code starts with one assignment per exercise of these
        # packs (comma-separated; instructors add any other with `backprop assignment add`).
        "DEFAULT_PACKS": tuple(p.strip() for p in os.environ.get(
            "BACKPROP_DEFAULT_PACKS", "makemore4").split(",") if p.strip()),
        # Students may create their own account with a course's join code.
        "SELF_REGISTRATION": os.environ.get("SELF_REGISTRATION", "1") not in ("0", "false"),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        # Set SESSION_COOKIE_SECURE=1 behind HTTPS (the embedded default serves plain HTTP).
        "SESSION_COOKIE_SECURE": os.environ.get("SESSION_COOKIE_SECURE", "0") == "1",
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "WTF_CSRF_TIME_LIMIT": None,
        "RATELIMIT_STORAGE_URI": limiter_storage(),
        "RATELIMIT_HEADERS_ENABLED": True,
        "RATELIMIT_SWALLOW_ERRORS": True,  # a Redis hiccup must not lock everyone out
    }


def limiter_storage() -> str:
    """Return the Flask-Limiter storage: the broker's Redis, shared by all web processes."""
    url = broker_url()
    if url.startswith("redis+socket://"):
        return "redis+unix://" + url[len("redis+socket://"):]
    return url if url.startswith(("redis://", "rediss://")) else "memory://"

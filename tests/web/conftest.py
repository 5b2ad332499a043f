"""Fixtures of the web tests: an app on a freshly migrated SQLite database, CSRF on.

The schema is migrated once per session with ``flask_migrate.upgrade()`` into a template file
that each test copies, so every test starts from the real migrated schema in milliseconds.
Grading tasks go to the machine's Redis (db 12); nothing consumes them, and the db is flushed
after the session. Rate limits are counted in memory, fresh for each app.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import flask_migrate
import pytest
from flask import Flask

from tests.web.helpers import login, user
from web import create_app
from web.db import db

REDIS_SERVER = "redis://127.0.0.1:6379"
REDIS_DB = 12
REDIS_URL = f"{REDIS_SERVER}/{REDIS_DB}"


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """Use the machine's Redis db 12 for the queued tasks; flush it afterwards.

    The db is marked taken with the worker tests' reservation key (db 0, with an expiry), so
    a concurrent worker test run does not pick it; without Redis, queueing fails and is only
    logged by the app (the reconciler's job), which these tests do not depend on.
    """
    try:
        import redis

        admin = redis.Redis.from_url(f"{REDIS_SERVER}/0", socket_connect_timeout=1)
        key, mark = f"backprop-grader-tests:db:{REDIS_DB}", f"web:{os.getpid()}"
        ours = bool(admin.set(key, mark, nx=True, ex=900))
    except Exception:  # no Redis here: the app logs the failed sends
        yield REDIS_URL
        return
    try:
        yield REDIS_URL
    finally:
        try:
            if ours:
                redis.Redis.from_url(REDIS_URL).flushdb()
                if admin.get(key) == mark.encode():
                    admin.delete(key)
        except Exception:
            pass


@pytest.fixture(autouse=True)
def _cheap_password_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hash the test users' passwords with few PBKDF2 rounds instead of scrypt (~0.2 s each).

    Only ``create_user``'s hashing changes; sign-in still runs the app's own
    ``check_password_hash`` (which reads the method from the stored hash), and the
    password-change form still uses the production default.
    """
    import functools

    from werkzeug.security import generate_password_hash

    monkeypatch.setattr("web.services.accounts.generate_password_hash",
                        functools.partial(generate_password_hash, method="pbkdf2:sha256:1000"))


def make_config(db_path: Path, redis_url: str, **extra: Any) -> dict[str, Any]:
    """Return a test configuration: CSRF, rate limits and cookies as in production."""
    return {
        "TESTING": True,
        "SECRET_KEY": secrets.token_urlsafe(32),
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{db_path}",
        "REDIS_URL": redis_url,
        "RATELIMIT_STORAGE_URI": "memory://",
        "WTF_CSRF_ENABLED": True,
        "SELF_REGISTRATION": True,
        **extra,
    }


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Path:
    """Return a SQLite file migrated to head with ``flask_migrate.upgrade()``."""
    base = tmp_path_factory.mktemp("web-template")
    path = base / "template.db"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BACKPROP_HOME", str(base / "home"))
        app = create_app(make_config(path, redis_url))
        with app.app_context():
            flask_migrate.upgrade()
            db.session.remove()
            db.engine.dispose()
    # WAL mode: fold the log into the file so a plain copy is complete.
    import sqlite3

    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("PRAGMA journal_mode=DELETE")
    conn.close()
    return path


@pytest.fixture
def make_app(tmp_path: Path, template_db: Path, redis_url: str,
             monkeypatch: pytest.MonkeyPatch) -> Iterator:
    """Return a factory of apps, each on its own copy of the migrated database."""
    apps: list[Flask] = []
    monkeypatch.setenv("BACKPROP_HOME", str(tmp_path / "home"))

    def factory(**extra: Any) -> Flask:
        path = tmp_path / f"app{len(apps)}.db"
        shutil.copyfile(template_db, path)
        app = create_app(make_config(path, redis_url, **extra))
        apps.append(app)
        return app

    yield factory
    for app in apps:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def app(make_app) -> Flask:
    """Return the app under test (CSRF enabled, memory rate limits, Redis db 12)."""
    return make_app()


@pytest.fixture
def client(app: Flask):
    return app.test_client()


@pytest.fixture
def world(app: Flask) -> dict[str, Any]:
    """Two students in COURSE-A, one in COURSE-B, an instructor of each course."""
    ids = {
        "alice": user(app, "alice@example.org", "student", "COURSE-A"),
        "bob": user(app, "bob@example.org", "student", "COURSE-A"),
        "carol": user(app, "carol@example.org", "student", "COURSE-B"),
        "teach_a": user(app, "teach-a@example.org", "instructor", "COURSE-A"),
        "teach_b": user(app, "teach-b@example.org", "instructor", "COURSE-B"),
    }
    return ids


@pytest.fixture
def student_client(app: Flask):
    """Return a client signed in as a student of COURSE-A (alice), and her id."""
    uid = user(app, "alice@example.org", "student", "COURSE-A")
    c = app.test_client()
    login(c, "alice@example.org")
    return c, uid

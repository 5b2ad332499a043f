"""A throwaway PostgreSQL database on the machine's server, for tests that need the real thing."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator

import psycopg

ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


@contextlib.contextmanager
def temporary_database() -> Iterator[str]:
    """Create a fresh database and yield its URL; drop it afterwards."""
    name = f"bp_test_{secrets.token_hex(4)}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

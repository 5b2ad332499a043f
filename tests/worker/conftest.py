"""Fixtures for the reliability tests: a fresh database and broker per module, real workers.

Each module gets its own PostgreSQL database (``bp_test_<random>``, migrated with
``backprop db upgrade``, dropped WITH (FORCE) at the end), its own Redis db number on the
system Redis (flushed before and after) and its own ``BACKPROP_HOME``. A module sets
``SETTINGS`` (environment variables such as ``RECONCILE_EVERY``) for the app and its workers.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.worker.harness import (
    TIMINGS,
    Stack,
    clean_env,
    migrate,
    postgres_database,
    private_redis_db,
)


@pytest.fixture(scope="module")
def pg_stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) \
        -> Iterator[Stack]:
    """Return the production-shaped stack: PostgreSQL + system Redis (private db) + workers."""
    settings = dict(getattr(request.module, "SETTINGS", {}))
    home = tmp_path_factory.mktemp("home")
    with postgres_database() as db_url, private_redis_db() as redis_url:
        env = clean_env(DATABASE_URL=db_url, REDIS_URL=redis_url, BACKPROP_HOME=str(home),
                        **settings)
        migrate(env)
        stack = Stack(home, env)
        try:
            yield stack
        finally:
            stack.close()


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # noqa: ARG001
    if TIMINGS:
        terminalreporter.section("worker reliability timings")
        for name, text in TIMINGS.items():
            terminalreporter.write_line(f"{name}: {text}")

"""Every migration runs up and down on SQLite and PostgreSQL, and the models match them."""

from __future__ import annotations

import flask_migrate
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from tests.pg import temporary_database
from web import create_app
from web.db import db


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'm.db'}"
    else:
        with temporary_database() as url:
            yield url.replace("postgresql://", "postgresql+psycopg://")


def test_up_down_up_and_no_drift(database_url: str) -> None:
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url})
    with app.app_context():
        flask_migrate.upgrade()
        tables = set(inspect(db.engine).get_table_names())
        assert {"users", "courses", "enrolments", "assignments", "submissions",
                "tensor_results", "api_tokens", "alembic_version"} <= tables
        with db.engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True,
                                                         "render_as_batch": True})
            drift = compare_metadata(ctx, db.metadata)
        assert drift == [], f"models and migrations differ: {drift}"
        flask_migrate.downgrade(revision="base")
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
        flask_migrate.upgrade()
        assert "submissions" in inspect(db.engine).get_table_names()
        db.engine.dispose()

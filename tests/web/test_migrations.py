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


def test_gradings_migration_moves_rows_both_ways(database_url: str) -> None:
    """0004 moves every submission's run and tensors to a grading and back, losing nothing."""
    from sqlalchemy import text

    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url})
    with app.app_context():
        flask_migrate.upgrade(revision="0003")
        with db.engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO users (id, email, name, role, created_at) "
                "VALUES (1, 'a@x.org', 'A', 'student', '2026-01-01')"))
            for sid, score in ((1, 3.0), (2, 26.0)):
                conn.execute(text(
                    "INSERT INTO submissions (id, user_id, exercise_id, code, code_sha256, "
                    "status, created_at, updated_at, finished_at, attempts, requeues, worker, "
                    "exercise_version, result_status, score, carry_forward_score, max_score, "
                    "runtime_ms, message, stdout, result) VALUES (:id, 1, 'makemore4/ex1', "
                    "'code', 'h', 'done', '2026-01-01', '2026-01-02', '2026-01-02', 2, 1, "
                    "'w1', 2, 'graded', :score, :score, 26, 12.5, 'msg', 'out', "
                    "'{\"score\": 1}')"), {"id": sid, "score": score})
                conn.execute(text(
                    "INSERT INTO tensor_results (submission_id, position, name, status, points, "
                    "max_points, message, root_cause) VALUES (:id, 0, 'dlogits', 'exact', 1, "
                    "1, '', false)"), {"id": sid})
        flask_migrate.upgrade()
        with db.engine.connect() as conn:
            gradings = conn.execute(text(
                "SELECT id, submission_id, reason, attempts, requeues, worker, score, message, "
                "stdout, runtime_ms FROM gradings ORDER BY id")).all()
            assert [tuple(g) for g in gradings] == [
                (1, 1, "submitted", 2, 1, "w1", 3.0, "msg", "out", 12.5),
                (2, 2, "submitted", 2, 1, "w1", 26.0, "msg", "out", 12.5)]
            assert conn.execute(text("SELECT id, current_grading_id, score, status FROM "
                                     "submissions ORDER BY id")).all() == [
                (1, 1, 3.0, "done"), (2, 2, 26.0, "done")]
            assert conn.execute(text("SELECT grading_id, name FROM tensor_results "
                                     "ORDER BY grading_id")).all() == [(1, "dlogits"),
                                                                        (2, "dlogits")]
        # a second grading of submission 1 (a regrade made current) gets a fresh id
        with db.engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO gradings (submission_id, reason, status, created_at, updated_at, "
                "attempts, requeues, score, message) VALUES (1, 'regrade', 'done', "
                "'2026-02-01', '2026-02-01', 1, 0, 20.0, 'regraded')"))
            new_id = conn.execute(text("SELECT max(id) FROM gradings")).scalar_one()
            assert new_id == 3
            conn.execute(text("INSERT INTO tensor_results (grading_id, position, name, status, "
                              "points, max_points, message, root_cause) VALUES (3, 0, "
                              "'dlogits', 'wrong', 0, 1, '', true)"))
            conn.execute(text("UPDATE submissions SET current_grading_id = 3, score = 20.0 "
                              "WHERE id = 1"))
        flask_migrate.downgrade(revision="0003")
        with db.engine.connect() as conn:
            assert conn.execute(text(
                "SELECT id, score, message, attempts, worker FROM submissions ORDER BY id")
            ).all() == [(1, 20.0, "regraded", 1, None), (2, 26.0, "msg", 2, "w1")]
            assert conn.execute(text("SELECT submission_id, status FROM tensor_results "
                                     "ORDER BY submission_id")).all() == [(1, "wrong"),
                                                                           (2, "exact")]
            assert "gradings" not in inspect(conn).get_table_names()
        flask_migrate.upgrade()
        db.engine.dispose()

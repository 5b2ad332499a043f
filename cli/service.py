"""Service commands: ``serve``, ``worker``, ``db``, ``user add``, ``user reset-password``,
``token``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import click

from grader import instance

#: Name of the instance lock held around migrations (see grader.instance.locked).
MIGRATION_LOCK = "migrate"


def _app():
    """Create the app; an embedded SQLite database is brought to the newest schema first.

    Every command does this, so two commands started together on a fresh instance (``serve``
    still starting while ``user add`` runs) would both run the first migration and one would
    fail half-way: the upgrade is serialized by an instance lock, and the second process
    finds the schema at head and does nothing. Production databases (PostgreSQL) are migrated
    by an explicit `backprop db upgrade` step.
    """
    from web import create_app

    app = create_app()
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        import logging

        import flask_migrate

        logging.getLogger("alembic").setLevel(logging.WARNING)
        with instance.locked(MIGRATION_LOCK), app.app_context():
            flask_migrate.upgrade()
    return app


@click.group("db")
def db_cmd() -> None:
    """Database migrations (Alembic through Flask-Migrate)."""


@db_cmd.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Bring the database to REVISION (default: the newest)."""
    import flask_migrate

    app = _app()
    with instance.locked(MIGRATION_LOCK), app.app_context():
        flask_migrate.upgrade(revision=revision)
    click.echo(f"database at {revision}")


@db_cmd.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Take the database back to REVISION (``base`` drops everything)."""
    import flask_migrate

    app = _app()
    with instance.locked(MIGRATION_LOCK), app.app_context():
        flask_migrate.downgrade(revision=revision)


@db_cmd.command("current")
def db_current() -> None:
    """Print the database's current revision."""
    import flask_migrate

    with _app().app_context():
        flask_migrate.current()


@click.group("user")
def user_cmd() -> None:
    """Manage users."""


@user_cmd.command("add")
@click.argument("email")
@click.option("--role", type=click.Choice(["student", "instructor", "admin"]),
              default="student", show_default=True)
@click.option("--password", help="Omit to be asked (hidden input); empty for token-only.")
@click.option("--course", "course_code", metavar="CODE",
              help="Enrol the user in course CODE, creating the course if needed.")
def user_add(email: str, role: str, password: str | None, course_code: str | None) -> None:
    """Create a user."""
    from grader.text import visible
    from web.services.accounts import AccountError, create_user

    if password is None and sys.stdin.isatty():
        password = click.prompt("password", hide_input=True, confirmation_prompt=True,
                                default="", show_default=False)
    with _app().app_context():
        try:
            user = create_user(email, role, password or None, course_code)
        except AccountError as exc:
            raise click.UsageError(str(exc)) from None
        click.echo(visible(f"created {user.role} {user.email} (id {user.id})"
                           + (f", enrolled in {course_code}" if course_code else "")))


class _BadInput(click.ClickException):
    """Bad input told in one line (``Error: …``, no usage block), exit 2 like a usage error."""

    exit_code = 2


@user_cmd.command("reset-password")
@click.argument("email")
@click.option("--server", envvar="BACKPROP_SERVER", default="http://127.0.0.1:8000",
              show_default=True, metavar="URL",
              help="The address students reach the service at (or set BACKPROP_SERVER).")
def user_reset_password(email: str, server: str) -> None:
    """Print a one-time password-reset link for EMAIL (works once, for 24 hours).

    There is no mail server: hand the link over yourself. Any earlier link for the user
    stops working; only the link's hash is stored.
    """
    from grader.text import visible
    from web.services.accounts import AccountError, reset_for_email

    with _app().app_context():
        try:
            user, token, expires = reset_for_email(email)
        except AccountError as exc:
            raise _BadInput(str(exc)) from None
        click.echo(f"{server.rstrip('/')}/reset/{token}")
        click.echo(visible(f"for {user.email}; works once, until {expires:%Y-%m-%d %H:%M} UTC"),
                   err=True)


@click.command("token")
@click.argument("email")
def token_cmd(email: str) -> None:
    """Print a new API token for EMAIL (shown once; only its hash is stored)."""
    from web.services.accounts import AccountError, issue_token

    with _app().app_context():
        try:
            click.echo(issue_token(email))
        except AccountError as exc:
            raise click.UsageError(str(exc)) from None


def _celery_argv(concurrency: int, beat: bool) -> list[str]:
    from web.models import WORKER_QUEUES

    argv = [sys.executable, "-m", "celery", "-A", "worker.celery_app", "worker",
            "--pool", "prefork", "--concurrency", str(concurrency),
            "--queues", ",".join(WORKER_QUEUES), "--hostname", "backprop@%h", "--loglevel", "INFO"]
    if beat:
        argv += ["--beat", "--schedule", str(instance.home() / "celerybeat-schedule")]
    return argv


@click.command("worker")
@click.option("-c", "--concurrency", type=int, default=os.cpu_count() or 2, show_default=True,
              help="Grading processes (one sandbox zygote each).")
@click.option("--beat/--no-beat", default=False,
              help="Also run the reconciler's schedule (exactly one worker should).")
def worker_cmd(concurrency: int, beat: bool) -> None:
    """Run a Celery grading worker (broker: REDIS_URL)."""
    if not os.environ.get("REDIS_URL"):
        raise click.UsageError("set REDIS_URL (e.g. redis://localhost:6379/0); "
                               "`backprop serve` runs an embedded broker instead")
    os.execv(sys.executable, _celery_argv(concurrency, beat))


@click.command("beat")
def beat_cmd() -> None:
    """Run the Celery beat scheduler that triggers the reconciler (run exactly one)."""
    if not os.environ.get("REDIS_URL"):
        raise click.UsageError("set REDIS_URL; `backprop serve` runs its own scheduler")
    os.execv(sys.executable, [sys.executable, "-m", "celery", "-A", "worker.celery_app", "beat",
                              "--schedule", str(instance.home() / "celerybeat-schedule"),
                              "--loglevel", "INFO"])


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, type=int, show_default=True)
@click.option("-c", "--concurrency", type=int, default=os.cpu_count() or 2, show_default=True,
              help="Grading processes.")
def serve_cmd(host: str, port: int, concurrency: int) -> None:
    """Run the whole service on embedded defaults: SQLite, a private Redis, a worker, the web.

    Nothing is installed system-wide: the database, the Redis socket and its append-only file
    live in BACKPROP_HOME. Ctrl-C stops everything.
    """
    from cli.redis_server import EmbeddedRedis

    home = instance.home()
    env = dict(os.environ)
    procs: list[tuple[str, subprocess.Popen[bytes]]] = []
    broker = None
    if not env.get("REDIS_URL"):
        broker = EmbeddedRedis(home)
        broker.start()
        env["REDIS_URL"] = broker.url
        os.environ["REDIS_URL"] = broker.url
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        click.echo(f"backprop-grader: instance {home}")
        db_upgrade.callback("head")  # type: ignore[misc]
        procs.append(("worker", subprocess.Popen(_celery_argv(concurrency, beat=True), env=env)))
        procs.append(("web", subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--bind", f"{host}:{port}", "--workers", "2",
             "--control-socket", str(home / "gunicorn.ctl"),
             "--access-logfile", "-", "web:create_app()"], env=env)))
        click.echo(f"backprop-grader: serving on http://{host}:{port}  (Ctrl-C to stop)")
        while not stopping:
            for name, proc in procs:
                if proc.poll() is not None:
                    raise click.ClickException(f"the {name} process exited ({proc.returncode})")
            time.sleep(0.5)
    finally:
        for _, proc in reversed(procs):
            if proc.poll() is None:
                proc.terminate()
        for _, proc in reversed(procs):
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
        if broker is not None:
            broker.stop()
        click.echo("backprop-grader: stopped")


def register(group: click.Group) -> None:
    """Add the service commands to the ``backprop`` group."""
    for command in (db_cmd, user_cmd, token_cmd, worker_cmd, beat_cmd, serve_cmd):
        group.add_command(command)

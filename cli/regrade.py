"""``backprop regrade CODE EXERCISE [--student EMAIL] [--apply | --discard]`` (SPEC §7).

Starts a regrade (or takes up the assignment's pending one), waits with a progress bar while
the workers grade on the bulk queue, prints what changed, and leaves it pending unless
``--apply`` (or ``--discard``) is given — the same service as the staff page's confirm.
"""

from __future__ import annotations

import time

import click

from grader.text import visible


def _fail(message: str) -> None:
    raise click.UsageError(visible(message))


@click.command("regrade")
@click.argument("course_code", metavar="CODE")
@click.argument("exercise_id", metavar="EXERCISE")
@click.option("--student", "email", metavar="EMAIL", help="Only this student's submissions.")
@click.option("--apply", "decision", flag_value="apply",
              help="Make the new gradings current once they are done.")
@click.option("--discard", "decision", flag_value="discard",
              help="Drop the pending regrade; the current gradings stay.")
@click.option("--wait", type=click.IntRange(0, 86400), default=900, show_default=True,
              help="Seconds to wait for the workers (0: start it and return).")
def regrade_cmd(course_code: str, exercise_id: str, email: str | None, decision: str | None,
                wait: int) -> None:
    """Regrade COURSE's assignment of EXERCISE with the current exercise version."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn
    from sqlalchemy import select

    from cli.service import _app
    from web.db import db
    from web.models import PENDING, Regrades
    from web.services import courses, regrades

    with _app().app_context():
        try:
            found = courses.find_assignments(courses.find_course(course_code), exercise_id)
            if len(found) > 1:
                _fail(f"{course_code} has {len(found)} assignments of {exercise_id}: give the "
                      f"assignment's id instead ({', '.join(str(a.id) for a in found)})")
            assignment = found[0]
            pending = db.session.scalar(select(Regrades).where(
                Regrades.assignment_id == assignment.id, Regrades.state == PENDING))
            if pending is not None:
                click.echo(visible(f"regrade #{pending.id} ({pending.scope}) is pending"),
                           err=True)
                regrade = pending
            elif decision == "discard":
                _fail("no pending regrade to discard")
            else:
                student = courses.find_user(email) if email else None
                regrade = regrades.start(assignment, created_by=None, student=student)
                click.echo(f"regrade #{regrade.id}: {len(regrade.gradings)} submissions "
                           "queued on the bulk queue", err=True)
            if decision == "discard":
                regrades.discard(regrade)
                click.echo(f"regrade #{regrade.id} discarded; the current grades stay")
                return
            done, total = regrades.progress(regrade)
            if done < total and wait:
                with Progress("[progress.description]{task.description}", BarColumn(),
                              MofNCompleteColumn(), TimeRemainingColumn(),
                              console=Console(stderr=True)) as bar:
                    task = bar.add_task(f"regrade #{regrade.id}", total=total, completed=done)
                    deadline = time.monotonic() + wait
                    while done < total and time.monotonic() < deadline:
                        time.sleep(0.5)
                        done, total = regrades.progress(regrade)
                        bar.update(task, completed=done)
                db.session.expire_all()
            report = regrades.report(regrade)
            _print(report)
            if not report.finished:
                click.echo(f"{report.total - report.done} gradings still running (is a "
                           "`backprop worker` up?); run the command again to see them",
                           err=True)
                if decision == "apply":
                    raise SystemExit(1)
                return
            if decision == "apply":
                n = regrades.apply(regrade)
                click.echo(f"applied: {n} new gradings are current")
            else:
                click.echo("pending: nothing changed for students yet; `--apply` makes these "
                           "current, `--discard` drops them", err=True)
        except (courses.AdminError, regrades.RegradeError) as exc:
            _fail(str(exc))


def _print(report) -> None:
    """Print the counts and one line per changed submission."""
    click.echo(f"{report.done}/{report.total} regraded: {len(report.up)} up, "
               f"{len(report.down)} down, {report.unchanged} unchanged "
               f"({report.students_changed} students changed)")
    for c in report.up + report.down:
        click.echo(visible(f"  {c.email}  #{c.submission_id}  {_num(c.old)} → {_num(c.new)}"
                           f"  ({c.delta:+g})"))


def _num(value: float | None) -> str:
    return "—" if value is None else f"{value:g}"

"""``backprop roster``: a course's roster from the command line (the same service as the
staff pages: web.services.roster)."""

from __future__ import annotations

import sys
from typing import BinaryIO

import click

from cli.service import _app

#: Exit status when the file has errors (nothing applied), as for usage errors.
ERRORS_EXIT = 2


@click.group("roster")
def roster_cmd() -> None:
    """Manage a course's roster."""


def _echo(text: str, err: bool = False) -> None:
    """Print text from a roster file: control characters shown, never acted on."""
    from grader.text import visible

    click.echo(visible(text), err=err)


@roster_cmd.command("import")
@click.argument("course_code", metavar="CODE")
@click.argument("file", metavar="FILE.csv", type=click.File("rb"))
@click.option("--dry-run", is_flag=True, help="Print what would change; change nothing.")
def roster_import(course_code: str, file: BinaryIO, dry_run: bool) -> None:
    """Import a roster CSV into course CODE: new people get invited accounts (claimed by
    registering with their address), members are updated, nobody is removed.

    The file is UTF-8, comma- or semicolon-separated, with a header naming the columns
    email (required), name, student_id, section in any order. Nothing is applied when any
    row has an error: every error is printed with its line and the exit status is 2.
    """
    from sqlalchemy import select

    from web.db import db
    from web.models import Courses
    from web.services import roster

    data = file.read(roster.MAX_BYTES + 1)
    with _app().app_context():
        course = db.session.scalar(select(Courses).where(Courses.code == course_code))
        if course is None:
            raise click.UsageError(f"no course {course_code!r}")
        parsed = roster.parse(data)
        planned = roster.plan(course, parsed)
        counts = planned.counts
        _echo(f"{course.code}: {parsed.size:,} bytes, sha256 {parsed.sha256}")
        _echo(f"{counts[roster.NEW_USER]} new (invited), {counts[roster.ENROL]} enrolled, "
              f"{counts[roster.UPDATE]} updated, {counts[roster.UNCHANGED]} unchanged, "
              f"{counts['absent']} not in the file (kept), {counts['errors']} "
              f"{'error' if counts['errors'] == 1 else 'errors'}")
        if dry_run:
            _print_changes(planned)
        if planned.errors:
            for issue in planned.errors:
                _echo(f"error: {issue}", err=True)
            _echo(f"nothing was changed: {len(planned.errors)} "
                  f"{'error' if len(planned.errors) == 1 else 'errors'}", err=True)
            sys.exit(ERRORS_EXIT)
        if dry_run:
            _echo("dry run: nothing was changed")
            return
        try:
            applied = roster.apply(course, planned)
        except roster.RosterError as exc:
            _echo(f"error: {exc}", err=True)
            sys.exit(ERRORS_EXIT)
        _echo(f"imported: {roster.summary(applied)}")


def _print_changes(planned) -> None:
    from web.services import roster

    for c in planned.changes:
        if c.kind == roster.UNCHANGED:
            continue
        details = "; ".join(f"{roster.LABELS[f]} {old!r} → {new!r}" if old
                            else f"{roster.LABELS[f]} {new!r}" for f, old, new in c.fields)
        _echo(f"line {c.line}: {c.kind.replace('_', ' ')} {c.email}"
              + (f" ({details})" if details else ""))
    for a in planned.absent:
        _echo(f"not in the file (kept): {a.email}")

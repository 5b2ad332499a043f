"""Course administration on the command line (SPEC §7): ``course add``, ``assignment add|set``,
``extension``, ``gradebook``. The same service functions as the staff pages (web.services),
so both accept and refuse the same input; every refusal is one clear line and exit code 2.
Nothing here imports torch (the exercise registry is read without grading).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from grader.text import visible

DATE_HELP = "ISO time, e.g. 2026-12-24T23:59 (UTC unless it carries a zone, e.g. +01:00)"


def _fail(message: str) -> None:
    raise click.UsageError(visible(message))


def _when(value: str | None, what: str):
    from web import times

    if value is None:
        return None
    try:
        return times.parse(value)
    except times.TimeError as exc:
        _fail(f"--{what}: {exc}")


@click.group("course")
def course_cmd() -> None:
    """Manage courses."""


@course_cmd.command("add")
@click.argument("code")
@click.option("--title", default="", help="The course's title (default: its code).")
@click.option("--instructor", "instructor_email", metavar="EMAIL",
              help="An existing user who teaches the course.")
def course_add(code: str, title: str, instructor_email: str | None) -> None:
    """Create course CODE (with a random join code for students)."""
    from cli.service import _app
    from web.services import courses as svc

    with _app().app_context():
        try:
            instructor = svc.find_user(instructor_email) if instructor_email else None
            course = svc.create_course(code, title, instructor)
        except svc.AdminError as exc:
            _fail(str(exc))
        click.echo(visible(f"created course {course.code} ({course.title}); join code "
                           f"{course.join_code}"
                           + (f"; instructor {instructor.email}" if instructor else "")))


_RULE_OPTIONS = [
    click.option("--title"),
    click.option("--opens", help=f"When submissions open: {DATE_HELP}."),
    click.option("--deadline", help=f"The deadline: {DATE_HELP}."),
    click.option("--late-policy", type=click.Choice(["refuse", "accept", "penalty"])),
    click.option("--penalty-per-day", type=float,
                 help="penalty policy: fraction lost per started day late (0.1 = 10 %)."),
    click.option("--cutoff-days", type=int,
                 help="penalty policy: days after the deadline when late work is refused."),
    click.option("--max-submissions", type=int),
    click.option("--min-interval", type=int, help="Seconds between two submissions."),
    click.option("--scoring", type=click.Choice(["strict", "carry_forward"])),
    click.option("--shape-rule", type=click.Choice(["strict", "values"])),
    click.option("--counted", type=click.Choice(["best", "last"])),
]


def _rule_options(f):
    for option in reversed(_RULE_OPTIONS):
        f = option(f)
    return f


def _spec(opts: dict):
    from web.services.courses import AssignmentSpec

    return AssignmentSpec(
        title=opts["title"], opens_at=_when(opts["opens"], "opens"),
        deadline=_when(opts["deadline"], "deadline"), late_policy=opts["late_policy"],
        late_penalty=opts["penalty_per_day"], cutoff_days=opts["cutoff_days"],
        max_submissions=opts["max_submissions"], min_interval_seconds=opts["min_interval"],
        scoring=opts["scoring"], shape_rule=opts["shape_rule"], counted=opts["counted"])


def _describe(a) -> str:
    deadline = f"{a.deadline:%Y-%m-%d %H:%M} UTC" if a.deadline else "no deadline"
    late = {"refuse": "late refused", "accept": "late accepted"}.get(
        a.late_policy, f"−{a.late_penalty:.0%}/day late"
        + (f", refused after {a.cutoff_days} days" if a.cutoff_days is not None else ""))
    return (f"{a.course.code} #{a.id} {a.exercise_id} \"{a.label}\": {deadline}, {late}, "
            f"{a.scoring} scoring, {a.shape_rule} shapes, {a.counted} counts, "
            f"{a.max_submissions or 'unlimited'} submissions, {a.min_interval_seconds} s apart")


@click.group("assignment")
def assignment_cmd() -> None:
    """Manage a course's assignments."""


@assignment_cmd.command("add")
@click.argument("course_code", metavar="CODE")
@click.argument("exercise_id", metavar="EXERCISE")
@_rule_options
def assignment_add(course_code: str, exercise_id: str, **opts) -> None:
    """Add an assignment of EXERCISE to course CODE."""
    from cli.service import _app
    from web.services import courses as svc

    with _app().app_context():
        spec = _spec(opts)
        try:
            a = svc.add_assignment(svc.find_course(course_code), exercise_id, spec)
        except svc.AdminError as exc:
            _fail(str(exc))
        click.echo(visible("added " + _describe(a)))


@assignment_cmd.command("set")
@click.argument("course_code", metavar="CODE")
@click.argument("exercise_id", metavar="EXERCISE")
@_rule_options
@click.option("--clear", multiple=True, type=click.Choice(
    ["opens", "deadline", "max-submissions", "cutoff-days"]),
    help="Remove a setting (e.g. --clear deadline). Repeatable.")
def assignment_set(course_code: str, exercise_id: str, clear: tuple[str, ...], **opts) -> None:
    """Change COURSE's assignment of EXERCISE (an exercise id, or the assignment's #id)."""
    from cli.service import _app
    from web.services import courses as svc

    names = {"opens": "opens_at", "deadline": "deadline", "max-submissions": "max_submissions",
             "cutoff-days": "cutoff_days"}
    with _app().app_context():
        spec = _spec(opts)
        if not any(v is not None for v in vars(spec).values()) and not clear:
            _fail("nothing to change: give at least one --OPTION (see --help)")
        try:
            found = svc.find_assignments(svc.find_course(course_code), exercise_id)
            for a in found:
                svc.update_assignment(a, spec, tuple(names[c] for c in clear))
        except svc.AdminError as exc:
            _fail(str(exc))
        for a in found:
            click.echo(visible("set " + _describe(a)))


@assignment_cmd.command("scoring")
@click.argument("course_code", metavar="COURSE")
@click.argument("exercise_id", metavar="EXERCISE")
@click.argument("scoring", type=click.Choice(["strict", "carry_forward"]))
def assignment_scoring(course_code: str, exercise_id: str, scoring: str) -> None:
    """Set how COURSE's assignment of EXERCISE counts (same as ``set --scoring``)."""
    from cli.service import _app
    from web.services import courses as svc

    with _app().app_context():
        try:
            found = svc.find_assignments(svc.find_course(course_code), exercise_id)
            for a in found:
                svc.update_assignment(a, svc.AssignmentSpec(scoring=scoring))
        except svc.AdminError as exc:
            _fail(str(exc))
        click.echo(visible(f"{course_code} {exercise_id}: {scoring} scoring"
                           + (f" ({len(found)} assignments)" if len(found) > 1 else "")))


@click.command("extension")
@click.argument("course_code", metavar="CODE")
@click.argument("exercise_id", metavar="EXERCISE")
@click.argument("email")
@click.option("--deadline", help=f"The personal deadline: {DATE_HELP}.")
@click.option("--remove", is_flag=True, help="Withdraw the extension instead.")
def extension_cmd(course_code: str, exercise_id: str, email: str, deadline: str | None,
                  remove: bool) -> None:
    """Give EMAIL a personal deadline for COURSE's assignment of EXERCISE."""
    from cli.service import _app
    from web.services import courses as svc

    if not remove and not deadline:
        _fail("give --deadline ISO (or --remove)")
    when = _when(deadline, "deadline")
    with _app().app_context():
        try:
            user = svc.find_user(email)
            found = svc.find_assignments(svc.find_course(course_code), exercise_id)
            for a in found:
                if remove:
                    svc.remove_extension(a, user.id)
                else:
                    svc.set_extension(a, user, when)
        except svc.AdminError as exc:
            _fail(str(exc))
        click.echo(visible(f"{user.email}: extension for {exercise_id} in {course_code} "
                           + ("withdrawn" if remove else f"until {when:%Y-%m-%d %H:%M} UTC")))


@click.command("gradebook")
@click.argument("course_code", metavar="CODE")
@click.option("--format", "fmt", type=click.Choice(["canvas", "moodle", "tensors"]),
              default="canvas", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write to this file (default: standard output).")
def gradebook_cmd(course_code: str, fmt: str, output: Path | None) -> None:
    """Print COURSE's gradebook: counted scores (deadline, extensions, late policy applied)."""
    from cli.service import _app
    from web.services import courses as svc
    from web.services import gradebook

    with _app().app_context():
        try:
            text = gradebook.export(svc.find_course(course_code), fmt)
        except svc.AdminError as exc:
            _fail(str(exc))
    if output is None:
        sys.stdout.write(text)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        _fail(f"cannot write {output}: {exc.strerror}")
    click.echo(visible(f"wrote {output} ({text.count(chr(10)) - 1} rows)"), err=True)


def register(group: click.Group) -> None:
    """Add the course-administration commands to the ``backprop`` group."""
    from cli.regrade import regrade_cmd
    from cli.roster import roster_cmd

    for command in (course_cmd, assignment_cmd, extension_cmd, gradebook_cmd, roster_cmd,
                    regrade_cmd):
        group.add_command(command)

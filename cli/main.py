"""The ``backprop`` console script (spec §5)."""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path

import click
from rich.console import Console

USAGE_ERROR = 2


def _exercise(exercise_id: str):
    from grader.registry import UnknownExercise, get_exercise

    try:
        return get_exercise(exercise_id)
    except UnknownExercise as exc:
        raise click.UsageError(str(exc)) from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="backprop-grader")
def main() -> None:
    """backprop-grader: grade hand-written backward passes against PyTorch autograd."""


@main.command("exercises")
@click.option("--long", "long_", is_flag=True, help="Also print each description.")
def exercises_cmd(long_: bool) -> None:
    """List exercise ids and titles."""
    from grader.registry import get_exercise, load_exercises

    for exercise_id in sorted(load_exercises()):
        ex = get_exercise(exercise_id)
        click.echo(f"{ex.id:16} {ex.title}  ({ex.max_score:g} points)")
        if long_:
            click.echo("\n" + ex.description.strip() + "\n")


@main.command("starter")
@click.argument("exercise_id", metavar="ID")
def starter_cmd(exercise_id: str) -> None:
    """Print the starter file for an exercise (redirect it into a file to begin)."""
    click.echo(_exercise(exercise_id).starter, nl=False)


@main.command("check")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path, allow_dash=True))
@click.option("-e", "--exercise", "exercise_id", required=True, metavar="ID",
              help="Exercise id, e.g. makemore4/ex1 (see `backprop exercises`).")
@click.option("--json", "as_json", is_flag=True, help="Print only the result JSON.")
@click.option("--student", default="local", show_default=True,
              help="Seeds your public case (the server uses your account).")
def check_cmd(file: Path, exercise_id: str, as_json: bool, student: str) -> None:
    """Grade FILE locally, through the same sandbox as the server's workers.

    Exits 0 whenever the file was judged, whatever the score; 2 on usage errors.
    """
    source = _read_source(file)
    from grader.sandbox import SandboxError

    try:
        result = _check(source, exercise_id, as_json, student)
    except SandboxError as exc:  # the machine's sandbox, not the file: say so, no traceback
        raise click.ClickException(f"the grading sandbox failed: {exc}") from None
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2))
    else:
        from cli.report import render

        render(result, Console())


def _check(source: bytes, exercise_id: str, quiet: bool, student: str):
    """Grade ``source`` in a fresh local sandbox (the body of ``backprop check``)."""
    from grader.sandbox import Sandbox

    # Start the sandbox first: its torch import overlaps with ours below.
    with Sandbox() as sandbox:
        exercise = _exercise(exercise_id)
        sandbox.ensure_ready()  # so the reported runtime is grading, not the torch import
        from grader.grade import grade
        from grader.instance import secret_key

        console = Console(stderr=True)
        with console.status("grading…", spinner="dots") if console.is_terminal and \
                not quiet else contextlib.nullcontext():
            return grade(exercise, source, sandbox=sandbox, student=student,
                         secret=secret_key().encode())


def _read_source(file: Path) -> bytes:
    """Read a submission (``-`` is stdin), with a clear message instead of a traceback."""
    try:
        if str(file) == "-":
            return sys.stdin.buffer.read()
        return file.read_bytes()
    except FileNotFoundError:
        raise click.UsageError(f"no such file: {file}") from None
    except OSError as exc:
        raise click.UsageError(f"cannot read {file}: {exc.strerror}") from None


def _register_service_commands() -> None:
    from cli import batch, course, gradescope, service, submit

    service.register(main)
    course.register(main)
    gradescope.register(main)
    main.add_command(batch.batch_cmd)
    main.add_command(submit.submit_cmd)


_register_service_commands()

if __name__ == "__main__":
    main()

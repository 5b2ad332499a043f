"""The ``backprop`` console script (spec §5)."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

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


def _info(exercise_id: str):
    """Return an exercise's catalog entry (title, points, starter) without importing torch."""
    from grader.registry import UnknownExercise, exercise_info

    try:
        return exercise_info(exercise_id)
    except UnknownExercise as exc:
        raise click.UsageError(str(exc)) from None


@main.command("exercises")
@click.option("--long", "long_", is_flag=True, help="Also print each description.")
def exercises_cmd(long_: bool) -> None:
    """List exercise ids and titles."""
    from grader.registry import catalog

    infos = sorted(catalog().values(), key=lambda e: e.id)
    width = max((len(e.id) for e in infos), default=0)
    for ex in infos:
        points = f"{ex.max_score:g} point{'' if ex.max_score == 1 else 's'}"
        click.echo(f"{ex.id:{width}} {ex.title}  ({points})")
        if long_:
            click.echo("\n" + ex.description.strip() + "\n")


@main.command("starter")
@click.argument("exercise_id", metavar="ID")
@click.option("--notebook", is_flag=True,
              help="Print a Jupyter notebook (.ipynb) that checks itself in its last cell.")
def starter_cmd(exercise_id: str, notebook: bool) -> None:
    """Print the starter file for an exercise (redirect it into a file to begin)."""
    info = _info(exercise_id)
    if notebook:
        from cli.notebook import notebook_from_starter

        click.echo(notebook_from_starter(info), nl=False)
    else:
        click.echo(info.starter, nl=False)


@main.command("check")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path, allow_dash=True))
@click.option("-e", "--exercise", "exercise_id", required=True, metavar="ID",
              help="Exercise id, e.g. makemore4/ex1 (see `backprop exercises`).")
@click.option("--json", "as_json", is_flag=True, help="Print only the result JSON.")
@click.option("--student", default="local", show_default=True,
              help="Seeds your public case (the server uses your account).")
@click.option("--watch", is_flag=True,
              help="Re-grade FILE on every save and redraw the report (Ctrl-C to stop).")
@click.option("--no-daemon", is_flag=True,
              help="Grade in a fresh sandbox in this process instead of the warm local "
                   "daemon (slower: ~7 s a check).")
def check_cmd(file: Path, exercise_id: str, as_json: bool, student: str, watch: bool,
              no_daemon: bool) -> None:
    """Grade FILE locally, through the same sandbox as the server's workers.

    By default a per-user daemon keeps the sandbox warm between checks (it starts on first
    use and exits after 15 idle minutes; see `backprop daemon status`).

    Exits 0 whenever the file was judged, whatever the score; 2 on usage errors.
    """
    if watch:
        if str(file) == "-":
            raise click.UsageError("--watch needs a file to watch, not stdin")
        if as_json:
            raise click.UsageError("--watch draws reports; it does not go with --json")
        from cli.watch import watch as watch_file

        with _grader(exercise_id, student, no_daemon, quiet=True) as grade_json:
            watch_file(file, grade_json, Console())
        return
    source = _read_source(file)
    with _grader(exercise_id, student, no_daemon, quiet=as_json) as grade_json:
        result = grade_json(source)
    if as_json:
        click.echo(json.dumps(result, indent=2))
    else:
        from cli.report import render
        from grader.result import GradeResult

        render(GradeResult.from_json(result), Console())


@contextlib.contextmanager
def _grader(exercise_id: str, student: str, no_daemon: bool, quiet: bool) \
        -> Iterator[Callable[[bytes], dict[str, Any]]]:
    """Yield a function that grades a source and returns its result JSON (spec §4).

    Through the daemon unless ``no_daemon``; without it, one in-process sandbox serves every
    call (``--watch --no-daemon`` pays its start-up once). Only the cold path imports torch
    here: through the daemon, this process only renders JSON.
    """
    if not no_daemon:
        yield lambda source: _via_daemon(source, exercise_id, student, quiet)
        return
    from grader.sandbox import Sandbox

    with Sandbox() as sandbox:
        yield lambda source: _check(source, exercise_id, quiet, student, sandbox).to_json()


def _via_daemon(source: bytes, exercise_id: str, student: str, quiet: bool) -> dict[str, Any]:
    """Grade through the local daemon; fall back to a cold check if it cannot be had."""
    from cli import daemon
    from grader.text import visible

    def notice(message: str) -> None:
        click.echo(f"backprop: {visible(message)}", err=True)

    _info(exercise_id)  # an unknown id is a usage error at once, without starting a daemon
    console = Console(stderr=True)
    try:
        with console.status("grading…", spinner="dots") if console.is_terminal and \
                not quiet else contextlib.nullcontext():
            return daemon.check(source, exercise_id, student, notice=notice)
    except daemon.DaemonError as exc:
        message = visible(exc.message)
        if exc.kind == "usage":
            raise click.UsageError(message) from None
        if exc.kind == "sandbox":
            raise click.ClickException(f"the grading sandbox failed: {message}") from None
        if exc.kind == "refused":
            raise click.ClickException(message) from None
        notice(f"{message}; checking without the daemon")
    except OSError as exc:  # the instance folder itself (unwritable, full disk, …)
        notice(f"the grading daemon is unavailable ({exc}); checking without it")
    return _check(source, exercise_id, quiet, student).to_json()


def _check(source: bytes, exercise_id: str, quiet: bool, student: str, sandbox=None):
    """Grade ``source`` in process: in ``sandbox``, or in a fresh local one (``--no-daemon``).

    Sandbox failures become a one-line ``ClickException``: the machine's sandbox failed, not
    the file, and a user sees no traceback.
    """
    from grader.sandbox import Sandbox, SandboxError

    try:
        # Start the sandbox first: its torch import overlaps with ours below.
        with contextlib.nullcontext(sandbox) if sandbox is not None else Sandbox() as box:
            exercise = _exercise(exercise_id)
            box.ensure_ready()  # so the reported runtime is grading, not the torch import
            from grader.grade import grade
            from grader.instance import secret_key

            console = Console(stderr=True)
            with console.status("grading…", spinner="dots") if console.is_terminal and \
                    not quiet else contextlib.nullcontext():
                return grade(exercise, source, sandbox=box, student=student,
                             secret=secret_key().encode())
    except SandboxError as exc:
        raise click.ClickException(f"the grading sandbox failed: {exc}") from None


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
    from cli import authoring, batch, course, daemon_cmd, gradescope, service, submit

    service.register(main)
    authoring.register(main)
    daemon_cmd.register(main)
    course.register(main)
    gradescope.register(main)
    main.add_command(batch.batch_cmd)
    main.add_command(submit.submit_cmd)


_register_service_commands()

if __name__ == "__main__":
    main()

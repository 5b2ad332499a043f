"""``backprop batch``: grade a folder or zip of submissions, one ``.py`` file per student."""

from __future__ import annotations

import contextlib
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import click

from grader.result import MAX_SOURCE_BYTES
from grader.text import SafeCsvWriter


def iter_submissions(source: Path) -> Iterator[tuple[str, bytes | str]]:
    """Yield (student, code) for each ``.py`` file; code is a message string when unreadable.

    A zip is read in memory, member by member, never extracted: no path traversal, and a
    member that claims or inflates to more than the size limit is reported, not read.
    """
    if source.is_dir():
        for path in sorted(source.rglob("*.py")):
            if path.stat().st_size > MAX_SOURCE_BYTES:
                yield path.stem, f"file larger than {MAX_SOURCE_BYTES // 1024} KiB"
            else:
                yield path.stem, path.read_bytes()
        return
    try:
        archive = zipfile.ZipFile(source)
    except zipfile.BadZipFile:
        raise click.UsageError(f"{source} is neither a folder nor a zip file") from None
    with archive:
        for info in sorted(archive.infolist(), key=lambda i: i.filename):
            name = info.filename
            if info.is_dir() or not name.endswith(".py") or "__MACOSX" in name:
                continue
            student = Path(name).stem
            if info.file_size > MAX_SOURCE_BYTES:
                yield student, f"file larger than {MAX_SOURCE_BYTES // 1024} KiB"
                continue
            with archive.open(info) as f:
                data = f.read(MAX_SOURCE_BYTES + 1)
            if len(data) > MAX_SOURCE_BYTES:
                yield student, f"file larger than {MAX_SOURCE_BYTES // 1024} KiB"
            else:
                yield student, data


@click.command("batch")
@click.argument("source", metavar="DIR_OR_ZIP",
                type=click.Path(exists=True, path_type=Path))
@click.option("-e", "--exercise", "exercise_id", required=True, metavar="ID")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="CSV file to write (default: standard output).")
def batch_cmd(source: Path, exercise_id: str, output: Path | None) -> None:
    """Grade every .py file in DIR_OR_ZIP (the file stem is the student) into a CSV."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from cli.main import _exercise
    from grader.instance import secret_key
    from grader.sandbox import Sandbox

    items = list(iter_submissions(source))
    if not items:
        raise click.UsageError(f"no .py files in {source}")
    with Sandbox() as sandbox:
        exercise = _exercise(exercise_id)
        sandbox.ensure_ready()
        names = [g.name for g in exercise.graded]
        out = open(output, "w", newline="") if output else sys.stdout  # noqa: SIM115
        try:
            writer = SafeCsvWriter(out)
            writer.writerow(["student", "score", "carry_forward_score", "max_score", "status",
                             "runtime_ms", "message", "root_causes", "fingerprints",
                             *[f"d{n}" for n in names], "review_flags"])
            secret = secret_key().encode()
            with Progress("[progress.description]{task.description}", BarColumn(),
                          MofNCompleteColumn(), TimeRemainingColumn(),
                          console=_stderr_console(), transient=output is None) as progress:
                task = progress.add_task(f"grading {exercise.id}", total=len(items))
                for student, code in items:
                    if isinstance(code, str):
                        row = [student, 0, 0, exercise.max_score, "error", 0, code, "", "",
                               *[0] * len(names), ""]
                    else:
                        r = _grade_one(exercise, code, sandbox, student, secret)
                        points = {t.name: t.points for t in r.tensors}
                        roots = [t for t in r.tensors if t.root_cause]
                        row = [student, r.score, r.carry_forward_score, r.max_score, r.status,
                               r.runtime_ms,
                               r.message.splitlines()[0][:300] if r.message else "",
                               " ".join(t.name for t in roots),
                               " ".join(sorted({t.fingerprint for t in r.tensors
                                                if t.fingerprint})),
                               *[points.get(n, 0) for n in names],
                               " ".join(str(f.get("code")) for f in r.review_flags
                                        if isinstance(f, dict))]
                    writer.writerow(row)
                    progress.advance(task)
        finally:
            if output:
                out.close()
    if output:
        click.echo(f"graded {len(items)} submissions → {output}", err=True)


def _grade_one(exercise, code: bytes, sandbox, student: str, secret: bytes):
    """Grade one file; whatever goes wrong is that file's error row, never the batch's end.

    ``grade()`` already turns everything a submission can do into a result; this also
    survives the sandbox failing twice in a row (restarted for the next file) and any bug
    of ours, so the students after this one are still graded.
    """
    import logging

    from grader.grade import grade
    from grader.result import ERROR, GradeResult

    try:
        return grade(exercise, code, sandbox=sandbox, student=student, secret=secret)
    except Exception as exc:  # noqa: BLE001 — one bad file never stops a batch
        logging.getLogger(__name__).exception("grading %s failed", student)
        with contextlib.suppress(Exception):
            sandbox.restart()
        return GradeResult(exercise=exercise.id, status=ERROR, score=0.0,
                           carry_forward_score=0.0, max_score=exercise.max_score,
                           message=f"grading failed ({type(exc).__name__}: {exc}); "
                                   "the other files were graded")


def _stderr_console():
    from rich.console import Console

    return Console(stderr=True)

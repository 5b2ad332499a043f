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
@click.option("-j", "--jobs", type=click.IntRange(1, 64), default=None,
              help="Sandboxes grading side by side (default: one per core).")
@click.option("--no-diagnosis", is_flag=True,
              help="Skip root causes and fingerprints (faster; no carry-forward score).")
def batch_cmd(source: Path, exercise_id: str, output: Path | None, jobs: int | None,
              no_diagnosis: bool) -> None:
    """Grade every .py file in DIR_OR_ZIP (the file stem is the student) into a CSV."""
    import os

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from cli.main import _exercise
    from grader.instance import secret_key

    items = list(iter_submissions(source))
    if not items:
        raise click.UsageError(f"no .py files in {source}")
    exercise = _exercise(exercise_id)
    jobs = min(jobs or os.cpu_count() or 1, len(items))
    names = [g.name for g in exercise.graded]
    secret = secret_key().encode()
    out = open(output, "w", newline="") if output else sys.stdout  # noqa: SIM115
    try:
        writer = SafeCsvWriter(out)
        writer.writerow(["student", "score", "carry_forward_score", "max_score", "status",
                         "runtime_ms", "message", "root_causes", "fingerprints",
                         *[f"d{n}" for n in names], "review_flags"])
        with Progress("[progress.description]{task.description}", BarColumn(),
                      MofNCompleteColumn(), TimeRemainingColumn(),
                      console=_stderr_console(), transient=output is None) as progress, \
                _Sandboxes(jobs) as pool:
            task = progress.add_task(f"grading {exercise.id} ({jobs} sandboxes)",
                                     total=len(items))

            def one(item: tuple[str, bytes | str]) -> list:
                student, code = item
                if isinstance(code, str):
                    return [student, 0, 0, exercise.max_score, "error", 0, code, "", "",
                            *[0] * len(names), ""]
                r = _grade_one(exercise, code, pool.sandbox(), student, secret,
                               diagnose=not no_diagnosis)
                return _row(student, r, names)

            # Rows come back in the files' order whatever finishes first.
            for row in pool.map(one, items):
                writer.writerow(row)
                progress.advance(task)
    finally:
        if output:
            out.close()
    if output:
        click.echo(f"graded {len(items)} submissions → {output}", err=True)


def _row(student: str, r, names: list[str]) -> list:
    """Return the CSV row of one graded file."""
    points = {t.name: t.points for t in r.tensors}
    roots = [t for t in r.tensors if t.root_cause]
    return [student, r.score, r.carry_forward_score, r.max_score, r.status, r.runtime_ms,
            r.message.splitlines()[0][:300] if r.message else "",
            " ".join(t.name for t in roots),
            " ".join(sorted({t.fingerprint for t in r.tensors if t.fingerprint})),
            *[points.get(n, 0) for n in names],
            " ".join(str(f.get("code")) for f in r.review_flags if isinstance(f, dict))]


class _Sandboxes:
    """A thread pool with one warm sandbox per thread.

    The student's code runs in each sandbox's own child process, so the sandboxes grade side
    by side; the parent's share (reference gradients, comparison, diagnosis) is torch work
    that mostly releases the GIL. Threads spare a torch import per worker process.
    """

    def __init__(self, jobs: int) -> None:
        import threading
        from concurrent.futures import ThreadPoolExecutor

        self._local = threading.local()
        self._all: list = []
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(jobs, thread_name_prefix="grading")

    def sandbox(self):
        """Return this thread's sandbox (started on first use)."""
        box = getattr(self._local, "box", None)
        if box is None:
            from grader.sandbox import Sandbox

            box = Sandbox().__enter__()
            box.ensure_ready()
            self._local.box = box
            with self._lock:
                self._all.append(box)
        return box

    def map(self, fn, items):
        return self._executor.map(fn, items)

    def __enter__(self) -> _Sandboxes:
        return self

    def __exit__(self, *exc: object) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
        for box in self._all:
            with contextlib.suppress(Exception):
                box.__exit__(None, None, None)


def _grade_one(exercise, code: bytes, sandbox, student: str, secret: bytes,
               diagnose: bool = True):
    """Grade one file; whatever goes wrong is that file's error row, never the batch's end.

    ``grade()`` already turns everything a submission can do into a result; this also
    survives the sandbox failing twice in a row (restarted for the next file) and any bug
    of ours, so the students after this one are still graded.
    """
    import logging

    from grader.grade import grade
    from grader.result import ERROR, GradeResult

    try:
        return grade(exercise, code, sandbox=sandbox, student=student, secret=secret,
                     diagnose=diagnose)
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

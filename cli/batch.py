"""``backprop batch``: grade a folder or zip of submissions, one ``.py`` file per student."""

from __future__ import annotations

import contextlib
import os
import sys
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import click
from click.core import ParameterSource

from grader.batch_csv import error_row, header, row
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
              help="Files graded side by side, each by its own process and sandbox "
                   "(default: one per core).")
@click.option("--no-diagnosis", is_flag=True,
              help="Skip root causes and fingerprints (faster; no carry-forward score).")
@click.option("--server", envvar="BACKPROP_SERVER", metavar="URL",
              help="Grade through this service's workers instead (or set BACKPROP_SERVER).")
@click.option("--token", envvar="BACKPROP_TOKEN",
              help="With --server: an instructor's API token (or set BACKPROP_TOKEN).")
@click.option("--course", metavar="CODE",
              help="With --server: the course whose roster the files are matched to.")
@click.option("--timeout", default=3600.0, show_default=True,
              help="With --server: seconds to wait for the workers.")
def batch_cmd(source: Path, exercise_id: str, output: Path | None, jobs: int | None,
              no_diagnosis: bool, server: str | None, token: str | None, course: str | None,
              timeout: float) -> None:
    """Grade every .py file in DIR_OR_ZIP into a CSV.

    Locally (the file stem is the student), or with --server through the service: files are
    matched to the course's roster, graded by its workers and stored (SPEC §8).
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    # Remote when asked on the command line: a BACKPROP_SERVER kept for `backprop submit`
    # alone does not turn a local batch into an upload.
    source_of = click.get_current_context().get_parameter_source
    if course or (server and source_of("server") == ParameterSource.COMMANDLINE):
        if not (server and token and course):
            raise click.UsageError("grading through a server needs --server, --token and "
                                   "--course (or BACKPROP_SERVER and BACKPROP_TOKEN)")
        if jobs is not None or no_diagnosis:
            raise click.UsageError("-j and --no-diagnosis are for a local batch: the server's "
                                   "workers grade a batch sent with --server")
        from cli import remote_batch

        remote_batch.run(source, exercise_id, server, token, course, output, timeout)
        return

    from cli.main import _exercise
    from grader.instance import secret_key

    items = list(iter_submissions(source))
    if not items:
        raise click.UsageError(f"no .py files in {source}")
    # Before torch (and numpy's OpenBLAS) load: one thread each. Idle pool threads spin on a
    # core the sandboxes need, and the workers are forked from this process.
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    exercise = _exercise(exercise_id)
    _one_torch_thread()
    jobs = min(jobs or _cores(), len(items))
    names = [g.name for g in exercise.graded]
    secret = secret_key().encode()
    out = open(output, "w", newline="") if output else sys.stdout  # noqa: SIM115
    try:
        writer = SafeCsvWriter(out)
        writer.writerow(header(names))
        # The progress bar is refreshed here, not by a thread of its own: this process stays
        # single-threaded, so forking a worker (or a replacement, mid-batch) is always safe.
        with _Workers(jobs, exercise, secret, not no_diagnosis, out.flush) as pool, \
                Progress("[progress.description]{task.description}", BarColumn(),
                         MofNCompleteColumn(), TimeRemainingColumn(), auto_refresh=False,
                         console=_stderr_console(), transient=output is None) as progress:
            task = progress.add_task(f"grading {exercise.id} ({jobs} sandboxes)",
                                     total=len(items))
            # Rows are written in the files' order whatever finishes first; the bar is
            # redrawn at most 10 times a second (drawing it costs ~1 ms of this process).
            drawn = 0.0
            for row in pool.rows(items):
                writer.writerow(row)
                progress.advance(task)
                if time.monotonic() - drawn >= 0.1:
                    progress.refresh()
                    drawn = time.monotonic()
    finally:
        if output:
            out.close()
    if output:
        click.echo(f"graded {len(items)} submissions → {output}", err=True)


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _one_torch_thread() -> None:
    """Pin torch to one thread in this process (and so in the workers forked from it).

    A grading process is one of ``-j`` running side by side, next to the sandboxes' own
    processes: extra torch threads only spin-wait on cores the others need. It also keeps
    ``fork()`` safe: no OpenMP pool exists when a worker is forked.
    """
    import torch

    torch.set_num_threads(1)
    if torch.get_num_interop_threads() != 1:
        with contextlib.suppress(RuntimeError):  # already set, or interop work started
            torch.set_num_interop_threads(1)


def _error_row(exercise, student: str, message: str) -> list:
    """Return the row of a file that could not be graded at all."""
    return error_row(student, message, exercise.max_score, [g.name for g in exercise.graded])


#: Files handed to a worker ahead of the one it grades, so it never waits for this process.
_AHEAD = 2


class _Workers:
    """``jobs`` grading processes, each with its own warm sandbox, forked from this one.

    Each worker grades one file at a time on the trusted side — forward pass, reference
    gradients, comparison, diagnosis — while the file's own sandboxed child runs the
    submission. That work is Python holding the GIL for most of a file's time, so threads
    of one process could not use more than one core between them; processes do. A worker
    is a ``fork()`` of this process (torch is imported once, here), pinned to one torch
    thread; its sandbox's zygote is a fresh exec as always, and every file still gets its
    own new child. A worker that dies (a crash of ours, never the submission's: that runs
    in the child) costs the file it was grading an error row; the others are handed to a
    replacement worker.
    """

    def __init__(self, jobs: int, exercise, secret: bytes, diagnose: bool,
                 flush: Callable[[], None]) -> None:
        import multiprocessing

        self._ctx = multiprocessing.get_context("fork")
        self._args = (exercise, secret, diagnose)
        self._flush = flush
        self.exercise = exercise
        self._live: list[_Worker] = []
        try:
            for _ in range(jobs):
                self._live.append(self._start())
        except BaseException:
            self.__exit__(None, None, None)
            raise

    def _start(self) -> _Worker:
        # A forked worker flushes the standard streams it inherited when it exits: empty
        # every buffer first, or rows written so far would be written again.
        for flush in (self._flush, sys.stdout.flush, sys.stderr.flush):
            flush()
        ours, theirs = self._ctx.Pipe()
        # The worker must not hold this process's ends of any pipe (its own included), or it
        # would never see the end of its pipe when this process closes it.
        inherited = [ours, *(w.conn for w in self._live)]
        proc = self._ctx.Process(target=_work, args=(theirs, inherited, *self._args),
                                 name="backprop-batch-worker", daemon=True)
        proc.start()
        theirs.close()
        return _Worker(proc, ours)

    def rows(self, items: list[tuple[str, bytes | str]]) -> Iterator[list]:
        """Grade ``items``; yield their rows in the items' order."""
        from multiprocessing.connection import wait

        todo = list(range(len(items)))[::-1]  # a stack: pop() gives the lowest index
        done: dict[int, list] = {}
        following = 0
        while following < len(items):
            for depth in range(1, _AHEAD + 1):  # one file for each worker before a second
                for w in self._live:
                    while len(w.given) < depth and todo:
                        i = todo.pop()
                        student, code = items[i]
                        if isinstance(code, str):  # unreadable: nothing to grade
                            done[i] = _error_row(self.exercise, student, code)
                        elif not w.give(i, student, code):
                            todo.append(i)  # it has ended: collected below
                            break
            while following in done:
                yield done.pop(following)
                following += 1
            if following == len(items):
                break
            if not self._live:
                raise click.ClickException("every grading process failed; see the log above")
            ready = wait([w.conn for w in self._live] + [w.proc.sentinel for w in self._live])
            for w in list(self._live):
                if w.conn in ready or w.proc.sentinel in ready:
                    lost = w.collect(done)
                    if lost is not None:
                        self._replace(w, lost, items, done, todo)

    def _replace(self, w: _Worker, lost: list[int], items, done: dict[int, list],
                 todo: list[int]) -> None:
        """A worker ended: its current file fails, the rest go back to the queue."""
        self._live.remove(w)
        w.close()
        if w.fatal is not None:
            # Its sandbox could not start: so would a replacement's.
            raise click.ClickException(f"the sandbox could not start: {w.fatal}")
        if lost:
            first, rest = lost[0], lost[1:]
            code = w.proc.exitcode
            how = ("it stopped answering" if code is None else
                   f"killed by signal {-code}" if code < 0 else f"exit code {code}")
            done[first] = _error_row(
                self.exercise, items[first][0],
                f"grading failed (its grading process ended: {how}); "
                "the other files were graded")
            todo.extend(sorted(rest, reverse=True))
            todo.sort(reverse=True)
        if todo:
            self._live.append(self._start())

    def __enter__(self) -> _Workers:
        return self

    def __exit__(self, *exc: object) -> None:
        # Closing a worker's pipe tells it to stop: it closes its sandbox (the zygote kills
        # its children and exits; the uid is given back) and exits. Wait for that, briefly.
        for w in self._live:
            w.close()
        for w in self._live:
            w.proc.join(timeout=10)
            if w.proc.is_alive():
                w.proc.terminate()
                w.proc.join(timeout=5)
        self._live = []


class _Worker:
    """This process's end of one worker: its pipe and the files given to it, in order."""

    def __init__(self, proc, conn) -> None:
        self.proc, self.conn = proc, conn
        self.given: list[int] = []
        self.fatal: str | None = None
        self._closed = False

    def give(self, i: int, student: str, code: bytes) -> bool:
        try:
            self.conn.send((i, student, code))
        except (OSError, ValueError):
            return False
        self.given.append(i)
        return True

    def collect(self, done: dict[int, list]) -> list[int] | None:
        """Store the rows that arrived; return the files lost if the worker has ended."""
        try:
            while self.conn.poll():
                kind, i, payload = self.conn.recv()
                if kind == "fatal":
                    self.fatal = payload
                    return list(self.given)
                done[i] = payload
                self.given.remove(i)
        except (EOFError, OSError):
            return list(self.given)
        if not self.proc.is_alive():
            return list(self.given)
        return None

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.conn.close()


def _work(conn, inherited: list, exercise, secret: bytes, diagnose: bool) -> None:
    """Body of one worker process: a sandbox, then one file after another until told to stop."""
    import gc
    import signal

    for c in inherited:
        c.close()
    # Ctrl-C is the parent's to handle (it closes the pipes, and so stops the workers).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _one_torch_thread()
    # What the fork shared lives as long as this process: keep the collector off it.
    gc.freeze()
    from grader.sandbox import Sandbox

    box = None
    try:
        try:
            box = Sandbox()
            box.ensure_ready()
        except Exception as exc:  # noqa: BLE001 — reported to the parent: it stops the batch
            conn.send(("fatal", -1, f"{type(exc).__name__}: {exc}"))
            return
        names = [g.name for g in exercise.graded]
        while True:
            i, student, code = conn.recv()
            r = _grade_one(exercise, code, box, student, secret, diagnose=diagnose)
            conn.send(("row", i, row(student, r, names)))
    except (EOFError, OSError):
        return  # the parent closed the pipe: the batch is over (or was interrupted)
    finally:
        if box is not None:
            with contextlib.suppress(Exception):
                box.close()


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

"""``backprop batch DIR_OR_ZIP -e ID --server URL --token TOKEN --course CODE`` (SPEC §8):
send a course's files through the service, follow the workers with a progress bar, and write
the same CSV as a local batch. The server matches, dedupes and grades; this only carries."""

from __future__ import annotations

import io
import sys
import time
import zipfile
from pathlib import Path

import click

from grader.text import visible

#: What a folder may send (the server's own limits refuse more with a clear message).
MAX_FILES, MAX_BYTES = 2000, 64 * 2**20
#: Files of a folder worth sending: the students' sources and Gradescope's metadata.
WANTED = (".py", "submission_metadata.yml")


def folder_zip(folder: Path) -> bytes:
    """Zip a folder's sources in memory (relative names; symlinks and dotfiles skipped)."""
    out = io.BytesIO()
    count = total = 0
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for path in sorted(folder.rglob("*")):
            rel = path.relative_to(folder)
            if path.is_symlink() or not path.is_file() or not path.name.endswith(WANTED) \
                    or any(part.startswith(".") or part == "__MACOSX" for part in rel.parts):
                continue
            count += 1
            total += path.stat().st_size
            if count > MAX_FILES or total > MAX_BYTES:
                raise click.UsageError(f"{folder} holds more than {MAX_FILES} files or "
                                       f"{MAX_BYTES // 2**20} MiB of sources; split it")
            z.write(path, rel.as_posix())
    if not count:
        raise click.UsageError(f"no .py files in {folder}")
    return out.getvalue()


def run(source: Path, exercise_id: str, server: str, token: str, course: str,
        output: Path | None, timeout: float) -> None:
    """Upload, report the files the server could not place, wait, write the CSV."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from cli.http import Api

    if source.is_dir():
        data, name = folder_zip(source), source.name + ".zip"
    else:
        if source.stat().st_size > MAX_BYTES:
            raise click.UsageError(f"{source} is larger than {MAX_BYTES // 2**20} MiB")
        data, name = source.read_bytes(), source.name
    api = Api(server, token)
    path = f"/courses/{course}/batches"
    batch = api.call("POST", path, files={"file": (name, data, "application/zip")},
                     data={"exercise": exercise_id}, timeout=300)
    err = Console(stderr=True)
    _report_files(batch, err)
    progress_of = batch["progress"]
    deadline = time.monotonic() + timeout
    with Progress("[progress.description]{task.description}", BarColumn(),
                  MofNCompleteColumn(), TimeRemainingColumn(), console=err) as bar:
        task = bar.add_task(f"batch #{batch['id']} on {api.server}",
                            total=progress_of["total"], completed=progress_of["done"])
        while not progress_of["finished"]:
            if time.monotonic() > deadline:
                raise click.ClickException(
                    f"not finished after {timeout:g} s ({progress_of['done']}/"
                    f"{progress_of['total']}); the server goes on: see batch #{batch['id']}")
            time.sleep(1.0)
            progress_of = api.call("GET", f"{path}/{batch['id']}")["progress"]
            bar.update(task, completed=progress_of["done"])
    text = api.call("GET", f"{path}/{batch['id']}/results.csv", raw=True)
    if output is None:
        sys.stdout.write(text)
    else:
        try:
            output.write_text(text, encoding="utf-8", newline="")
        except OSError as exc:
            raise click.ClickException(f"cannot write {output}: {exc.strerror}") from None
        click.echo(f"graded {progress_of['total']} submissions → {output}", err=True)
    if progress_of.get("failed"):
        click.echo(f"{progress_of['failed']} files failed to grade (status error in the CSV)",
                   err=True)


def _report_files(batch: dict, console) -> None:
    """List on stderr every file that will not be graded now, and why."""
    from rich.text import Text

    left = [f for f in batch["files"] if f["status"] != "submitted"]
    counts = {}
    for f in batch["files"]:
        counts[f["status"]] = counts.get(f["status"], 0) + 1
    console.print(Text(visible(f"batch #{batch['id']} ({batch['layout']} layout): " + ", ".join(
        f"{n} {status}" for status, n in sorted(counts.items())))))
    for f in left:
        console.print(Text(visible(f"  {f['status']:<11} {f['name']}: {f['message']}")))
    for note in batch.get("notes", []):
        console.print(Text(visible(f"  not graded: {note}")))
    if any(f["status"] in ("unmatched", "ambiguous", "unconfirmed") for f in left):
        console.print("  assign or confirm these files on the batch's page; they are not "
                      "graded until then")

"""``backprop check FILE --watch``: re-grade on every save, and say what changed.

A learner fixes one tensor at a time; what they want after a save is "did that fix it, and
did I break something else?". So each report ends with the change since the previous run
(tensors fixed, tensors newly broken, the score delta). On a terminal the report is redrawn
in place (rich ``Live``); otherwise (a pipe, a log, a test) each report is printed in turn.

Saves are seen with ``watchfiles`` (inotify, polling where that does not work) on the file's
folder, not the file: editors save by writing a new file and renaming it over the old one,
which a watch on the file itself would lose. The file is also compared once a second, so a
save made while the watcher was being set up is not missed. A save that leaves the bytes
unchanged (a touch, an editor's backup dance) is not re-graded.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from rich.console import Console, Group
from rich.live import Live
from rich.text import Text

from cli.report import render
from grader.result import GRADED, PASSING, GradeResult
from grader.text import visible

#: Grades a source, returns its result JSON (through the daemon or in process).
GradeJSON = Callable[[bytes], dict[str, Any]]


def changes(before: GradeResult | None, after: GradeResult) -> Text:
    """Describe what changed from ``before`` to ``after``: fixed, newly broken, score delta."""
    if before is None:
        return Text("first check", style="dim")
    was = {t.name: t.status in PASSING for t in before.tensors}
    now = {t.name: t.status in PASSING for t in after.tensors}
    fixed = [name for name, ok in now.items() if ok and was.get(name) is False]
    broken = [name for name, ok in now.items() if not ok and was.get(name) is True]
    text = Text("since the last check: ")
    if before.status != after.status:
        text.append(f"{before.status} → {after.status}",
                    style="bold green" if after.status == GRADED else "bold red")
        text.append(" · ")
    if fixed:
        text.append(f"fixed {', '.join('d' + visible(n) for n in fixed)}", style="green")
        text.append(" · ")
    if broken:
        text.append(f"newly broken {', '.join('d' + visible(n) for n in broken)}",
                    style="bold red")
        text.append(" · ")
    if not fixed and not broken and before.status == after.status:
        text.append("no tensor changed · ", style="dim")
    delta = after.score - before.score
    style = "green" if delta > 0 else ("red" if delta < 0 else "dim")
    text.append(f"score {before.score:g} → {after.score:g} ({delta:+g})", style=style)
    return text


def _report(result: GradeResult, width: int) -> Text:
    """Render the report into ``Text`` (for ``Live``, which redraws renderables, not prints).

    Every student-controlled string went through :func:`grader.text.visible` in ``render``,
    so the only escape sequences in the capture are rich's own colours.
    """
    buffer = io.StringIO()
    render(result, Console(file=buffer, width=width, force_terminal=True,
                           color_system="standard"))
    return Text.from_ansi(buffer.getvalue().rstrip("\n"))


def _read(file: Path) -> bytes | None:
    try:
        return file.read_bytes()
    except OSError:
        return None  # mid-save (renamed away) or removed: wait for the next change


def watch(file: Path, grade_json: GradeJSON, console: Console) -> None:
    """Grade ``file`` now and after every save until Ctrl-C, then return.

    A usage error on the first check (an unknown exercise, no such file) ends the watch; any
    later failure is shown and the watch goes on, since the next save may fix it.
    """
    import watchfiles

    target = file.resolve()
    source = _read(target)
    if source is None:
        raise click.UsageError(f"no such file: {file}")
    previous: GradeResult | None = None
    runs = 0
    live = Live(console=console, auto_refresh=False, vertical_overflow="visible") \
        if console.is_terminal else None

    def footer() -> Text:
        return Text(f"watching {visible(str(file))} · Ctrl-C to stop", style="dim")

    def show(*parts: Any) -> None:
        if live is not None:
            live.update(Group(*parts), refresh=True)
        else:
            for part in parts:
                console.print(part)

    def check(data: bytes) -> None:
        nonlocal previous, runs
        runs += 1
        stamp = time.strftime("%H:%M:%S")
        if live is not None:
            live.update(Text(f"check {runs} · {stamp} · grading…", style="dim"), refresh=True)
        else:
            console.rule(Text(f"check {runs} · {stamp} · {visible(file.name)}"))
        try:
            result = GradeResult.from_json(grade_json(data))
        except click.UsageError:
            raise
        except click.ClickException as exc:  # the sandbox failed: maybe not next time
            show(Text(f"error: {visible(exc.format_message())}", style="bold red"), footer())
            return
        if live is not None:
            show(Text(f"check {runs} · {stamp}", style="dim"), _report(result, console.width),
                 Text(), changes(previous, result), footer())
        else:
            render(result, console)
            show(changes(previous, result), footer())
        previous = result

    try:
        if live is not None:
            live.start()
        check(source)
        # yield_on_timeout: an empty wake-up every second, on which the file is compared too,
        # so a save made before the watcher was set up (during the first check) is not lost.
        for _ in watchfiles.watch(target.parent, debounce=400, step=50, raise_interrupt=True,
                                  watch_filter=lambda _change, path: Path(path) == target,
                                  rust_timeout=1000, yield_on_timeout=True):
            data = _read(target)
            if data is None or data == source:
                continue
            source = data
            check(source)
    except KeyboardInterrupt:
        pass  # Ctrl-C is how a watch ends: exit 0, no traceback
    finally:
        if live is not None:
            live.stop()


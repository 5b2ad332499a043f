"""The terminal report of ``backprop check``: one line per tensor, in Karpathy's ``cmp`` spirit.

    logprobs        exact     maxdiff 0         (32, 27)

coloured by status, then the score, the checks, and what the submission printed.
"""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from grader.result import GRADED, GradeResult, TensorResult

STYLES = {
    "exact": "bold green", "close": "green", "wrong": "bold red",
    "shape_mismatch": "bold magenta", "missing": "yellow", "not_finite": "bold red",
    "bad_type": "bold magenta",
}


def _num(value: float | None) -> str:
    if value is None:
        return "—"
    return "0" if value == 0 else f"{value:.2e}"


def _shape(shape: list[int] | None) -> str:
    return "—" if shape is None else str(tuple(shape))


def _shapes(t: TensorResult) -> str:
    if t.got_shape is None or t.got_shape == t.expected_shape:
        return _shape(t.expected_shape)
    return f"got {_shape(t.got_shape)}, expected {_shape(t.expected_shape)}"


def render(result: GradeResult, console: Console) -> None:
    """Print ``result`` as a readable report."""
    table = Table(box=None, pad_edge=False, show_edge=False, header_style="bold")
    for column in ("tensor", "status", "max diff", "rel err", "shape", "points"):
        table.add_column(column, justify="right" if column in ("points",) else "left")
    for t in result.tensors:
        table.add_row(f"d{t.name}", Text(t.status, style=STYLES.get(t.status, "")),
                      _num(t.max_abs_diff), _num(t.rel_error), _shapes(t),
                      f"{t.points:g}/{t.max_points:g}")
    console.print(table)
    problems = [t for t in result.tensors if not t.passed and t.message
                and t.message != "not evaluated"]
    if problems and result.status == GRADED:
        console.print()
        for t in problems[:12]:
            console.print(f"  [red]✗[/red] {escape(t.message)}")
        if len(problems) > 12:
            console.print(f"  … and {len(problems) - 12} more")
    for check in result.checks:
        mark = "[green]✓[/green]" if check.passed else "[red]✗[/red]"
        console.print(f"\n{mark} {check.name} check: {escape(check.message)} "
                      f"({check.points:g}/{check.max_points:g})")
    if result.stdout.strip():
        console.print("\n[bold]your code printed:[/bold]")
        console.print(escape(result.stdout.rstrip()[-4000:]), highlight=False)
    style = "bold green" if result.score == result.max_score else \
        ("bold red" if result.status != GRADED else "bold yellow")
    console.print()
    if result.status != GRADED:
        console.print(f"[bold red]{result.status}[/bold red]: {escape(result.message)}",
                      highlight=False)
    else:
        console.print(escape(result.message), highlight=False)
    console.print(f"[{style}]score {result.score:g} / {result.max_score:g}[/{style}]  "
                  f"[dim]{result.exercise} · {len(result.cases)} cases · "
                  f"{result.runtime_ms:.0f} ms[/dim]")

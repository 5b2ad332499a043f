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


def _diagnoses(result: GradeResult, console: Console, limit: int = 12) -> None:
    """Print root causes first (with their diagnosis), then other problems, then inherited."""
    failing = [t for t in result.tensors if not t.passed]
    roots = [t for t in failing if t.root_cause]
    inherited = [t for t in failing if not t.root_cause and t.locally_correct]
    others = [t for t in failing if t not in roots and t not in inherited
              and t.message and t.message != "not evaluated"]
    if roots or others:
        console.print()
    for t in roots[:limit]:
        console.print(f"  [bold red]✗ root cause[/bold red] {escape(t.message)}", highlight=False)
        if t.diagnosis:
            console.print(f"      [yellow]→ {escape(t.diagnosis)}[/yellow] "
                          f"[dim]\\[{t.fingerprint}][/dim]", highlight=False)
    for t in others[:limit]:
        console.print(f"  [red]✗[/red] {escape(t.message)}", highlight=False)
        if t.diagnosis:
            console.print(f"      [yellow]→ {escape(t.diagnosis)}[/yellow]", highlight=False)
    hidden = len(roots[limit:]) + len(others[limit:])
    if hidden:
        console.print(f"  … and {hidden} more")
    if inherited:
        names = ", ".join(f"d{t.name}" for t in inherited)
        console.print(f"\n  [dim]{len(inherited)} inherited an upstream error (right given your "
                      f"own upstream gradients): {escape(names)}[/dim]", highlight=False)


def render(result: GradeResult, console: Console) -> None:
    """Print ``result`` as a readable report."""
    table = Table(box=None, pad_edge=False, show_edge=False, header_style="bold")
    for column in ("tensor", "status", "max diff", "rel err", "shape", "points"):
        table.add_column(column, justify="right" if column in ("points",) else "left")
    for t in result.tensors:
        status = Text(t.status, style=STYLES.get(t.status, ""))
        if t.root_cause:
            status.append(" ← root cause", style="bold red")
        elif not t.passed and t.locally_correct:
            status.append(" (inherited)", style="dim")
        table.add_row(f"d{t.name}", status,
                      _num(t.max_abs_diff), _num(t.rel_error), _shapes(t),
                      f"{t.points:g}/{t.max_points:g}")
    console.print(table)
    if result.status == GRADED:
        _diagnoses(result, console)
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
    forward = (f" [dim](error carried forward: {result.carry_forward_score:g})[/dim]"
               if result.status == GRADED and result.carry_forward_score is not None
               and result.carry_forward_score != result.score else "")
    console.print(f"[{style}]score {result.score:g} / {result.max_score:g}[/{style}]{forward}  "
                  f"[dim]{result.exercise} · {len(result.cases)} cases · "
                  f"{result.runtime_ms:.0f} ms[/dim]")

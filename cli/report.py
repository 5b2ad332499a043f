"""The terminal report of ``backprop check``: one line per tensor, in Karpathy's ``cmp`` spirit.

    logprobs        exact     maxdiff 0         (32, 27)

coloured by status, then the score, the checks, and what the submission printed.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from grader.result import GRADED, NOT_RETURNED, GradeResult, number_text
from grader.text import visible

STYLES = {
    "exact": "bold green", "close": "green", "wrong": "bold red",
    "shape_mismatch": "bold magenta", "missing": "yellow", "not_finite": "bold red",
    "bad_type": "bold magenta",
}


def _text(*parts: Any) -> Text:
    """Return a rich ``Text`` of ``(value, style)`` pairs and plain values, all made visible.

    Everything in a result may come from the submission (what it printed, its exception
    messages, the keys of the dict it returned) or, for ``backprop submit``, from a server:
    it is shown as ``Text``, so never read as rich markup (``[bold green]``) or emoji codes,
    and through :func:`grader.text.visible`, so a control sequence (clear screen, window
    title, OSC 52 clipboard write) is shown, never sent to the terminal.
    """
    text = Text()
    for part in parts:
        value, style = part if isinstance(part, tuple) else (part, "")
        text.append(visible(str(value)), style=style)
    return text


def _diagnoses(result: GradeResult, console: Console, limit: int = 12) -> None:
    """Print root causes first (with their diagnosis), then other problems, then inherited."""
    failing = [t for t in result.tensors if not t.passed]
    roots = [t for t in failing if t.root_cause]
    inherited = [t for t in failing if not t.root_cause and t.locally_correct]
    # Not returned only because backward raised in some case: one line for all of them (the
    # crash itself is in the summary), not the same two lines per tensor.
    unreturned = [t for t in failing if not t.root_cause and NOT_RETURNED in t.message]
    others = [t for t in failing if t not in roots and t not in inherited
              and t not in unreturned and t.message and t.message != "not evaluated"]
    if roots or others or unreturned:
        console.print()
    for t in roots[:limit]:
        console.print(_text("  ", ("✗ root cause", "bold red"), " ", t.message))
        if t.diagnosis:
            console.print(_text("      ", (f"→ {t.diagnosis}", "yellow"), " ",
                                (f"[{t.fingerprint}]", "dim")))
    for t in others[:limit]:
        console.print(_text("  ", ("✗", "red"), " ", t.message))
        if t.diagnosis:
            console.print(_text("      ", (f"→ {t.diagnosis}", "yellow")))
    hidden = len(roots[limit:]) + len(others[limit:])
    if hidden:
        console.print(f"  … and {hidden} more")
    if unreturned:
        right = [t for t in unreturned if (t.diagnosis or "").startswith(f"d{t.name} was right")]
        console.print(_text("  ", ("✗", "red"), f" {len(unreturned)} not returned where "
                            "backward raised (the error is in the summary below)"))
        if right:
            console.print(_text("      ", (f"right in the cases that ran: "
                                         f"{', '.join(f'd{t.name}' for t in right)}", "dim")))
    if inherited:
        names = ", ".join(f"d{t.name}" for t in inherited)
        console.print()
        console.print(_text((f"  {len(inherited)} inherited an upstream error (right given "
                             f"your own upstream gradients): {names}", "dim")))


def render(result: GradeResult, console: Console) -> None:
    """Print ``result`` as a readable report (every text from the result made visible)."""
    table = Table(box=None, pad_edge=False, show_edge=False, header_style="bold")
    for column in ("tensor", "status", "max diff", "rel err", "shape", "points"):
        table.add_column(column, justify="right" if column in ("points",) else "left")
    for t in result.tensors:
        status = _text((t.status, STYLES.get(t.status, "")))
        if t.root_cause:
            status.append(" ← root cause", style="bold red")
        elif not t.passed and t.locally_correct:
            status.append(" (inherited)", style="dim")
        if t.values_match:
            status.append(" · values right after a reshape", style="cyan")
        table.add_row(_text(f"d{t.name}"), status,
                      _text(number_text(t.max_abs_diff)), _text(number_text(t.rel_error)),
                      _text(t.shapes_text()),
                      _text(f"{t.points:g}/{t.max_points:g}"))
    console.print(table)
    if result.status == GRADED:
        _diagnoses(result, console)
    for check in result.checks:
        mark = ("✓", "green") if check.passed else ("✗", "red")
        console.print()
        console.print(_text(mark, f" {check.name} check: {check.message} "
                                  f"({check.points:g}/{check.max_points:g})"))
    if result.stdout.strip():
        console.print("\n[bold]your code printed:[/bold]")
        console.print(_text(result.stdout.rstrip()[-4000:]))
    style = "bold green" if result.score == result.max_score else \
        ("bold red" if result.status != GRADED else "bold yellow")
    console.print()
    if result.status != GRADED:
        console.print(_text((result.status, "bold red"), ": ", result.message))
    else:
        console.print(_text(result.message))
    for flag in result.review_flags:
        if isinstance(flag, dict):
            console.print(_text(("⚑ for review: ", "bold yellow"), str(flag.get("message", "")),
                                (f" [{flag.get('code', '')}]", "dim")))
    forward = (f" (error carried forward: {result.carry_forward_score:g})"
               if result.status == GRADED and result.carry_forward_score is not None
               and result.carry_forward_score != result.score else "")
    values = (f' (shape rule "values": {result.values_score:g})'
              if result.status == GRADED and result.values_score is not None
              and result.values_score != result.score else "")
    console.print(_text((f"score {result.score:g} / {result.max_score:g}", style),
                        (forward, "dim"), (values, "dim"), "  ",
                        (f"{result.exercise} · {len(result.cases)} cases · "
                         f"{result.runtime_ms:.0f} ms", "dim")))

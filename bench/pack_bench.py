"""Benchmark: what grading costs for every exercise of every pack, in process and sandboxed.

Run from the repository root::

    .venv/bin/python bench/pack_bench.py                   # every exercise, 15 runs each
    .venv/bin/python bench/pack_bench.py --pack layers     # one pack
    .venv/bin/python bench/pack_bench.py --n 30 --json     # the figures as JSON

Per exercise, with its reference solution (``solutions/<name>.py`` beside the pack's module,
the file ``backprop validate`` mutates):

* in process: forward + autograd reference for every case, plus the solution's ``backward``
  exec'd here and the judge's comparison (what grading costs with no isolation at all);
* sandboxed: ``grade()`` through one warm :class:`~grader.sandbox.Sandbox` (a fork of the
  zygote per submission, diagnosis on, as ``backprop check`` and the workers grade);
* the ratio sandboxed / in process, measured in the same run.

Budget (a ratio, so it holds on a machine 2–3× slower or busier): every exercise of the
packs beyond the lecture has a sandboxed p50 at most 2× that of makemore4/ex1, the lecture's
26-tensor exercise, measured in the same run — no pack exercise may feel slower to a student
than the course's first one by more than that. The makemore4 rows are the yardstick
(``grade_bench.py`` holds their budgets); ex4's sandboxed time includes its training check,
which the in-process column does not run.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.grade_bench import (  # noqa: E402  (the repository root must be on sys.path)
    SECRET,
    STUDENT,
    _ms,
    grade_in_process,
    load_backward,
    machine,
    prepare,
)

BASELINE = "makemore4/ex1"
BUDGET_RATIO = 2.0


def bench_exercise(exercise, source: str, sandbox, n: int) -> dict[str, Any]:
    """Return the in-process and sandboxed costs of grading ``source`` (a full-marks file)."""
    from grader import grade

    backward = load_backward(source)
    in_process = []
    for i in range(n + 1):
        t0 = time.perf_counter()
        score = grade_in_process(exercise, backward, prepare(exercise))
        if i:  # the first run warms caches
            in_process.append(time.perf_counter() - t0)
    if score != exercise.max_score - sum(exercise.check_points().values()):
        raise SystemExit(f"{exercise.id}: the solution scores {score} in process")
    sandboxed = []
    for i in range(n + 2):
        t0 = time.perf_counter()
        result = grade(exercise, source, sandbox=sandbox, student=STUDENT, secret=SECRET)
        if i >= 2:
            sandboxed.append(time.perf_counter() - t0)
        if result.score != exercise.max_score:
            raise SystemExit(f"{exercise.id}: the solution scores {result.score}/"
                             f"{exercise.max_score} sandboxed: {result.message}")
    fig = {"exercise": exercise.id, "cases": len(exercise.case_specs),
           "tensors": len(exercise.graded), "dtype": str(exercise.dtype).removeprefix("torch."),
           "in_process_ms": _ms(in_process)["median_ms"],
           "sandboxed_p50_ms": _ms(sandboxed)["median_ms"],
           "sandboxed_p95_ms": _ms(sandboxed)["p95_ms"]}
    fig["ratio"] = round(fig["sandboxed_p50_ms"] / fig["in_process_ms"], 2)
    return fig


def solution_file(exercise) -> Path | None:
    """Return the exercise's reference solution (``backprop validate``'s), if it has one."""
    from grader.validate import solution_path

    return solution_path(exercise)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pack", action="append", help="only this pack (repeatable)")
    parser.add_argument("--n", type=int, default=15, help="runs per exercise and row")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    if args.n < 1:
        parser.error("--n must be at least 1")

    import torch

    from grader import get_exercise, load_exercises
    from grader.sandbox import Sandbox

    torch.set_num_threads(1)
    ids = sorted(load_exercises())
    if args.pack:
        ids = [i for i in ids if i.split("/")[0] in args.pack]
    if BASELINE not in ids:
        ids.insert(0, BASELINE)
    rows, skipped = [], []
    with Sandbox() as sb:
        sb.ensure_ready()
        for exercise_id in ids:
            exercise = get_exercise(exercise_id)
            path = solution_file(exercise)
            if path is None or not path.exists():
                skipped.append(exercise_id)
                continue
            rows.append(bench_exercise(exercise, path.read_text(), sb, args.n))
            print(f"  {exercise_id}: {rows[-1]['sandboxed_p50_ms']:.1f} ms", file=sys.stderr)
    base = next(r for r in rows if r["exercise"] == BASELINE)["sandboxed_p50_ms"]
    for r in rows:
        r["vs_baseline"] = round(r["sandboxed_p50_ms"] / base, 2)
        # The lecture's own exercises are the yardstick, with budgets of their own
        # (grade_bench.py); ex4's row includes its 50-step training check.
        r["met"] = None if r["exercise"].startswith("makemore4/") \
            else r["vs_baseline"] <= BUDGET_RATIO
    fig = {"machine": machine(), "n": args.n, "baseline": BASELINE,
           "budget_ratio": BUDGET_RATIO, "rows": rows, "skipped": skipped}
    if args.json:
        print(json.dumps(fig, indent=2))
    else:
        print_table(fig)


def print_table(fig: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"grading cost per pack exercise ({fig['n']} runs each; reference "
                        "solutions)")
    for col, just in (("exercise", "left"), ("cases", "right"), ("tensors", "right"),
                      ("dtype", "left"), ("in-process ms", "right"),
                      ("sandboxed p50 ms", "right"), ("p95 ms", "right"),
                      ("sandboxed / in-process", "right"),
                      (f"p50 / {fig['baseline']} (budget ≤ {fig['budget_ratio']:g}×)", "right"),
                      ("verdict", "left")):
        table.add_column(col, justify=just)
    for r in fig["rows"]:
        table.add_row(r["exercise"], str(r["cases"]), str(r["tensors"]), r["dtype"],
                      f"{r['in_process_ms']:.2f}", f"{r['sandboxed_p50_ms']:.2f}",
                      f"{r['sandboxed_p95_ms']:.2f}", f"{r['ratio']:.1f}×",
                      f"{r['vs_baseline']:.2f}×",
                      "reference" if r["met"] is None else
                      "[green]met[/green]" if r["met"] else "[red]MISSED[/red]")
    console = Console() if sys.stdout.isatty() else Console(width=160)
    console.print(table)
    if fig["skipped"]:
        console.print("no reference solution (skipped): " + ", ".join(fig["skipped"]))
    m = fig["machine"]
    console.print(f"machine: nproc {m['nproc']} (affinity {m['affinity']}), {m['cpu']}, "
                  f"Python {m['python']}, torch {m['torch']} (1 thread here and in children)")


if __name__ == "__main__":
    main()

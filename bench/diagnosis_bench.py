"""Benchmark: what diagnosis (root causes, fingerprints, carry-forward) adds to grading.

Run from the repository root::

    .venv/bin/python bench/diagnosis_bench.py            # ex1 corpus, 15 runs per file
    .venv/bin/python bench/diagnosis_bench.py --json
    .venv/bin/python bench/diagnosis_bench.py --exercise makemore4/ex4 --n 5

Per corpus file of the exercise (planted bugs and one correct solution), plus a worst case
that returns random gradients for every tensor, two figures:

1. diagnosis CPU: the time spent in diagnosis proper — every case's
   :class:`~grader.diagnosis.CaseDiagnosis` verdicts plus :func:`~grader.diagnosis.conclude`
   — on the student's own returned gradients, in this process (exact attribution);
2. added wall time: ``grade()`` through the warm sandbox with ``diagnose=True`` minus the
   same with ``diagnose=False``, medians of interleaved runs (part of the diagnosis overlaps
   the sandbox computing the next case, so this can be below row 1; it is also noisier).

The issue's budget: diagnosis adds ≤ 20 ms per ex1 submission. The verdict uses the worst
corpus file's diagnosis CPU median (the larger, exactly attributable figure); the random
worst case is printed beside it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.grade_bench import SECRET, STUDENT, load_backward  # noqa: E402

BUDGET_MS = 20.0


def student_replies(exercise, backward) -> list[tuple[Any, dict, dict, dict]]:
    """Run ``backward`` in process on every case: (case, fwd, reference, returned grads)."""
    from grader.sandbox.child import Namespace

    out = []
    for case in exercise.cases(STUDENT, SECRET):
        fwd = exercise.forward(case)
        ref = exercise.reference(fwd)
        try:
            returned = backward(Namespace(exercise.student_inputs(fwd)))
        except Exception:  # a crash in this case (a hard-coded 32): recorded as raised
            returned = None
        out.append((case, fwd, ref, returned if isinstance(returned, dict) or returned is None
                    else {}))
    return out


def shares(returned: dict) -> list[list[str]]:
    """Group returned names by tensor storage, as the sandbox child reports them."""
    import torch

    groups: dict[int, list[str]] = {}
    for k, v in returned.items():
        if isinstance(v, torch.Tensor):
            groups.setdefault(v.untyped_storage().data_ptr(), []).append(k)
    return [g for g in groups.values() if len(g) > 1]


def diagnosis_cpu(exercise, source: str, replies) -> float:
    """Return the seconds diagnosis proper takes on these replies (all cases + conclude).

    Drives :class:`~grader.diagnosis.Diagnoser` exactly as ``grade()`` does; only the
    comparison (which grading needs anyway) stays outside the clock.
    """
    import torch

    from grader.diagnosis import Diagnoser
    from grader.judge import Unusable, compare
    from grader.result import MISSING

    tolerances = {g.name: exercise.tolerances(g) for g in exercise.graded}
    diagnoser = Diagnoser(tolerances)
    spent = 0.0
    for case, fwd, ref, returned in replies:
        if returned is None:
            t0 = time.perf_counter()
            diagnoser.add_raised(case, None)
            spent += time.perf_counter() - t0
            continue
        usable = {k: v for k, v in returned.items() if k in ref and isinstance(v, torch.Tensor)
                  and v.dtype == torch.float32 and v.shape == ref[k].shape}
        misshaped = {k: v for k, v in returned.items() if isinstance(v, torch.Tensor)
                     and k in ref and k not in usable and v.dtype == torch.float32}
        diffs = {n: compare(n, ref[n], usable.get(n, Unusable(MISSING, "missing")),
                            rtol=tolerances[n][0], atol=tolerances[n][1]) for n in tolerances}
        t0 = time.perf_counter()
        diagnoser.add_case(case, fwd, ref, usable, misshaped, diffs, shares=shares(returned),
                           nones=[k for k, v in returned.items() if v is None])
        spent += time.perf_counter() - t0
    t0 = time.perf_counter()
    diagnoser.conclude([c for c, *_ in replies], source)
    return spent + time.perf_counter() - t0


#: A worst case beyond the corpus: every graded tensor wrong, with no pattern to find, so
#: every fingerprint and hypothesis is tried and fails.
RANDOM_SOURCE = """\
import torch

def backward(t):
    g = torch.Generator().manual_seed(t.n)
    return {name: torch.randn(getattr(t, name).shape, generator=g) for name in NAMES}
"""


def bench_file(exercise, path: Path, n: int, sandbox, source: str | None = None) \
        -> dict[str, Any]:
    from grader import grade

    source = path.read_text() if source is None else source
    backward = load_backward(source)
    cpu = []
    for _ in range(n):
        replies = student_replies(exercise, backward)
        cpu.append(diagnosis_cpu(exercise, source, replies))
    on, off = [], []
    for _ in range(n):
        for flag, bucket in ((True, on), (False, off)):
            t0 = time.perf_counter()
            graded = grade(exercise, source, sandbox=sandbox, student=STUDENT, secret=SECRET,
                           diagnose=flag)
            bucket.append(time.perf_counter() - t0)
            if flag:
                result = graded
    roots = [t.name for t in result.tensors if t.root_cause]
    return {"file": path.name, "failing": sum(not t.passed for t in result.tensors),
            "roots": roots,
            "cpu_ms": round(statistics.median(cpu) * 1000, 2),
            "cpu_max_ms": round(max(cpu) * 1000, 2),
            "grade_on_ms": round(statistics.median(on) * 1000, 2),
            "grade_off_ms": round(statistics.median(off) * 1000, 2),
            "added_ms": round((statistics.median(on) - statistics.median(off)) * 1000, 2)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--exercise", default="makemore4/ex1")
    parser.add_argument("--n", type=int, default=15, help="runs per file")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.n < 1:
        parser.error("--n must be at least 1")

    import torch

    from grader import get_exercise
    from grader.sandbox import Sandbox

    torch.set_num_threads(1)
    exercise = get_exercise(args.exercise)
    folder = ROOT / "tests" / "corpus" / args.exercise
    files = sorted([*folder.glob("bug_*.py"), *folder.glob("slip_*.py")]) \
        + [folder / "lecture.py"]
    rows = []
    with Sandbox() as sandbox:
        sandbox.ensure_ready()
        names = repr([g.name for g in exercise.graded])
        jobs = [(p, None) for p in files] + [
            (Path("random gradients (all wrong)"), f"NAMES = {names}\n{RANDOM_SOURCE}")]
        for path, source in jobs:
            try:
                rows.append(bench_file(exercise, path, args.n, sandbox, source))
            except Exception as exc:  # a corpus file that cannot run in process (numpy, …)
                rows.append({"file": path.name, "error": f"{type(exc).__name__}: {exc}"})
    measured = [r for r in rows if "cpu_ms" in r and not r["file"].startswith("random")]
    worst = max(measured, key=lambda r: r["cpu_ms"])
    garbage = next((r for r in rows if r["file"].startswith("random") and "cpu_ms" in r), {})
    fig = {"exercise": exercise.id, "runs": args.n, "rows": rows,
           "worst_cpu_ms": worst["cpu_ms"], "worst_file": worst["file"],
           "random_cpu_ms": garbage.get("cpu_ms"),
           "budget_ms": BUDGET_MS, "met": worst["cpu_ms"] <= BUDGET_MS}
    if args.json:
        print(json.dumps(fig, indent=2))
        return
    print_table(fig)


def print_table(fig: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"diagnosis cost: {fig['exercise']} ({fig['runs']} runs per file)")
    for col in ("file", "failing", "root cause", "diagnosis CPU ms", "grade on ms",
                "grade off ms", "added ms"):
        table.add_column(col, justify="left" if col in ("file", "root cause") else "right")
    for r in fig["rows"]:
        if "error" in r:
            table.add_row(r["file"], "", r["error"][:40], "", "", "", "")
            continue
        table.add_row(r["file"], str(r["failing"]), ", ".join(r["roots"][:3]) or "—",
                      f"{r['cpu_ms']:.2f}", f"{r['grade_on_ms']:.1f}",
                      f"{r['grade_off_ms']:.1f}", f"{r['added_ms']:+.1f}")
    console = Console() if sys.stdout.isatty() else Console(width=140)
    console.print(table)
    verdict = "[green]met[/green]" if fig["met"] else "[red]MISSED[/red]"
    console.print(f"budget: diagnosis adds ≤ {fig['budget_ms']:.0f} ms per submission — worst "
                  f"corpus file {fig['worst_file']}: {fig['worst_cpu_ms']:.2f} ms diagnosis "
                  f"CPU (median) → {verdict}")
    if fig["random_cpu_ms"] is not None:
        console.print(f"beyond the corpus: random gradients for every tensor (every hypothesis "
                      f"tried and failed) cost {fig['random_cpu_ms']:.2f} ms")


if __name__ == "__main__":
    main()

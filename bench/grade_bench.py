"""Benchmark: what grading one submission costs, in process, through the warm zygote, and
with a naive fresh interpreter per submission.

Run from the repository root::

    .venv/bin/python bench/grade_bench.py                 # ex1, 30 submissions, 3 baseline runs
    .venv/bin/python bench/grade_bench.py --json          # the same figures as JSON
    .venv/bin/python bench/grade_bench.py --exercise makemore4/ex2 --n 50 --baseline-n 5

Rows:

1. reference: ``exercise.forward(case)`` + ``exercise.reference(fwd)`` for every case, in
   this process (what the trusted side must compute anyway);
2. student backward + compare: the solution's ``backward`` exec'd in this process on every
   case's ``t`` (no sandbox), plus the judge's comparison;
3. sandboxed: ``grade()`` through one reused :class:`~grader.sandbox.Sandbox` (a fork of the
   warm zygote per submission), after two warm-up submissions;
4. baseline: per submission a fresh ``python`` process that imports torch and the grader and
   grades the file in process (no sandbox): what spawning an interpreter per submission costs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

STUDENT = "bench"
SECRET = b"bench-secret"


# -- the in-process grading path (used by rows 2 and 4) ------------------------------------

def load_backward(source: str):
    """Exec ``source`` (trusted here: it is our own corpus file) and return its ``backward``."""
    namespace: dict[str, Any] = {"__name__": "submission", "__file__": "submission.py"}
    exec(compile(source, "submission.py", "exec"), namespace)
    return namespace["backward"]


def grade_in_process(exercise, backward, prepared) -> float:
    """Run ``backward`` on every prepared case and compare; return the score (no sandbox)."""
    import torch

    from grader.sandbox.child import Namespace

    def runs():
        for case, inputs, ref in prepared:
            with torch.no_grad():
                yield case, ref, backward(Namespace(inputs))

    return judge_outputs(exercise, runs())


def judge_outputs(exercise, runs) -> float:
    """Compare each ``(case, reference, backward's output)`` and return the score, as the
    grader does: :func:`grader.judge.compare` per tensor and case, then ``combine``. An
    output that is not a dict (e.g. the exception a buggy file raised) counts as missing."""
    from grader.judge import Unusable, combine, compare
    from grader.result import MISSING

    diffs: dict[str, list] = {g.name: [] for g in exercise.graded}
    for case, ref, out in runs:
        for g in exercise.graded:
            rtol, atol = exercise.tolerances(g)
            got = out.get(g.name) if isinstance(out, dict) else None
            if got is None:
                got = Unusable(MISSING, "missing")
            diffs[g.name].append((case, compare(g.name, ref[g.name], got, rtol=rtol,
                                                atol=atol)))
    return sum(combine(diffs[g.name], g.points).points for g in exercise.graded)


def prepare(exercise) -> list:
    """Return ``(case, student inputs, reference gradients)`` for every case."""
    prepared = []
    for case in exercise.cases(STUDENT, SECRET):
        fwd = exercise.forward(case)
        prepared.append((case, exercise.student_inputs(fwd), exercise.reference(fwd)))
    return prepared


def baseline_worker(exercise_id: str, source_path: str) -> None:
    """The body of one naive-baseline process: import, build cases, grade in process."""
    from grader import get_exercise

    exercise = get_exercise(exercise_id)
    backward = load_backward(Path(source_path).read_text())
    score = grade_in_process(exercise, backward, prepare(exercise))
    print(json.dumps({"score": score, "max_score": exercise.max_score}))


# -- measurements ------------------------------------------------------------------------

def _ms(seconds: list[float]) -> dict[str, float]:
    ms = sorted(s * 1000 for s in seconds)
    p95 = ms[min(len(ms) - 1, max(0, round(0.95 * (len(ms) - 1))))]
    return {"n": len(ms), "median_ms": round(statistics.median(ms), 3),
            "p95_ms": round(p95, 3), "min_ms": round(ms[0], 3)}


def bench_reference(exercise, n: int) -> dict[str, float]:
    cases = exercise.cases(STUDENT, SECRET)
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        for case in cases:
            exercise.reference(exercise.forward(case))
        times.append(time.perf_counter() - t0)
    return _ms(times)


def bench_student(exercise, source: str, n: int) -> dict[str, float]:
    backward = load_backward(source)
    prepared = prepare(exercise)
    score = grade_in_process(exercise, backward, prepared)  # warm-up, and a sanity check
    if score != exercise.max_score:
        raise SystemExit(f"the solution scores {score}/{exercise.max_score} in process; "
                         "benchmark a correct solution")
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        grade_in_process(exercise, backward, prepared)
        times.append(time.perf_counter() - t0)
    return _ms(times)


def bench_sandbox(exercise, source: str, n: int) -> dict[str, Any]:
    from grader import grade
    from grader.sandbox import Sandbox

    t0 = time.perf_counter()
    with Sandbox() as sb:
        sb.ensure_ready()
        startup = time.perf_counter() - t0
        for _ in range(2):  # warm-up
            grade(exercise, source, sandbox=sb, student=STUDENT, secret=SECRET)
        times, statuses = [], set()
        t_all = time.perf_counter()
        for _ in range(n):
            t1 = time.perf_counter()
            result = grade(exercise, source, sandbox=sb, student=STUDENT, secret=SECRET)
            times.append(time.perf_counter() - t1)
            statuses.add((result.status, result.score))
        total = time.perf_counter() - t_all
    if statuses != {("graded", exercise.max_score)}:
        raise SystemExit(f"sandboxed grading did not give full marks: {statuses}")
    out: dict[str, Any] = _ms(times)
    out["p50_ms"] = out["median_ms"]
    out["throughput_per_s"] = round(n / total, 2)
    out["zygote_startup_ms"] = round(startup * 1000, 1)
    return out


def _parallel_worker(exercise_id: str, source: str, n: int, barrier, queue) -> None:
    """One grading process with its own warm sandbox, as a Celery worker slot would be."""
    import torch

    from grader import get_exercise, grade
    from grader.sandbox import Sandbox

    torch.set_num_threads(1)
    exercise = get_exercise(exercise_id)
    with Sandbox() as sb:
        sb.ensure_ready()
        for _ in range(2):
            grade(exercise, source, sandbox=sb, student=STUDENT, secret=SECRET)
        barrier.wait()
        t0 = time.perf_counter()
        scores = [grade(exercise, source, sandbox=sb, student=STUDENT, secret=SECRET).score
                  for _ in range(n)]
        queue.put((t0, time.perf_counter(), scores))


def bench_parallel(exercise, source: str, n: int, workers: int) -> dict[str, Any]:
    """Batch throughput: ``workers`` processes, each with its own zygote, grading at once."""
    import multiprocessing as mp

    ctx = mp.get_context("spawn")  # never fork a torch-loaded process
    barrier, queue = ctx.Barrier(workers), ctx.Queue()
    procs = [ctx.Process(target=_parallel_worker, args=(exercise.id, source, n, barrier, queue))
             for _ in range(workers)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=600) for _ in procs]
    for p in procs:
        p.join()
    start = min(r[0] for r in results)
    end = max(r[1] for r in results)
    if any(s != exercise.max_score for r in results for s in r[2]):
        raise SystemExit("parallel grading did not give full marks")
    return {"workers": workers, "n": n * workers,
            "throughput_per_s": round(n * workers / (end - start), 2)}


def bench_baseline(exercise_id: str, source_path: Path, n: int) -> dict[str, float]:
    times = []
    cmd = [sys.executable, str(Path(__file__).resolve()), "--_baseline-worker",
           "--exercise", exercise_id, "--source", str(source_path)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    for _ in range(n):
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env)
        times.append(time.perf_counter() - t0)
        if proc.returncode != 0:
            raise SystemExit(f"baseline worker failed:\n{proc.stderr}")
        got = json.loads(proc.stdout.strip().splitlines()[-1])
        if got["score"] != got["max_score"]:
            raise SystemExit(f"baseline worker scored {got}")
    return _ms(times)


# -- reporting ---------------------------------------------------------------------------

def machine() -> dict[str, Any]:
    import torch

    return {"nproc": os.cpu_count(), "affinity": len(os.sched_getaffinity(0)),
            "cpu": platform.processor() or platform.machine(),
            "python": platform.python_version(), "torch": torch.__version__,
            "torch_threads": torch.get_num_threads()}


def print_table(fig: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    m = fig["machine"]
    table = Table(title=f"grading cost: {fig['exercise']} ({fig['cases']} cases, "
                        f"{fig['tensors']} tensors; solution {fig['source']})")
    for col, just in (("what", "left"), ("runs", "right"), ("median ms", "right"),
                      ("p95 ms", "right"), ("notes", "left")):
        table.add_column(col, justify=just, no_wrap=col != "notes")
    r, s, sb, b = fig["reference"], fig["student"], fig["sandboxed"], fig["baseline"]
    table.add_row("1. in-process reference: forward + autograd, all cases",
                  str(r["n"]), f"{r['median_ms']:.2f}", f"{r['p95_ms']:.2f}", "")
    table.add_row("2. in-process student backward + compare, all cases",
                  str(s["n"]), f"{s['median_ms']:.2f}", f"{s['p95_ms']:.2f}", "")
    table.add_row("3. sandboxed grade() per submission, warm zygote",
                  str(sb["n"]), f"{sb['median_ms']:.2f}", f"{sb['p95_ms']:.2f}",
                  f"p50 {sb['p50_ms']:.2f} ms; {sb['throughput_per_s']:.1f} submissions/s; "
                  f"zygote start {sb['zygote_startup_ms']:.0f} ms once")
    table.add_row("4. baseline: fresh python per submission, no sandbox",
                  str(b["n"]), f"{b['median_ms']:.1f}", f"{b['p95_ms']:.1f}",
                  f"{1000 / b['median_ms']:.2f} submissions/s")
    pb = fig["parallel"]
    table.add_row(f"5. batch: {pb['workers']} grading processes, one zygote each",
                  str(pb["n"]), "", "", f"{pb['throughput_per_s']:.1f} submissions/s")
    console = Console() if sys.stdout.isatty() else Console(width=140)
    console.print(table)
    budgets = Table(title="budgets (issue 3, ex1 on this 2-core machine)")
    for col in ("budget", "measured", "verdict"):
        budgets.add_column(col)
    for name, measured, ok in budget_rows(fig):
        budgets.add_row(name, measured, "[green]met[/green]" if ok else "[red]MISSED[/red]")
    console.print(budgets)
    console.print(f"baseline / sandboxed (median): [bold]{fig['speedup']:.1f}×[/bold] — "
                  "the warm zygote grades that many times faster than an interpreter per "
                  "submission")
    console.print(f"machine: nproc {m['nproc']} (affinity {m['affinity']}), {m['cpu']}, "
                  f"Python {m['python']}, torch {m['torch']} "
                  f"(bench process threads {m['torch_threads']}; sandbox children use 1)")


def budget_rows(fig: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """Return (budget, measured, met?) for the issue's performance budgets."""
    sb, pb = fig["sandboxed"], fig["parallel"]
    return [
        ("sandboxed latency p50 ≤ 40 ms", f"{sb['p50_ms']:.1f} ms", sb["p50_ms"] <= 40),
        ("batch throughput ≥ 50 submissions/s (both cores)",
         f"{pb['throughput_per_s']:.1f}/s", pb["throughput_per_s"] >= 50),
        ("≥ 40× faster than a fresh process", f"{fig['speedup']:.1f}×", fig["speedup"] >= 40),
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--exercise", default="makemore4/ex1")
    parser.add_argument("--source", type=Path, default=None,
                        help="a correct solution (default tests/corpus/<exercise>/lecture.py)")
    parser.add_argument("--n", type=int, default=30, help="runs/submissions for rows 1-3")
    parser.add_argument("--baseline-n", type=int, default=3, help="fresh-interpreter runs")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads in this process (sandbox children use 1)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2,
                        help="grading processes for the batch-throughput row")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--_baseline-worker", dest="baseline_worker", action="store_true",
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    source_path = args.source or ROOT / "tests" / "corpus" / args.exercise / "lecture.py"

    if args.baseline_worker:
        baseline_worker(args.exercise, str(source_path))
        return
    if args.n < 1 or args.baseline_n < 1:
        parser.error("--n and --baseline-n must be at least 1")

    import torch

    from grader import get_exercise

    torch.set_num_threads(args.threads)
    exercise = get_exercise(args.exercise)
    source = source_path.read_text()
    fig: dict[str, Any] = {
        "exercise": exercise.id,
        "source": str(source_path.relative_to(ROOT) if source_path.is_relative_to(ROOT)
                      else source_path),
        "cases": len(exercise.case_specs), "tensors": len(exercise.graded),
        "machine": machine(),
    }
    fig["reference"] = bench_reference(exercise, args.n)
    fig["student"] = bench_student(exercise, source, args.n)
    fig["sandboxed"] = bench_sandbox(exercise, source, args.n)
    fig["parallel"] = bench_parallel(exercise, source, args.n * 2, args.workers)
    fig["baseline"] = bench_baseline(exercise.id, source_path, args.baseline_n)
    fig["speedup"] = round(fig["baseline"]["median_ms"] / fig["sandboxed"]["median_ms"], 2)
    if args.json:
        print(json.dumps(fig, indent=2))
    else:
        print_table(fig)


if __name__ == "__main__":
    main()

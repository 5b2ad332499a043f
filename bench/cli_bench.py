"""What the ``backprop`` commands cost a user, as ratios of ``python -c "import torch"``.

One command, one run, one table:

    .venv/bin/python bench/cli_bench.py            # 5 rounds, ~2–3 min on 2 cores
    .venv/bin/python bench/cli_bench.py --rounds 3 --no-service

Every figure is the median wall time of a few runs, divided by the median of
``python -c "import torch"`` measured **in the same run** (interleaved: each round runs the
baseline and every command once, so all of them see the same machine). Rows:

- ``backprop --help``, ``backprop exercises``, ``backprop user add`` (a new e-mail each run,
  after an untimed first run that creates the database and starts the admin commands'
  preloader, as a user's first command does): budget ≤ 0.15× import torch.
- ``backprop check --no-daemon`` (a cold sandbox in process, today's old default) and the warm
  ``backprop check`` (the local daemon already up): the budget is warm check ≤ 2× grading
  alone.
- grading alone: ``grade()`` of the same file on an already-warm ``Sandbox`` in this process,
  wall clock around the call — what no check can avoid.
- stored→stored on Redis ≤ 1.35× sandboxed grade, from ``bench/service_bench.py``'s
  ``stored_to_stored()`` when it is there (a row says "not measured" otherwise).

All of it on a temporary ``BACKPROP_HOME``; the daemon it starts is stopped at the end.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
BACKPROP = str(Path(sys.executable).with_name("backprop"))
LECTURE = ROOT / "tests/corpus/makemore4/ex1/lecture.py"
EXERCISE = "makemore4/ex1"


def _timed(argv: list[str], env: dict[str, str]) -> float:
    """Run ``argv`` to completion and return its wall time in ms (it must succeed)."""
    start = time.perf_counter()
    out = subprocess.run(argv, env=env, capture_output=True, stdin=subprocess.DEVNULL,
                         timeout=600)
    took = (time.perf_counter() - start) * 1000
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[-4:])} failed: {out.stderr.decode()[-500:]}")
    return took


def measure(rounds: int, service: bool) -> dict[str, object]:
    """Return every row's samples (ms) and the stored→stored figures, from one run."""
    from cli import daemon
    from grader import get_exercise, grade
    from grader.sandbox import Sandbox

    tmp = tempfile.mkdtemp(prefix="bench-cli-", dir="/tmp")  # short: a unix socket path
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", daemon.IDLE_ENV)}
    env["BACKPROP_HOME"] = os.environ["BACKPROP_HOME"] = str(Path(tmp) / "home")
    check = [BACKPROP, "check", str(LECTURE), "-e", EXERCISE]
    users = iter(range(10**6))
    rows: dict[str, Callable[[], float]] = {
        "import torch": lambda: _timed([sys.executable, "-c", "import torch"], env),
        "backprop --help": lambda: _timed([BACKPROP, "--help"], env),
        "backprop exercises": lambda: _timed([BACKPROP, "exercises"], env),
        "backprop user add": lambda: _timed(
            [BACKPROP, "user", "add", f"u{next(users)}@bench.org", "--role", "student"], env),
        "check --no-daemon (cold)": lambda: _timed([*check, "--no-daemon"], env),
        "check (warm daemon)": lambda: _timed(check, env),
    }
    samples: dict[str, list[float]] = {name: [] for name in rows}
    try:
        for name in ("backprop user add", "check (warm daemon)"):  # the database, the daemon
            rows[name]()
        # The first admin command ran cold and started the preloader: time the warm ones.
        deadline = time.monotonic() + 60
        while not (Path(env["BACKPROP_HOME"]) / "run" / "admin.sock").exists() \
                and time.monotonic() < deadline:
            time.sleep(0.1)
        source = LECTURE.read_bytes()
        with Sandbox() as sandbox:
            sandbox.ensure_ready()
            exercise = get_exercise(EXERCISE)
            from grader.instance import secret_key

            secret = secret_key().encode()

            def alone() -> float:
                start = time.perf_counter()
                result = grade(exercise, source, sandbox=sandbox, student="local",
                               secret=secret)
                assert result.score == result.max_score, result.message
                return (time.perf_counter() - start) * 1000

            alone()  # warm-up
            samples["grading alone (warm Sandbox)"] = []
            for r in range(rounds):
                print(f"round {r + 1}/{rounds}", file=sys.stderr)
                for name, run in rows.items():
                    samples[name].append(run())
                samples["grading alone (warm Sandbox)"].append(alone())
        stored: dict[str, object] | str = "not measured (--no-service)"
        if service:
            stored = _stored_to_stored()
        return {"samples": samples, "stored": stored}
    finally:
        daemon.stop(daemon.paths(Path(env["BACKPROP_HOME"])))
        from cli import preload

        preload.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def _stored_to_stored() -> dict[str, object] | str:
    """Call ``bench/service_bench.py``'s ``stored_to_stored()``; a reason if it cannot."""
    try:
        sys.path.insert(0, str(ROOT / "bench"))
        import service_bench

        figures = service_bench.stored_to_stored(samples=5)
        return {"stored": float(figures["stored_p50_ms"]),
                "grade": float(figures["grade_p50_ms"])}
    except Exception as exc:  # a missing or failing helper is a row, not a crash
        return f"not measured ({type(exc).__name__}: {exc})"


def report(figures: dict[str, object]) -> None:
    """Print the one table: medians, ratios to import torch, budgets and verdicts."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    samples: dict[str, list[float]] = figures["samples"]  # type: ignore[assignment]
    med = {name: statistics.median(values) for name, values in samples.items()}
    torch_ms = med["import torch"]
    alone = med["grading alone (warm Sandbox)"]
    runs = len(samples["import torch"])
    table = Table(title=f"backprop commands vs python -c \"import torch\" "
                        f"({torch_ms:.0f} ms, median of {runs}), one run")
    for column in ("what", "median ms", "× import torch", "budget", "measured", "verdict"):
        table.add_column(column, justify="left" if column in ("what", "budget") else "right")

    def verdict(value: float, limit: float) -> str:
        return "[green]met[/green]" if value <= limit else "[bold red]missed[/bold red]"

    for name, ms in med.items():
        ratio = ms / torch_ms
        budget = measured = mark = ""
        if name in ("backprop --help", "backprop exercises", "backprop user add"):
            budget, measured, mark = "≤ 0.15× import torch", f"{ratio:.2f}×", \
                verdict(ratio, 0.15)
        elif name == "check (warm daemon)":
            budget, measured, mark = "≤ 2× grading alone", f"{ms / alone:.2f}×", \
                verdict(ms / alone, 2.0)
        elif name == "check --no-daemon (cold)":
            measured = f"warm is {ms / med['check (warm daemon)']:.1f}× faster"
        table.add_row(name, f"{ms:.0f}", f"{ratio:.2f}×", budget, measured, mark)
    stored = figures["stored"]
    if isinstance(stored, dict):
        ratio = stored["stored"] / stored["grade"]
        table.add_row("stored→stored on Redis (service_bench)", f"{stored['stored']:.0f}",
                      f"{stored['stored'] / torch_ms:.2f}×", "≤ 1.35× sandboxed grade",
                      f"{ratio:.2f}× (grade {stored['grade']:.0f} ms)", verdict(ratio, 1.35))
    else:
        table.add_row("stored→stored on Redis (service_bench)", "—", "—",
                      "≤ 1.35× sandboxed grade", escape(str(stored)), "[yellow]—[/yellow]")
    console = Console()
    if not console.is_terminal:
        console = Console(width=140)  # a pipe or a log file: no wrapped cells
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="runs of each row (median)")
    parser.add_argument("--no-service", action="store_true",
                        help="skip the stored→stored row (it starts a whole service)")
    args = parser.parse_args()
    report(measure(args.rounds, not args.no_service))


if __name__ == "__main__":
    main()

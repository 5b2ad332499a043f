"""Benchmark: local ``backprop batch`` throughput against the in-process grading rate.

    .venv/bin/python bench/batch_bench.py                  # 500 ex1 files, one sandbox per core
    .venv/bin/python bench/batch_bench.py --files 100 --jobs 1

Why: the batch budget of the issue is stated relative to what the machine can do at all.
Grading one file has an irreducible part — the forward pass, autograd's reference gradients,
the student's ``backward`` and the judge's comparison — and everything else that local batch
adds (CLI and torch start-up, one warm zygote per core, a forked and confined child per file,
the wire, diagnosis, CSV) is overhead. So this measures, in the same run:

1. **in-process rate per core** of makemore4/ex1: for each file, exactly what ``grade()``
   computes on the trusted side — ``exercise.cases(student, secret)``, per case
   ``exercise.forward``, ``exercise.student_inputs`` and ``exercise.reference`` — plus the
   solution's ``backward(t)`` exec'd in this process (``t`` is the child's read-only
   :class:`~grader.sandbox.child.Namespace` of the student inputs, called under
   ``torch.no_grad()`` as the child does) and :func:`grader.judge.compare` of every graded
   tensor; no sandbox, no diagnosis, one torch thread. Each iteration is a new student name
   (``s0000`` …), so the public case changes as in a batch. Run in a loop for ``--seconds``.
   The correct solution (``tests/corpus/makemore4/ex1/lecture.py``) is the budget's basis;
   the same rate over the batch's own mix of files is shown for reference.
2. **local batch**: ``--files`` copies of ``tests/corpus/makemore4/ex1/*.py`` (correct and
   buggy, round-robin, named ``s0000.py`` …) in a temporary folder, graded by
   ``.venv/bin/backprop batch DIR -e makemore4/ex1 -o out.csv -j JOBS`` as a subprocess with
   a temporary ``BACKPROP_HOME`` (``SECRET_KEY`` set to the in-process rows' secret, so
   both grade the same cases run after run), timed wall-clock from spawn to exit (nothing
   subtracted);
   then the same with ``--no-diagnosis``. The start-up cost is shown separately: the same
   command on a 2-file folder. The CSV is checked (one row per file, correct files at full
   marks). Where the CPU goes: every process of each run is sampled from ``/proc``
   (:class:`TreeCPU`: the command, its grading processes, the zygotes, and the sandboxed
   children through the zygotes' reaped-children times); the 2-file run is subtracted, so
   the table shows CPU milliseconds per file by process, and the rate that allows on JOBS
   cores (the batch is CPU-bound).
3. **through the service** (bench/service_bench.py): ``backprop serve -c JOBS`` on a fresh
   instance (SQLite, embedded Redis), a roster of the same students, the same files uploaded
   as one zip through the API and followed until done; then the latency of a live
   submission (API POST → done, median of 3) on an idle queue and while a second batch of
   the same size waits on the bulk queue (``--no-service`` skips it).
4. **budgets**: local batch rate ≥ 60 % of (in-process rate × JOBS); batch through the
   service ≥ 70 % of local batch; live latency during a batch ≤ 3× idle.

``python -c "import torch"`` (median of 3) is timed too, for scale across machines. The bench
always exits 0 whatever the numbers (2 on bad arguments): no test asserts any of them.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for _p in (ROOT, ROOT / "bench"):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

from grade_bench import judge_outputs, load_backward  # noqa: E402  (bench/ is on sys.path just above)

EXERCISE = "makemore4/ex1"
CORPUS = ROOT / "tests" / "corpus" / "makemore4" / "ex1"
BACKPROP = ROOT / ".venv" / "bin" / "backprop"
SECRET = b"batch-bench-secret"
BUDGET_LOCAL = 0.60
#: Through the service ≥ 70 % of the local batch rate; live latency during a batch ≤ 3× idle.
BUDGET_SERVICE, BUDGET_LIVE = 0.70, 3.0


# -- 1. in process -------------------------------------------------------------------------

def grade_file_in_process(exercise, backward, student: str, secret: bytes) -> float:
    """Grade one file in this process as ``grade()`` does on both sides; return its score.

    Same order as :func:`grader.grade._run_cases`: forward, student inputs, reference, the
    student's ``backward(t)``, comparison; then :func:`grader.judge.combine` per tensor. A
    ``backward`` that raises scores the case as missing (the sandbox reports it so too).
    """
    import torch

    from grader.sandbox.child import Namespace

    def runs():
        for case in exercise.cases(student, secret):
            fwd = exercise.forward(case)
            inputs = exercise.student_inputs(fwd)
            ref = exercise.reference(fwd)
            try:
                with torch.no_grad():
                    out = backward(Namespace(inputs))
            except Exception as exc:  # noqa: BLE001 — a buggy corpus file may raise
                out = exc
            yield case, ref, out

    return judge_outputs(exercise, runs())


def in_process_rate(exercise, backwards: list, seconds: float) -> dict[str, Any]:
    """Grade files in a loop for ``seconds`` (round-robin over ``backwards``); files/s."""
    for i, backward in enumerate(backwards):  # warm-up: one file of each kind
        grade_file_in_process(exercise, backward, f"warm{i}", SECRET)
    n, scores = 0, []
    cpu0, t0 = time.process_time(), time.perf_counter()
    while True:
        scores.append(grade_file_in_process(exercise, backwards[n % len(backwards)],
                                            f"s{n:04d}", SECRET))
        n += 1
        elapsed = time.perf_counter() - t0
        if elapsed >= seconds:
            break
    cpu = time.process_time() - cpu0
    return {"n": n, "seconds": elapsed, "rate": n / elapsed, "ms_per_file": elapsed / n * 1000,
            "cpu_share": cpu / elapsed, "scores": scores}


# -- 2. local batch ------------------------------------------------------------------------

def corpus_files() -> list[Path]:
    return sorted(CORPUS.glob("*.py"))


def is_correct(path: Path) -> bool:
    """Return whether a corpus file is marked ``# corpus: correct`` (else a planted bug)."""
    head = path.read_text().splitlines()[:5]
    return any(line.strip().startswith("# corpus:") and "bug" not in line for line in head)


def make_folder(folder: Path, n: int) -> dict[str, bool]:
    """Copy the corpus round-robin into ``folder`` as s0000.py …; return stem → correct?"""
    files = corpus_files()
    folder.mkdir(parents=True, exist_ok=True)
    kinds = {}
    for i in range(n):
        src = files[i % len(files)]
        shutil.copyfile(src, folder / f"s{i:04d}.py")
        kinds[f"s{i:04d}"] = is_correct(src)
    return kinds


def run_batch(folder: Path, kinds: dict[str, bool], jobs: int, home: Path,
              no_diagnosis: bool = False) -> dict[str, Any]:
    """Run ``backprop batch`` on ``folder`` as a subprocess; wall-clock time and CSV check."""
    out = folder.parent / f"{folder.name}{'-nodiag' if no_diagnosis else ''}.csv"
    cmd = [str(BACKPROP), "batch", str(folder), "-e", EXERCISE, "-o", str(out), "-j", str(jobs)]
    if no_diagnosis:
        cmd.append("--no-diagnosis")
    # The in-process rows' secret: the same cases for the same file names, run after run.
    env = {**os.environ, "BACKPROP_HOME": str(home), "SECRET_KEY": SECRET.decode()}
    t0 = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out_f, tempfile.TemporaryFile("w+") as err_f:
        proc = subprocess.Popen(cmd, stdout=out_f, stderr=err_f, text=True, cwd=ROOT, env=env)
        cpu = TreeCPU(proc.pid)
        while proc.poll() is None:
            cpu.sample()
            if time.perf_counter() - t0 > 3600:
                proc.kill()
            time.sleep(SAMPLE_SECONDS)
        wall = time.perf_counter() - t0
        err_f.seek(0)
        stderr = err_f.read()
    res: dict[str, Any] = {"files": len(kinds), "wall": wall, "rate": len(kinds) / wall,
                           "rc": proc.returncode, "problem": "", "cpu": cpu.totals()}
    if proc.returncode != 0 or not out.exists():
        res["problem"] = f"exit {proc.returncode}: {stderr.strip()[-300:]}"
        return res
    with open(out, newline="") as f:
        rows = list(csv.DictReader(f))
    res["statuses"] = {}
    for r in rows:
        res["statuses"][r["status"]] = res["statuses"].get(r["status"], 0) + 1
    full = {r["student"] for r in rows if float(r["score"]) == float(r["max_score"])}
    by_student = {r["student"]: r for r in rows}
    correct = {s for s, ok in kinds.items() if ok}
    problems = []
    if len(rows) != len(kinds):
        problems.append(f"{len(rows)} rows for {len(kinds)} files")
    for label, odd in (("correct files below full marks", sorted(correct - full)),
                       ("buggy files at full marks", sorted(full - correct))):
        if odd:
            first = by_student.get(odd[0], {})
            problems.append(f"{len(odd)} {label} (first {odd[0]}: {first.get('status')}, "
                            f"{first.get('score')}: {first.get('message', '')[:160]})")
    res["problem"] = "; ".join(problems)
    return res


#: How often the batch's process tree is sampled (see :class:`TreeCPU`).
SAMPLE_SECONDS = 0.25
#: CPU roles of a batch's process tree, in report order.
ROLES = ("main", "grading", "zygote", "children")
ROLE_LABELS = {"main": "main process (files, CSV, progress)",
               "grading": "grading processes (reference, compare, diagnosis, wire)",
               "zygote": "zygotes (fork a spare per file, reap, sweep)",
               "children": "sandboxed children (confine, the submission, exit)"}


class TreeCPU:
    """CPU seconds of a ``backprop batch`` process tree by role, sampled from ``/proc``.

    Roles: the command's own process (``main``); the processes it forks to grade
    (``grading``: none in a thread-based batch); each sandbox's ``zygote`` (its own CPU);
    and the sandboxed ``children`` — one job per file plus the spare forked ahead of it —
    counted through the zygote's reaped-children times (``cutime + cstime``), since they
    live for milliseconds. The last sample before a process exits is kept, so up to
    :data:`SAMPLE_SECONDS` of each process's activity is missed (well under 1 % of a batch).
    """

    def __init__(self, root: int) -> None:
        self.root = root
        self.tick = os.sysconf("SC_CLK_TCK")
        self._role: dict[int, str | None] = {}
        self.last: dict[int, tuple[str, float, float]] = {}

    def _cmdline(self, pid: int) -> str:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def sample(self) -> None:
        stats: dict[int, tuple[int, list[int]]] = {}
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                with open(f"/proc/{entry.name}/stat", "rb") as f:
                    fields = f.read().rpartition(b")")[2].split()
            except OSError:
                continue
            stats[int(entry.name)] = (int(fields[1]), [int(x) for x in fields[11:15]])
        kids: dict[int, list[int]] = {}
        for pid, (ppid, _) in stats.items():
            kids.setdefault(ppid, []).append(pid)
        order, i = [self.root] if self.root in stats else [], 0
        while i < len(order):  # parents before their children: a fork is told by its parent
            order += kids.get(order[i], [])
            i += 1
        for pid in order:
            ppid, (utime, stime, cutime, cstime) = stats[pid]
            if pid not in self._role:
                self._role[pid] = self._classify(pid, ppid)
            role = self._role[pid]
            if role is not None:
                self.last[pid] = (role, (utime + stime) / self.tick,
                                  (cutime + cstime) / self.tick)

    def _classify(self, pid: int, ppid: int) -> str | None:
        if pid == self.root:
            return "main"
        cmd = self._cmdline(pid)
        if "grader.sandbox.zygote" in cmd:
            # the zygote itself, not one of its forks (they share its command line)
            return None if self._role.get(ppid) == "zygote" else "zygote"
        if ppid == self.root and "bwrap" not in cmd.split("\0", 1)[0]:
            return "grading"
        return None

    def totals(self) -> dict[str, float]:
        out = dict.fromkeys(ROLES, 0.0)
        for role, own, reaped in self.last.values():
            out[role] += own
            if role == "zygote":
                out["children"] += reaped
        return out


def import_torch_seconds() -> float:
    """Median of 3 ``python -c "import torch"`` (after one untimed run to warm the cache)."""
    cmd = [sys.executable, "-c", "import torch"]
    subprocess.run(cmd, capture_output=True)
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        subprocess.run(cmd, capture_output=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


# -- report --------------------------------------------------------------------------------

def print_report(fig: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console() if sys.stdout.isatty() else Console(width=150)
    jobs = fig["jobs"]
    table = Table(title=f"batch throughput: {EXERCISE}, {fig['files']} files "
                        f"({fig['n_correct']} correct, {fig['files'] - fig['n_correct']} buggy; "
                        f"round-robin over {fig['corpus']} corpus files), -j {jobs}")
    for col, just in (("what", "left"), ("files", "right"), ("wall s", "right"),
                      ("files/s", "right"), ("ms/file", "right"), ("notes", "left")):
        table.add_column(col, justify=just, no_wrap=col != "notes")
    ip, mix = fig["inproc"], fig["inproc_mix"]
    table.add_row("1. in process, lecture.py, 1 core (basis)", str(ip["n"]),
                  f"{ip['seconds']:.1f}", f"{ip['rate']:.1f}", f"{ip['ms_per_file']:.1f}",
                  f"forward + reference + backward + compare, 4 cases, 1 torch thread; "
                  f"CPU/wall {ip['cpu_share']:.2f}; × {jobs} cores = "
                  f"{ip['rate'] * jobs:.1f} files/s"
                  + (f"; [red]{len(ip['below_full'])} below full marks "
                     f"({', '.join(ip['below_full'][:3])})[/red]" if ip["below_full"] else ""))
    table.add_row("   in process, the batch's mix, 1 core", str(mix["n"]),
                  f"{mix['seconds']:.1f}", f"{mix['rate']:.1f}", f"{mix['ms_per_file']:.1f}",
                  f"for reference (same files as row 2); × {jobs} = {mix['rate'] * jobs:.1f}")
    for key, label in (("startup", "start-up: backprop batch on 2 files"),
                       ("batch", "2. backprop batch (diagnosis on)"),
                       ("nodiag", "   backprop batch --no-diagnosis")):
        b = fig[key]
        note = ", ".join(f"{k} {v}" for k, v in sorted(b.get("statuses", {}).items()))
        if key != "startup" and "statuses" in b:
            note += (f"; start-up is {fig['startup']['wall'] / b['wall']:.0%} of the wall "
                     f"time; {b['rate'] / jobs:.1f} files/s per core")
        if b["problem"]:
            note += f"; [red]{escape(b['problem'])}[/red]"
        table.add_row(label, str(b["files"]), f"{b['wall']:.2f}",
                      f"{b['rate']:.1f}" if key != "startup" else "",
                      f"{b['wall'] / b['files'] * 1000:.1f}" if key != "startup" else "",
                      note)
    svc = fig.get("service")
    if svc is not None:
        table.add_row("3. through the service (backprop serve -c 2)", str(svc["n"]),
                      f"{svc['n'] / svc['rate']:.2f}", f"{svc['rate']:.1f}",
                      f"{1000 / svc['rate']:.1f}",
                      "zip → POST /api/v1/courses/CODE/batches → roster match → bulk queue → "
                      "2 grading processes → progress polled until done (SQLite, embedded "
                      "Redis)")
        table.add_row("   live submission, idle queue", "3", "", "",
                      f"{svc['live_idle_ms']:.0f}", "POST /api/v1/submissions → done, median")
        table.add_row("   live submission during a batch", "3", "", "",
                      f"{svc['live_busy_ms']:.0f}",
                      "the same, while a second batch of the same size waits on the bulk queue")
    table.add_row('python -c "import torch" (median of 3)', "", f"{fig['torch_s']:.2f}",
                  "", "", "for scale across machines")
    console.print(table)

    small = fig["startup"].get("cpu")
    if small:
        n = fig["files"]
        where = Table(title=f"where a batched file's CPU goes: ({n}-file run − start-up run) "
                            f"/ {n - 2}, ms per file, every process of the batch (from /proc)")
        where.add_column("process")
        for label in ("diagnosis on", "--no-diagnosis"):
            where.add_column(label, justify="right")
        per_file = {}
        for key in ("batch", "nodiag"):
            big = fig[key].get("cpu") or {}
            per_file[key] = {r: (big.get(r, 0.0) - small.get(r, 0.0)) / (n - 2) * 1000
                             for r in ROLES}
        for role in ROLES:
            where.add_row(ROLE_LABELS[role], *[f"{per_file[k][role]:.1f}"
                                               for k in ("batch", "nodiag")])
        totals = {k: sum(v.values()) for k, v in per_file.items()}
        where.add_row("total", *[f"{totals[k]:.1f}" for k in ("batch", "nodiag")])
        where.add_row(f"→ at most files/s on {jobs} cores (CPU-bound)",
                      *[f"{jobs * 1000 / totals[k]:.1f}" if totals[k] > 0 else "—"
                        for k in ("batch", "nodiag")])
        where.add_row("in process, the batch's mix (for scale)", f"{1000 / mix['rate']:.1f}", "")
        console.print(where)

    budgets = Table(title="budgets (issue: batch throughput), measured in this run")
    for col in ("budget", "measured", "verdict"):
        budgets.add_column(col)
    basis = ip["rate"] * jobs
    for key, label in (("batch", "local batch ≥ 60 % of in-process × cores"),
                       ("nodiag", "  same, --no-diagnosis (for reference)")):
        b = fig[key]
        ratio = b["rate"] / basis
        ok = ratio >= BUDGET_LOCAL and b["rc"] == 0
        verdict = "[green]met[/green]" if ok else "[red]MISSED[/red]"
        budgets.add_row(label, f"{ratio:.0%} ({b['rate']:.1f} / {basis:.1f} files/s)",
                        verdict if key == "batch" else ("met" if ok else "missed"))
    svc = fig.get("service")
    if svc is None:
        budgets.add_row("batch through the service ≥ 70 % of local batch", "—",
                        "skipped (--no-service)")
    else:
        ratio = svc["rate"] / fig["batch"]["rate"]
        budgets.add_row("batch through the service ≥ 70 % of local batch",
                        f"{ratio:.0%} ({svc['rate']:.1f} / {fig['batch']['rate']:.1f} files/s)",
                        "[green]met[/green]" if ratio >= BUDGET_SERVICE else "[red]MISSED[/red]")
        ratio = svc["live_busy_ms"] / svc["live_idle_ms"]
        budgets.add_row("live latency during a batch ≤ 3× idle",
                        f"{ratio:.1f}× ({svc['live_busy_ms']:.0f} / {svc['live_idle_ms']:.0f} "
                        f"ms, median of 3; {svc['batch_left_after_live']} of the batch still "
                        "waiting after the last live one)",
                        "[green]met[/green]" if ratio <= BUDGET_LIVE else "[red]MISSED[/red]")
    console.print(budgets)
    m = fig["machine"]
    console.print(f"machine: nproc {m['nproc']} (affinity {m['affinity']}), load average "
                  f"{m['load_before']} before, {m['load_after']} after; torch {m['torch']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=500, help="ex1 files in the batch")
    parser.add_argument("--jobs", type=int, default=None,
                        help="backprop batch -j (default: the cores this process may use)")
    parser.add_argument("--seconds", type=float, default=5.0,
                        help="duration of each in-process loop")
    parser.add_argument("--no-service", action="store_true",
                        help="skip the rows through the service (backprop serve)")
    args = parser.parse_args(argv)
    if args.files < 2:
        parser.error("--files must be at least 2")
    if args.jobs is not None and not 1 <= args.jobs <= 64:
        parser.error("--jobs must be between 1 and 64")
    if args.seconds <= 0:
        parser.error("--seconds must be positive")
    jobs = args.jobs or len(os.sched_getaffinity(0))

    import torch

    from grader import get_exercise

    torch.set_num_threads(1)
    exercise = get_exercise(EXERCISE)
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    fig: dict[str, Any] = {"files": args.files, "jobs": jobs, "corpus": len(corpus_files())}
    fig["torch_s"] = import_torch_seconds()

    lecture = load_backward((CORPUS / "lecture.py").read_text())
    fig["inproc"] = in_process_rate(exercise, [lecture], args.seconds)
    fig["inproc"]["below_full"] = [f"s{i:04d}" for i, s in enumerate(fig["inproc"]["scores"])
                                   if s != exercise.max_score]
    fig["inproc_mix"] = in_process_rate(
        exercise, [load_backward(p.read_text()) for p in corpus_files()], args.seconds)

    with tempfile.TemporaryDirectory(prefix="batch-bench-") as tmp:
        tmp_path = Path(tmp)
        home = tmp_path / "home"
        small = make_folder(tmp_path / "two", 2)
        kinds = make_folder(tmp_path / "files", args.files)
        fig["n_correct"] = sum(kinds.values())
        fig["startup"] = run_batch(tmp_path / "two", small, jobs, home)
        fig["batch"] = run_batch(tmp_path / "files", kinds, jobs, home)
        fig["nodiag"] = run_batch(tmp_path / "files", kinds, jobs, home, no_diagnosis=True)
        if not args.no_service:
            from service_bench import measure

            files = [(f"{stem}@bench.org", (tmp_path / "files" / f"{stem}.py").read_text())
                     for stem in sorted(kinds)]
            fig["service"] = measure(files, EXERCISE, (CORPUS / "lecture.py").read_text(),
                                     concurrency=jobs)

    fig["machine"] = {"nproc": os.cpu_count(), "affinity": len(os.sched_getaffinity(0)),
                      "torch": torch.__version__, "load_before": load,
                      "load_after": " ".join(f"{x:.2f}" for x in os.getloadavg())}
    print_report(fig)
    return 0


if __name__ == "__main__":
    sys.exit(main())

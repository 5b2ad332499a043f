"""What the guards cost per submission: install() once in the child plus problems() after the
import and after each case, on makemore4/ex1 (4 cases, the lecture's solution). Measured the
way the child pays it: the zygote computes the plan and applies the replacements when it
imports the harness (guard._apply, here called by hand), each child is a fork() that arms the
guards. The budget is 2 ms. Run with ``-s`` to see the numbers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = r"""
import json, linecache, os, sys, time
import torch
torch.set_num_threads(1)
import grader.sandbox.child   # the zygote's import: computes the guard's plan
from grader import get_exercise
from grader.sandbox import guard
from grader.sandbox.child import Namespace

ex = get_exercise("makemore4/ex1")
src = open("tests/corpus/makemore4/ex1/lecture.py").read()
cases = [ex.student_inputs(ex.forward(c)) for c in ex.cases("bench", b"bench")]
guard._apply()   # what the zygote does when it imports the harness (no autograd after this)
r, w = os.pipe()
runs = []
for _ in range(5):
    pid = os.fork()
    if pid == 0:
        os.close(r)
        linecache.cache["submission.py"] = (len(src), None, src.splitlines(True), "submission.py")
        t0 = time.perf_counter()
        guard.install()
        t1 = time.perf_counter()
        ns = {"__name__": "submission"}
        with torch.no_grad():
            exec(compile(src, "submission.py", "exec"), ns)
        t2 = time.perf_counter()
        found = guard.problems(None)
        checks = time.perf_counter() - t2
        work = 0.0
        for inputs in cases:
            t = Namespace(inputs)
            t3 = time.perf_counter()
            with torch.no_grad():
                value = ns["backward"](t)
            t4 = time.perf_counter()
            found += guard.problems(value)
            t5 = time.perf_counter()
            checks += t5 - t4
            work += t4 - t3
        os.write(w, json.dumps({"install_ms": (t1 - t0) * 1e3, "problems_ms": checks * 1e3,
                                "backward_ms": work * 1e3, "found": found}).encode() + b"\n")
        os._exit(0)
    os.waitpid(pid, 0)
os.close(w)
print(os.read(r, 1 << 16).decode())
"""


def test_guard_overhead_per_submission() -> None:
    out = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True,
                         text=True, timeout=300, check=True).stdout
    runs = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert len(runs) == 5
    assert all(r["found"] == [] for r in runs), runs
    best = min(runs, key=lambda r: r["install_ms"] + r["problems_ms"])
    median = sorted(runs, key=lambda r: r["install_ms"] + r["problems_ms"])[2]
    print(f"\nguard overhead on ex1 (4 cases), best / median of 5 forked children: "
          f"install {best['install_ms']:.2f} / {median['install_ms']:.2f} ms, "
          f"problems() x5 {best['problems_ms']:.2f} / {median['problems_ms']:.2f} ms "
          f"(backward itself: {median['backward_ms']:.1f} ms)")
    assert best["install_ms"] + best["problems_ms"] <= 2.0, best
    assert median["install_ms"] + median["problems_ms"] <= 6.0, median

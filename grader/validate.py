"""Validate an exercise: its reference solution passes, its starter fails cleanly, and its
cases kill every mutant of the solution.

An exercise's cases are its whole test suite: a hidden case that keeps the public sizes
lets a hard-coded ``32`` through, an upstream gradient of all ones lets a missing transpose
through. Mutation testing makes that visible before students do: :mod:`grader.mutate`
plants the lecture's slips in the reference solution one at a time, and each mutant is
graded exactly as a student's file is (:func:`grader.grade.grade`, through the sandbox). A
mutant that still earns full marks *survives*: a slip this exercise cannot see.

Pure core (torch + stdlib): ``backprop validate`` (``cli/authoring.py``) draws the report.
"""

from __future__ import annotations

import contextlib
import queue
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from grader.exercise import Case, Exercise
from grader.grade import EXERCISE_FAULT, grade
from grader.mutate import OPERATORS, Mutant, MutateError, mutants, pragmas
from grader.result import GRADED, MISSING, GradeResult
from grader.sandbox import Sandbox

#: Who validation grades as, and the secret of its hidden cases: fixed, so two runs of
#: ``backprop validate`` see the same cases (any secret would do: every case is random).
STUDENT = "validate"
SECRET = b"backprop-validate"

KILLED, SURVIVED, EQUIVALENT = "killed", "survived", "equivalent"

#: Called after each mutant: ``progress(done, total)``.
Progress = Callable[[int, int], None]


def solution_path(exercise: Exercise) -> Path | None:
    """Return where the exercise's reference solution lives: ``solutions/<name>.py`` beside
    the module that defines it (``exercises/makemore4/solutions/ex1.py`` for
    ``makemore4/ex1``), whether or not the file exists; None for a class without a file.

    Solutions are never package data (``pyproject.toml`` ships only the starters): a
    submission runs in a sandbox that can read the installed packs' files, so an installed
    solution would be a student's to copy. They live in the source tree, for authors and CI.
    """
    module = sys.modules.get(type(exercise).__module__)
    origin = getattr(module, "__file__", None)
    if not origin:
        return None
    return Path(origin).parent / "solutions" / f"{exercise.id.rsplit('/', 1)[-1]}.py"


@dataclass
class MutantResult:
    """How one mutant fared: killed (and by what), survived, or declared equivalent."""

    op: str
    line: int
    description: str
    outcome: str
    #: What killed it (the first failing tensor or check, or the run's status), or the
    #: author's reason for a declared-equivalent one.
    detail: str = ""
    ms: float = 0.0
    #: The reason of the line's ``# validate: equivalent`` pragma, if it has one.
    declared: str | None = None


@dataclass
class Report:
    """What :func:`validate` found for one exercise and its solution."""

    exercise: str
    solution_ok: bool = False
    #: Why the solution does not pass (empty when it does).
    solution_problem: str = ""
    starter_ok: bool = False
    starter_problem: str = ""
    mutants: list[MutantResult] = field(default_factory=list)
    #: Wall time: grading the solution, the starter, all mutants, and everything.
    solution_ms: float = 0.0
    starter_ms: float = 0.0
    mutants_ms: float = 0.0
    total_ms: float = 0.0
    jobs: int = 1
    #: The lines of the solution that carry a ``# validate: equivalent`` pragma.
    pragma_lines: list[int] = field(default_factory=list)
    #: What else keeps the exercise from being valid (empty: nothing found): graded tensors
    #: built in another dtype than it declares, a solution that cannot be mutated.
    problem: str = ""

    @property
    def survivors(self) -> list[MutantResult]:
        return [m for m in self.mutants if m.outcome == SURVIVED]

    @property
    def ok(self) -> bool:
        """The solution passes, the starter fails cleanly and no mutant survives."""
        return self.solution_ok and self.starter_ok and not self.survivors \
            and not self.problem

    def stale_pragmas(self) -> list[int]:
        """Return the lines whose ``# validate: equivalent`` pragma is not needed: the line
        has no mutant, or every mutant of the line was killed anyway."""
        lines: dict[int, bool] = dict.fromkeys(self.pragma_lines, True)
        for m in self.mutants:
            if m.declared is not None:
                lines[m.line] = lines.get(m.line, True) and m.outcome == KILLED
        return sorted(line for line, stale in lines.items() if stale)

    def counts(self) -> dict[str, dict[str, int]]:
        """Return per operator (those with mutants, in :data:`OPERATORS` order) the number of
        mutants and how many were killed, survived or declared equivalent."""
        out: dict[str, dict[str, int]] = {}
        for op in OPERATORS:
            mine = [m for m in self.mutants if m.op == op]
            if mine:
                out[op] = {"mutants": len(mine), **{k: sum(m.outcome == k for m in mine)
                                                     for k in (KILLED, SURVIVED, EQUIVALENT)}}
        return out

    def totals(self) -> dict[str, int]:
        """Return the counts over all operators."""
        return {"mutants": len(self.mutants),
                **{k: sum(m.outcome == k for m in self.mutants)
                   for k in (KILLED, SURVIVED, EQUIVALENT)}}

    def ms_per_mutant(self) -> float:
        return self.mutants_ms / len(self.mutants) if self.mutants else 0.0

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(ok=self.ok, counts=self.counts(), totals=self.totals(),
                    stale_pragmas=self.stale_pragmas(),
                    ms_per_mutant=round(self.ms_per_mutant(), 1))
        return data


def validate(exercise: Exercise, solution: str, *, sandbox: Sandbox,
             progress: Progress | None = None, jobs: int = 1) -> Report:
    """Grade ``solution``, the exercise's starter and every mutant of the solution.

    Every run takes the students' road: :func:`grader.grade.grade` through ``sandbox``
    (diagnosis off for the mutants: only the verdict counts). The forward pass and reference
    gradients of each case are built once and shared by every mutant.

    :param jobs: sandboxes grading mutants at once (``sandbox`` plus ``jobs - 1`` started
        here and closed at the end); each costs a zygote with torch (~0.3 GB, seconds).
    """
    started = time.monotonic()
    report = Report(exercise.id, jobs=max(1, jobs))
    cached = _Cached(exercise)

    report.problem = _dtype_problem(cached)
    t0 = time.monotonic()
    # The solution and the starter with diagnosis (its words are the report's), on the
    # exercise itself: diagnosis works on a case's autograd graph, which the mutants share.
    result = grade(exercise, solution, sandbox=sandbox, student=STUDENT, secret=SECRET)
    report.solution_ms = _ms(t0)
    report.solution_problem = _solution_problem(result)
    report.solution_ok = not report.solution_problem

    t0 = time.monotonic()
    report.starter_problem = _starter_problem(exercise, sandbox)
    report.starter_ok = not report.starter_problem
    report.starter_ms = _ms(t0)

    if report.solution_ok:
        t0 = time.monotonic()
        try:
            planted = mutants(solution, sizes=public_sizes(cached))
        except MutateError as exc:
            planted = []
            report.problem = report.problem or str(exc)
        report.pragma_lines = sorted(pragmas(solution))
        report.mutants = _grade_mutants(cached, planted, sandbox, progress, report.jobs)
        report.mutants_ms = _ms(t0)
    report.total_ms = _ms(started)
    return report


def public_sizes(exercise: Exercise) -> dict[str, int | tuple[int, ...]]:
    """Return the public case's sizes by input name: python ints as they are, tensors by
    shape (what ``hardcoded_size`` mutants write in)."""
    case = exercise.cases(STUDENT, SECRET)[0]
    out: dict[str, int | tuple[int, ...]] = {}
    for name, value in exercise.student_inputs(exercise.forward(case)).items():
        if isinstance(value, torch.Tensor):
            out[name] = tuple(value.shape)
        elif type(value) is int:
            out[name] = value
    return out


def _grade_mutants(exercise: Exercise, planted: list[Mutant], sandbox: Sandbox,
                   progress: Progress | None, jobs: int) -> list[MutantResult]:
    """Grade every mutant, over ``jobs`` sandboxes.

    Mutants of a line declared equivalent (``# validate: equivalent — why``) are graded
    too: one that survives counts as *equivalent* (with the author's reason), one that is
    killed counts as killed. So a pragma never hides a mutant the cases do catch, and one
    that is no longer needed shows (:meth:`Report.stale_pragmas`).
    """
    results: list[MutantResult | None] = [None] * len(planted)
    todo: queue.Queue[int] = queue.Queue()
    for i in range(len(planted)):
        todo.put(i)
    total = len(planted)
    total_done = [total - todo.qsize()]
    lock = threading.Lock()
    if progress is not None:
        progress(total_done[0], total)

    failures: list[BaseException] = []

    def work(box: Sandbox) -> None:
        while not failures:
            try:
                i = todo.get_nowait()
            except queue.Empty:
                return
            try:
                results[i] = _grade_mutant(exercise, planted[i], box)
            except BaseException as exc:  # a sandbox failure: stop all, raise it below
                failures.append(exc)
                return
            with lock:
                total_done[0] += 1
                if progress is not None:
                    progress(total_done[0], total)

    extra = max(0, min(jobs, todo.qsize()) - 1)
    with contextlib.ExitStack() as stack:
        boxes = [sandbox] + [stack.enter_context(Sandbox()) for _ in range(extra)]
        threads = [threading.Thread(target=work, args=(box,), daemon=True) for box in boxes[1:]]
        for thread in threads:
            thread.start()
        work(sandbox)
        for thread in threads:
            thread.join()
    if failures:
        raise failures[0]
    return [r for r in results if r is not None]


def _grade_mutant(exercise: Exercise, mutant: Mutant, sandbox: Sandbox) -> MutantResult:
    """Grade one mutant: tensors first, the exercise's extra checks only if they all pass.

    Extra checks can cost far more than the tensors (ex4's training run: 50 SGD steps,
    ~10× the grading): most mutants are killed by a tensor already, and a survivor is
    graded again in full, so the verdict is the same as one full grading's.
    """
    t0 = time.monotonic()
    result = grade(_TensorsOnly(exercise), mutant.source, sandbox=sandbox, student=STUDENT,
                   secret=SECRET, diagnose=False)
    if result.status == GRADED and all(t.passed for t in result.tensors) \
            and exercise.check_points():
        result = grade(exercise, mutant.source, sandbox=sandbox, student=STUDENT,
                       secret=SECRET, diagnose=False)
    ms = _ms(t0)
    full = result.status == GRADED and result.score >= result.max_score - 1e-9
    if not full:
        outcome, detail = KILLED, _what_failed(result)
    elif mutant.equivalent is not None:
        outcome, detail = EQUIVALENT, mutant.equivalent
    else:
        outcome, detail = SURVIVED, ""
    return MutantResult(mutant.op, mutant.line, mutant.description, outcome, detail, ms,
                        mutant.equivalent)


def _what_failed(result: GradeResult) -> str:
    """One line: the run's status, else the failing tensors and checks."""
    if result.status != GRADED:
        return f"{result.status}: {_first_line(result.message)}"
    wrong = [f"{t.name} {t.status}" for t in result.tensors if not t.passed]
    wrong += [f"{c.name} check" for c in result.checks if not c.passed]
    shown = ", ".join(wrong[:4]) + (f" (+{len(wrong) - 4} more)" if len(wrong) > 4 else "")
    return shown or "not full marks"


def _solution_problem(result: GradeResult) -> str:
    """Return why the reference solution is not a full-marks submission ("" when it is)."""
    if result.message.startswith(EXERCISE_FAULT):
        return _first_line(result.message, 700)
    if result.status != GRADED:
        return f"the solution does not run ({result.status}): {_first_line(result.message)}"
    problems = [f"{t.name}: {t.status}" + (f" in {t.failed_case}" if t.failed_case else "")
                + (f" ({_first_line(t.message)})" if t.message else "")
                for t in result.tensors if not t.passed]
    problems += [f"{c.name} check: {_first_line(c.message)}"
                 for c in result.checks if not c.passed]
    if problems:
        return "the solution fails " + "; ".join(problems)
    if result.score < result.max_score - 1e-9:
        return f"the solution scores {result.score:g} of {result.max_score:g}"
    return ""


def _dtype_problem(exercise: Exercise) -> str:
    """Return why the public case's graded tensors do not match the exercise's ``dtype``.

    Students get ``t`` in ``dtype`` and must answer in it, but the judge works in the
    reference's dtype: a float64 exercise whose forward pass builds float32 judges in
    float32 (its tight tolerance then passes float32-rounded answers), and a float32
    exercise built in float64 judges float32 answers against float64 gradients. Nothing
    fails loudly either way, so it is said here. A forward pass that raises is left to
    grading, which reports it.
    """
    try:
        fwd = exercise.forward(exercise.cases(STUDENT, SECRET)[0])
        built = {g.name: fwd[g.name].dtype for g in exercise.graded
                 if isinstance(fwd.get(g.name), torch.Tensor)
                 and fwd[g.name].is_floating_point()}
    except Exception:  # noqa: BLE001 — grading the solution says what failed, and where
        return ""
    other = sorted(n for n, d in built.items() if d != exercise.dtype)
    if not other:
        return ""
    found = ", ".join(sorted({str(built[n]).removeprefix("torch.") for n in other}))
    declared = str(exercise.dtype).removeprefix("torch.")
    return (f"the forward pass builds {', '.join(other[:6])}{' …' if len(other) > 6 else ''} "
            f"in {found}, but the exercise's dtype is {declared}: build every graded tensor "
            f"in {declared} (or set dtype to match)")


def _starter_problem(exercise: Exercise, sandbox: Sandbox) -> str:
    """Return why the starter is not a clean, clear failure ("" when it is one).

    A clean failure: graded, zero points, every graded tensor missing ("not filled in"),
    no traceback — what a student sees before writing a line.
    """
    if not exercise.starter.strip():
        return "the exercise has no starter"
    result = grade(exercise, exercise.starter, sandbox=sandbox, student=STUDENT, secret=SECRET)
    if result.message.startswith(EXERCISE_FAULT):
        return _first_line(result.message, 700)
    if result.status != GRADED:
        return f"the starter does not run cleanly ({result.status}): " \
               f"{_first_line(result.message)}"
    if "Traceback" in result.message or "raised" in result.message:
        return f"the starter raises: {_first_line(result.message)}"
    if result.score > 0:
        return f"the starter scores {result.score:g} of {result.max_score:g} (it should score 0)"
    unclear = [f"{t.name} ({t.status}: {_first_line(t.message)})" for t in result.tensors
               if t.status != MISSING]
    if unclear:
        return "the starter's tensors should all be missing (None, not filled in), but " \
               + ", ".join(unclear[:5])
    return ""


class _Cached:
    """The exercise with each case's forward pass, student inputs and reference gradients
    built once: every mutant is graded on the same cases, and rebuilding them (an autograd
    forward and backward per case) would cost each run as much as the child does.

    Safe to share: the child gets copies over the wire (never these tensors), and grading
    only reads the reference. Everything else is the exercise's own.
    """

    def __init__(self, exercise: Exercise) -> None:
        self._exercise = exercise
        self._forward: dict[tuple[Any, ...], dict[str, Any]] = {}
        self._inputs: dict[int, dict[str, Any]] = {}
        self._reference: dict[int, dict[str, torch.Tensor]] = {}
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._exercise, name)

    def forward(self, case: Case) -> dict[str, Any]:
        key = (case.name, case.seed, case.n, tuple(sorted(case.params.items())))
        with self._lock:
            if key not in self._forward:
                self._forward[key] = self._exercise.forward(case)
            return self._forward[key]

    def _built(self, fwd: Mapping[str, Any]) -> bool:
        """Whether ``fwd`` is one of ours (kept alive, so its id cannot be reused)."""
        return any(fwd is mine for mine in self._forward.values())

    def student_inputs(self, fwd: Mapping[str, Any]) -> dict[str, Any]:
        with self._lock:
            if not self._built(fwd):
                return self._exercise.student_inputs(fwd)
            if id(fwd) not in self._inputs:
                self._inputs[id(fwd)] = self._exercise.student_inputs(fwd)
            return self._inputs[id(fwd)]

    def reference(self, fwd: Mapping[str, Any]) -> dict[str, torch.Tensor]:
        with self._lock:
            if not self._built(fwd):
                return self._exercise.reference(fwd)
            if id(fwd) not in self._reference:
                self._reference[id(fwd)] = self._exercise.reference(fwd)
            return self._reference[id(fwd)]


class _TensorsOnly:
    """The exercise without its extra checks (see :func:`_grade_mutant`)."""

    def __init__(self, exercise: Exercise) -> None:
        self._exercise = exercise

    def __getattr__(self, name: str) -> Any:
        return getattr(self._exercise, name)

    def extra_checks(self, case: Case, ask: Callable[..., Any]) -> list[Any]:
        return []


def _first_line(text: str, limit: int = 200) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _ms(t0: float) -> float:
    return round((time.monotonic() - t0) * 1000, 1)

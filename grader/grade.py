"""Grade one submission: run it in the sandbox on every case, judge each tensor.

This is the one road from source text to a :class:`~grader.result.GradeResult`, shared by
``backprop check``, ``backprop batch`` and the Celery worker, so all three grade alike.
"""

from __future__ import annotations

import ast
import contextlib
import logging
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from grader.diagnosis import Diagnoser, Diagnosis
from grader.exercise import Case, Exercise, Limits
from grader.judge import TensorDiff, Unusable, combine, compare
from grader.result import (
    BAD_TYPE,
    ERROR,
    EXACT,
    GRADED,
    MAX_SOURCE_BYTES,
    MISSING,
    NOT_RETURNED,
    SHAPE_MISMATCH,
    CheckResult,
    GradeResult,
    TensorResult,
)
from grader.sandbox import wire
from grader.sandbox.host import Reply, Sandbox, SandboxError, Session, SessionEnded

log = logging.getLogger(__name__)


def grade(exercise: Exercise, source: str | bytes, *, sandbox: Sandbox,
          student: str = "local", secret: bytes = b"", diagnose: bool = True) -> GradeResult:
    """Grade ``source`` on every case of ``exercise`` and return the result JSON object.

    :param student: seeds the public case, so each student sees their own numbers.
    :param secret: the server secret that seeds the hidden cases.
    :param diagnose: find root causes and fingerprints of wrong tensors (and so the
        error-carried-forward score); off only to measure what it costs.
    """
    started = time.monotonic()
    problem = _check_source(source)
    if problem:
        return _failed(exercise, ERROR, problem, "", started)
    text = source.decode() if isinstance(source, bytes) else source
    try:
        # Before a session holds the sandbox: an exercise that cannot be graded (a float16
        # dtype, cases that cannot be listed) must not leave the sandbox locked for good.
        wire_dtype = dtype_name(exercise.dtype)
        cases = exercise.cases(student, secret)
        if not cases:
            raise ValueError("it has no cases (case_specs is empty)")
        if not isinstance(exercise.limits, Limits):
            raise TypeError(f"its limits must be a Limits, not a {type(exercise.limits).__name__}")
    except Exception as exc:
        fault = ExerciseError(_fault("setup", None, exc))
        fault.__cause__ = exc
        return _exercise_failed(exercise, fault, started)
    try:
        session = sandbox.session(text, exercise.limits)
    except Exception:
        # The sandbox itself failed: restart it and try once more before giving up.
        sandbox.restart()
        session = sandbox.session(text, exercise.limits)
    started = time.monotonic()  # grading time: not a cold zygote's start-up
    with session:
        session.dtype = wire_dtype
        try:
            run = _run_cases(exercise, cases, session, diagnose)
        except ExerciseError as exc:
            return _exercise_failed(exercise, exc, started, session.stdout(), cases)
        except SessionEnded as end:
            message = end.message
            err = end.error
            if err and err.get("traceback") and err["kind"] != "syntax":
                message = f"{message}\n{err['traceback']}".rstrip()
            return _failed(exercise, end.status, message, session.stdout(), started,
                           cases=cases)
        except SandboxError:
            raise  # the sandbox itself failed: the caller retries
        except Exception as exc:
            # Whatever else went wrong while the child's replies were judged is this
            # submission's failure to be graded, never the grader's crash: `check` reports
            # it, `batch` goes on with the next file, a worker stores it instead of retrying.
            log.exception("grading %s stopped on an unexpected error", exercise.id)
            return _failed(exercise, ERROR, "grading stopped on an unexpected reply from the "
                           f"submission ({type(exc).__name__}); it was not graded",
                           session.stdout(), started, cases=cases)
        stdout = session.stdout()

    tensors = [combine(run.diffs[g.name], g.points) for g in exercise.graded]
    if run.diagnoser is not None:
        try:
            _apply_diagnoses(tensors, run.diagnoser.conclude(cases, text))
        except Exception:
            log.exception("diagnosis failed for %s; grading without it", exercise.id)
            run.diagnoser = None
    if all(run.errors):
        return _failed(exercise, ERROR, f"backward raised in every case: {run.errors[0]}",
                       stdout, started, cases=cases, tensors=tensors)
    checks = sum(c.points for c in run.checks)
    score = sum(t.points for t in tensors) + checks
    # Without diagnosis (switched off, or failed soft) no tensor's local correctness is
    # known: the carry-forward score is unknown, not zero.
    forward = None if run.diagnoser is None else \
        sum(t.carry_forward_points for t in tensors) + checks
    # The "values" shape rule: a tensor wrong only for its shape earns its points too.
    reshaped = [t for t in tensors if t.values_match]
    values = score + sum(t.max_points for t in reshaped)
    values_forward = None if forward is None else \
        forward + sum(t.max_points - t.carry_forward_points for t in reshaped)
    return GradeResult(
        exercise=exercise.id, status=GRADED, score=round(score, 6),
        carry_forward_score=_round(forward), values_score=round(values, 6),
        values_carry_forward_score=_round(values_forward), review_flags=review_flags(run),
        max_score=exercise.max_score, message=_summary(tensors, run),
        stdout=stdout, runtime_ms=_ms(started), tensors=tensors, checks=run.checks,
        cases=[c.name for c in cases], exercise_version=exercise.version,
        arrays=run.arrays(tensors))


@dataclass
class _Run:
    """What the child answered over all cases, before scoring."""

    diffs: dict[str, list[tuple[Case, TensorDiff]]]
    errors: list[str] = field(default_factory=list)
    extra: set[str] = field(default_factory=set)
    checks: list[CheckResult] = field(default_factory=list)
    #: The public case's reply and reference gradients, kept for heatmaps.
    public: tuple[Reply, dict[str, torch.Tensor]] | None = None
    #: Collects what diagnosis makes of each case (None: diagnosis off, or it failed).
    diagnoser: Diagnoser | None = None
    #: CPU time of the student's backward over the cases (None once a case did not say) and
    #: of autograd's backward on the same cases, here: the "possibly numerical" flag.
    backward_cpu_ms: float | None = 0.0
    reference_cpu_ms: float = 0.0

    def arrays(self, tensors: list[TensorResult]) -> dict[str, tuple[Any, Any]]:
        """Return (student, reference) of the public case for every tensor not exact."""
        if self.public is None:
            return {}
        reply, ref = self.public
        return {t.name: (reply.tensors.get(t.name), ref[t.name])
                for t in tensors if t.status != EXACT}


def _run_cases(exercise: Exercise, cases: list[Case], session: Session,
               diagnose: bool = True) -> _Run:
    """Ask the child for every case; compare each reply with the reference gradients."""
    run = _Run({g.name: [] for g in exercise.graded})
    if diagnose:
        run.diagnoser = Diagnoser({g.name: exercise.tolerances(g) for g in exercise.graded})

    def send(case: Case) -> tuple[dict[str, Any], dict[str, tuple[int, ...]]]:
        with _exercise_code("forward pass", case):
            fwd = exercise.forward(case)
            expect = {g.name: tuple(fwd[g.name].shape) for g in exercise.graded}
            inputs = exercise.student_inputs(fwd)
        session.send_case(inputs, expect)
        return fwd, expect

    upcoming = send(cases[0])
    for i, case in enumerate(cases):
        fwd, expect = upcoming
        # While the child computes: the reference (only now, in the trusted process, after
        # the child has its inputs) and the next case's forward pass.
        cpu = time.thread_time()
        with _exercise_code("reference gradients", case):
            ref = exercise.reference(fwd)
            missing = [g.name for g in exercise.graded if g.name not in ref]
            if missing:
                raise KeyError(f"no reference gradient for {', '.join(missing)}")
        run.reference_cpu_ms += (time.thread_time() - cpu) * 1000
        reply = session.receive_reply(expect)
        if reply.cpu_ms is None or run.backward_cpu_ms is None:
            run.backward_cpu_ms = None
        else:
            run.backward_cpu_ms += reply.cpu_ms
        if i + 1 < len(cases):
            upcoming = send(cases[i + 1])
        error = _case_error(reply, case)
        if i == 0:
            run.public = (reply, ref)
        run.errors.append(error)
        run.extra.update(reply.extra)
        diffs = {}
        for g in exercise.graded:
            rtol, atol = exercise.tolerances(g)
            got = Unusable(MISSING, NOT_RETURNED) if error else returned_value(
                reply, g.name, expect[g.name])
            # A tensor of a wrong shape crossed (bounded) as reply.misshaped: its values are
            # judged after a reshape too, for the "values" shape rule.
            diffs[g.name] = compare(g.name, ref[g.name], got, rtol=rtol, atol=atol,
                                    misshaped=reply.misshaped.get(g.name))
            run.diffs[g.name].append((case, diffs[g.name]))
        if run.diagnoser is not None:
            if error:
                line = reply.error.get("line")
                run.diagnoser.add_raised(case, line if isinstance(line, int) else None)
            else:
                _diagnose_case(run, exercise, case, fwd, ref, reply, diffs)
    with _exercise_code("extra checks", cases[0]):
        run.checks = exercise.extra_checks(cases[0], session.ask)
    return run


class ExerciseError(Exception):
    """The exercise's own code (its forward pass, reference, extra checks, dtype) failed.

    A fault of the pack, never of the submission: it is told as such (``grading stopped on
    an unexpected reply from the submission`` blamed the student for an author's bug), and
    ``backprop validate`` reports it for the exercise.
    """


#: How every result of an :class:`ExerciseError` begins (``grader.validate`` reads it).
EXERCISE_FAULT = "the exercise itself failed"
#: The grader's own folder: its frames are not the author's line.
_GRADER = Path(__file__).resolve().parent


def _fault(what: str, case: Case | None, exc: BaseException) -> str:
    """Say what of the exercise failed, where (its innermost frame: the author's line) and
    on which case."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if not Path(f.filename).resolve().is_relative_to(_GRADER)]
    where = f" ({Path(frames[-1].filename).name}, line {frames[-1].lineno})" if frames else ""
    on = f" on the {case.describe()}" if case is not None else ""
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return f"{EXERCISE_FAULT} ({what}{on}): {text[:500]}{where}"


@contextlib.contextmanager
def _exercise_code(what: str, case: Case) -> Iterator[None]:
    """Turn an exception of the exercise's own code into an :class:`ExerciseError`; the
    session's end (the submission's doing) and a sandbox failure pass through as they are."""
    try:
        yield
    except (SessionEnded, SandboxError, ExerciseError):
        raise
    except Exception as exc:
        raise ExerciseError(_fault(what, case, exc)) from exc


def _exercise_failed(exercise: Exercise, exc: ExerciseError, started: float, stdout: str = "",
                     cases: list[Case] | None = None) -> GradeResult:
    """The result of a grading the exercise's own code stopped: an error, said to be the
    exercise's (logged with its traceback for the operator)."""
    log.error("cannot grade %s: %s", getattr(exercise, "id", "?"), exc,
              exc_info=exc.__cause__ or exc)
    return _failed(exercise, ERROR, f"{exc} — a fault of the exercise, not of the "
                   "submission; it was not graded", stdout, started, cases=cases)


#: A backward whose CPU time is at least this many times autograd's backward on the same
#: cases, and at least NUMERICAL_FLOOR_MS, is flagged "possibly numerical" for review.
#: Finite differences re-run the forward pass once or twice per input element: ~50× for
#: ex2's 864 logits, hundreds to thousands of times for ex1's parameters. Measured here
#: (x86_64, 2 cores): the corpus's correct files 0.3–2×, an honest ex2 with Python loops over
#: every element 6×, central differences on ex2 52×.
NUMERICAL_RATIO = 20.0
NUMERICAL_FLOOR_MS = 100.0


def review_flags(run: _Run) -> list[dict[str, Any]]:
    """Return the flags for an instructor's review (never a penalty) of a graded run.

    ``possibly_numerical``: the backward did many times the work of autograd's backward, the
    mark of gradients estimated by finite differences, which no sandbox can refuse (they are
    only forward passes). The child reports its own CPU time, so a submission can hide from
    this flag; it cannot use it to gain anything.
    """
    spent, ref = run.backward_cpu_ms, run.reference_cpu_ms
    if spent is None:
        return []
    ratio = spent / max(ref, 1e-3)
    if spent < NUMERICAL_FLOOR_MS or ratio < NUMERICAL_RATIO:
        return []
    return [{"code": "possibly_numerical",
             "message": (f"backward used {spent:.0f} ms of CPU over {len(run.errors)} cases, "
                         f"{ratio:.0f}× autograd's backward on the same cases ({ref:.1f} ms): "
                         "possibly gradients estimated numerically (finite differences) — "
                         "for review; no points were taken"),
             "backward_cpu_ms": round(spent, 1), "reference_cpu_ms": round(ref, 2)}]


def _diagnose_case(run: _Run, exercise: Exercise, case: Case, fwd: dict[str, Any],
                   ref: dict[str, torch.Tensor], reply: Reply,
                   diffs: dict[str, TensorDiff]) -> None:
    """Judge one case's failing tensors against their expected-local gradients.

    Diagnosis is advice on top of a grade: if it fails on an exercise's unusual graph, the
    grade stands without it (logged), never an error for the student.
    """
    try:
        nones = [k for k, e in reply.entries.items() if e.kind == "none"]
        run.diagnoser.add_case(case, fwd, ref, reply.tensors, reply.misshaped, diffs,
                               reply.not_dict, reply.extra, shares=reply.shares,
                               changed=reply.changed_inputs, nones=nones)
    except Exception:
        log.exception("diagnosis failed for %s (%s); grading without it",
                      exercise.id, case.name)
        run.diagnoser = None


def _apply_diagnoses(tensors: list[TensorResult], diagnoses: dict[str, Diagnosis]) -> None:
    """Write each tensor's diagnosis into its result and give its carry-forward points."""
    for t in tensors:
        d = diagnoses.get(t.name)
        if t.passed:
            t.locally_correct, t.carry_forward_points = True, t.max_points
        elif d is not None:
            t.root_cause, t.locally_correct = d.root_cause, d.locally_correct
            t.diagnosis, t.fingerprint, t.line = d.text(), d.code, d.line
            t.carry_forward_points = t.max_points if d.credit else 0.0


def returned_value(reply: Reply, name: str, shape: tuple[int, ...]) -> torch.Tensor | Unusable:
    """Turn one name of a reply into a tensor to compare, or an :class:`Unusable` reason."""
    if reply.not_dict is not None:
        return Unusable(BAD_TYPE, f"backward returned a {reply.not_dict}, expected a dict "
                                  "mapping names to tensors")
    if name in reply.tensors:
        return reply.tensors[name]
    entry = reply.entries.get(name)
    if entry is None:
        return Unusable(MISSING, f"missing from the returned dict (key {name!r})")
    if entry.kind == "none":
        return Unusable(MISSING, "is None (not filled in yet)")
    if entry.kind == "other":
        return Unusable(BAD_TYPE, f"got a {entry.type_name}, expected a torch.Tensor")
    if entry.shape != tuple(shape):
        return Unusable(SHAPE_MISMATCH,
                        f"got shape {entry.shape}, expected {tuple(shape)}", entry.shape)
    want = "float64" if reply.dtype == "float64" else "float32"
    cast = ".double()" if want == "float64" else ".float()"
    return Unusable(BAD_TYPE, f"got dtype {entry.dtype}, expected {want} (use {cast})",
                    entry.shape)


def dtype_name(dtype: torch.dtype) -> str:
    """Return the wire name of an exercise's float dtype (one of the dtypes gradients may
    travel in, :data:`grader.sandbox.wire.GRADIENT_DTYPES`)."""
    name = wire.DTYPE_NAMES.get(dtype) if isinstance(dtype, torch.dtype) else None
    if name not in wire.GRADIENT_DTYPES:
        # repr: the string "float64" must not read as if it were the dtype
        raise ValueError("an exercise's dtype must be torch.float32 or torch.float64, not "
                         f"{dtype!r}")
    return name


def _case_error(reply: Reply, case: Case) -> str:
    if reply.error is None:
        return ""
    line = reply.error.get("line")
    where = f" at line {line}" if line else ""
    return f"backward raised{where} in the {case.describe()}: {reply.error['message']}"


def _summary(tensors: list[TensorResult], run: _Run) -> str:
    passed = sum(t.passed for t in tensors)
    parts = [f"{passed} of {len(tensors)} tensors correct"]
    roots = [f"d{t.name}" for t in tensors if t.root_cause]
    if roots:
        inherited = sum(1 for t in tensors if not t.passed and t.locally_correct)
        parts.append(f"root cause{'s' if len(roots) > 1 else ''}: {', '.join(roots[:5])}"
                     + (f" ({inherited} more only inherited the error)" if inherited else ""))
    parts += [f"{c.name} check {'passed' if c.passed else 'failed'}" for c in run.checks]
    errors = [e for e in run.errors if e]
    if errors:
        crash = run.diagnoser.crash if run.diagnoser is not None else None
        # The crash is told once, here (each tensor's message only points at it), with its
        # likely cause when the cases say it: a size hard-coded from the public case's.
        parts.append(f"{errors[0]} — {crash.summary}" if crash is not None else errors[0])
    extra = sorted(run.extra)
    if extra:
        parts.append(f"ignored extra keys: {', '.join(extra[:10])}")
    return "; ".join(parts)


def compile_error(exercise: Exercise, source: str, *, student: str = "local") \
        -> GradeResult | None:
    """Return the result :func:`grade` gives a source that does not compile, or None.

    Compiling runs none of the submission, so this needs no sandbox: the web calls it when a
    file is submitted, answers a syntax error at once and charges no attempt for it. The
    message is the one the sandbox's child writes (``grader.sandbox.child``'s
    ``describe_syntax_error``: that module cannot be imported outside the sandbox — its
    import disarms autograd — so the format is repeated here, and a test holds the two
    equal). Python's compiler limits on hostile nesting (RecursionError, MemoryError), which
    the child never meets once the web refused them, get a plain message.
    """
    nested = ("cannot compile: the code is nested too deeply for Python's compiler "
              "(brackets, operators, calls or attributes inside one another)")
    try:
        folded = folding_bytes(ast.parse(source, "submission.py"))
    except (SyntaxError, ValueError):
        folded = 0  # compile() fails in the same parser, before any folding: its message
    except (RecursionError, MemoryError):
        return _failed(exercise, ERROR, nested, "", time.monotonic(),
                       cases=exercise.cases(student, b""))
    if folded > FOLD_BUDGET:
        return None  # let the sandbox compile it, behind its memory and time walls
    try:
        compile(source, "submission.py", "exec", dont_inherit=True)
        return None
    except SyntaxError as exc:
        where = f" (line {exc.lineno})" if exc.lineno else ""
        snippet = f"\n    {exc.text.rstrip()}" if exc.text else ""
        message = f"SyntaxError: {exc.msg}{where}{snippet}"[:2000]
    except ValueError as exc:  # a NUL byte: the child says the same
        message = f"cannot compile: {exc}"
    except (RecursionError, MemoryError):
        message = nested
    return _failed(exercise, ERROR, message, "", time.monotonic(),
                   cases=exercise.cases(student, b""))


#: Bytes CPython's constant folding may allocate in the caller's process (the web's) before
#: :func:`compile_error` leaves compiling to the sandbox. Real backward passes fold a few KiB.
FOLD_BUDGET = 16 * 1024 * 1024
#: What one folded ``*``, ``**``, ``<<`` or ``%`` can weigh: CPython 3.11 folds these only up
#: to 4096 characters (×4 bytes), 256 items or 128 bits (``Python/ast_opt.c``).
_CAPPED_FOLD = 4 * 4096
_CAPPED_OPS = (ast.Mult, ast.Pow, ast.LShift, ast.Mod, ast.MatMult)


def folding_bytes(tree: ast.AST) -> int:
    """Return an upper bound of the bytes ``compile()``'s constant folding allocates for ``tree``.

    Why: compile() runs CPython's AST optimizer, which folds ``'a'*4096 + 'b'*4096 + …`` into
    one constant, and every partial sum stays alive in the AST arena until compile returns.
    ``*`` is capped by the optimizer but ``+`` is not, so the memory is quadratic in the
    source: 18 KB of such terms took 7.8 GB and 15 s of the web process (CPython 3.11.7),
    tuples (``(0,)*256 + …``) likewise. The bound sums, over every expression whose operands
    are all constants, the size its folded value could have; it never runs the code.
    """
    size: dict[int, int] = {}  # id(node) → bytes its folded constant could take
    order, stack = [], [tree]
    while stack:  # iterative pre-order: a 20 000-term chain is too deep to recurse over
        node = stack.pop()
        order.append(node)
        stack.extend(ast.iter_child_nodes(node))
    total = 0
    for node in reversed(order):  # children before their parent
        if isinstance(node, ast.Constant):
            value = node.value
            weight = (4 * len(value) if isinstance(value, str) else
                      len(value) if isinstance(value, bytes) else
                      value.bit_length() // 8 + 1 if isinstance(value, int) else 16)
        elif isinstance(node, ast.BinOp) and id(node.left) in size and id(node.right) in size:
            left, right = size[id(node.left)], size[id(node.right)]
            weight = (max(left, right, _CAPPED_FOLD) if isinstance(node.op, _CAPPED_OPS)
                      else left + right)
        elif isinstance(node, ast.UnaryOp) and id(node.operand) in size:
            weight = size[id(node.operand)]
        elif isinstance(node, ast.Subscript) and id(node.value) in size:
            weight = size[id(node.value)]
        elif isinstance(node, (ast.Tuple, ast.List, ast.Set)) and \
                all(id(e) in size for e in node.elts):
            weight = 8 * len(node.elts) + 64  # a constant tuple holds references
        else:
            continue
        size[id(node)] = weight
        total += weight
    return total


def _check_source(source: str | bytes) -> str:
    raw = source.encode("utf-8", errors="replace") if isinstance(source, str) else source
    if len(raw) > MAX_SOURCE_BYTES:
        return (f"the file is {len(raw) // 1024} KiB; submissions are limited to "
                f"{MAX_SOURCE_BYTES // 1024} KiB")
    if isinstance(source, bytes):
        try:
            source.decode("utf-8")
        except UnicodeDecodeError as exc:
            return f"the file is not UTF-8 text (byte {exc.start})"
    if "\x00" in (source if isinstance(source, str) else ""):
        return "the file contains a NUL byte; submit Python source text"
    return ""


def _failed(exercise: Exercise, status: str, message: str, stdout: str, started: float, *,
            cases: list[Case] | None = None, tensors: list[TensorResult] | None = None) \
        -> GradeResult:
    """Build a zero-score result where no tensor could be judged."""
    if tensors is None:
        tensors = [TensorResult(g.name, MISSING, 0.0, g.points, message="not evaluated")
                   for g in exercise.graded]
    else:
        tensors = [TensorResult(**{**t.__dict__, "points": 0.0, "carry_forward_points": 0.0})
                   for t in tensors]
    return GradeResult(
        exercise=exercise.id, status=status, score=0.0, carry_forward_score=0.0,
        values_score=0.0, values_carry_forward_score=0.0, max_score=exercise.max_score,
        message=message, stdout=stdout, runtime_ms=_ms(started), tensors=tensors,
        checks=[CheckResult(name, False, 0.0, pts, "not evaluated")
                for name, pts in exercise.check_points().items()],
        cases=[c.name for c in cases or []], exercise_version=exercise.version)


def _round(score: float | None) -> float | None:
    return None if score is None else round(score, 6)


def _ms(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 2)



"""The result of grading one submission: the result JSON of spec §4 as dataclasses.

These are plain return values (no global state, no fixed paths): the CLI prints them, the
worker stores them, the API serves ``to_json()``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

#: The largest submission accepted anywhere (form, API, CLI, batch), in bytes; real
#: solutions are a few KiB.
MAX_SOURCE_BYTES = 256 * 1024

#: Overall statuses (spec §4).
GRADED, ERROR, TIMEOUT, MEMORY_LIMIT, VIOLATION = (
    "graded", "error", "timeout", "memory_limit", "violation")
RUN_STATUSES = (GRADED, ERROR, TIMEOUT, MEMORY_LIMIT, VIOLATION)

#: Per-tensor statuses (spec §4). A tensor passes iff its status is exact or close.
EXACT, CLOSE, WRONG, SHAPE_MISMATCH, MISSING, NOT_FINITE, BAD_TYPE = (
    "exact", "close", "wrong", "shape_mismatch", "missing", "not_finite", "bad_type")
TENSOR_STATUSES = (EXACT, CLOSE, WRONG, SHAPE_MISMATCH, MISSING, NOT_FINITE, BAD_TYPE)
PASSING = frozenset({EXACT, CLOSE})

#: A tensor's message in a case where backward raised: the crash itself is told once, in
#: the result's message (the CLI groups the tensors that carry this one).
NOT_RETURNED = "not returned: backward raised in this case (the error is in the summary)"


def number_text(value: float | None) -> str:
    """A diff or an error as every report prints it (the CLI's, the notebook's)."""
    if value is None:
        return "—"
    return "0" if value == 0 else f"{value:.2e}"


def _shape_text(shape: list[int] | None) -> str:
    return "—" if shape is None else str(tuple(shape))


@dataclass
class TensorResult:
    """How one graded tensor fared over all cases (the worst case decides)."""

    name: str
    status: str
    points: float
    max_points: float
    max_abs_diff: float | None = None
    rel_error: float | None = None
    expected_shape: list[int] | None = None
    got_shape: list[int] | None = None
    #: Name of the first case in which the tensor failed (None when it passed everywhere).
    failed_case: str | None = None
    message: str = ""
    #: Plain-words diagnosis: the fingerprint's sentence for a root cause, or "inherited: …".
    diagnosis: str | None = None
    #: Wrong on its own line (not merely fed a wrong upstream gradient).
    root_cause: bool = False
    #: Right given the student's own upstream gradients in every case (None: not judged).
    locally_correct: bool | None = None
    #: Stable fingerprint code of the diagnosis (see grader.diagnosis.CODES), for analytics.
    fingerprint: str | None = None
    #: 1-based line of the submission the diagnosis points at.
    line: int | None = None
    #: The points under error-carried-forward scoring: earned when locally correct.
    carry_forward_points: float = 0.0
    #: True: failed only for its shape — in every failing case the shape was wrong and the
    #: values right after a reshape (the "values" shape rule gives it its points); False:
    #: failed otherwise. None when there is nothing to say: the tensor passed, or the result
    #: comes from a grader older than the rule (so None never claims the values are wrong).
    values_match: bool | None = None

    @property
    def passed(self) -> bool:
        """Return whether the tensor passed in every case."""
        return self.status in PASSING

    def shapes_text(self) -> str:
        """The shape as reports print it: one shape, or what came against what was due."""
        if self.got_shape is None or self.got_shape == self.expected_shape:
            return _shape_text(self.expected_shape)
        return f"got {_shape_text(self.got_shape)}, expected {_shape_text(self.expected_shape)}"

    def __repr__(self) -> str:
        return f"<TensorResult {self.name} {self.status} {self.points}/{self.max_points}>"


@dataclass
class CheckResult:
    """An exercise-specific check beyond tensors (e.g. ex4's training run)."""

    name: str
    passed: bool
    points: float
    max_points: float
    message: str = ""
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class GradeResult:
    """The result JSON of spec §4, plus optional ``checks`` and ``cases`` extensions."""

    exercise: str
    status: str
    score: float
    max_score: float
    message: str
    stdout: str = ""
    runtime_ms: float = 0.0
    tensors: list[TensorResult] = field(default_factory=list)
    checks: list[CheckResult] = field(default_factory=list)
    #: The score under error-carried-forward scoring (``score`` is the strict one); None
    #: when not computed (a result from a server older than diagnosis).
    carry_forward_score: float | None = None
    #: ``score`` and ``carry_forward_score`` under the "values" shape rule: each plus the
    #: points of the tensors with ``values_match`` (None when not computed: a result from a
    #: grader older than the rule, or no carry-forward score to start from).
    values_score: float | None = None
    values_carry_forward_score: float | None = None
    #: Names of the cases that were run, public first.
    cases: list[str] = field(default_factory=list)
    #: Things for an instructor to look at, never a penalty: ``{"code", "message", …}``
    #: (``possibly_numerical``: see :func:`grader.grade.review_flags`).
    review_flags: list[dict[str, Any]] = field(default_factory=list)
    exercise_version: int = 1
    #: The public case's (student, reference) tensors of every tensor that is not exact, for
    #: heatmaps. Not part of the JSON; the student's is None when it had no usable tensor.
    arrays: dict[str, tuple[Any, Any]] = field(default_factory=dict, repr=False)

    def to_json(self) -> dict[str, Any]:
        """Return the JSON-ready dict (floats made finite-or-None so JSON stays strict)."""
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "arrays"}
        return _finite(_plain(data))

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> GradeResult:
        """Rebuild a result from its JSON (unknown keys, e.g. from a newer server, ignored).

        Keys an older grader did not write (``values_score``, a tensor's ``values_match``, …)
        take their defaults: None, "not computed".
        """
        def pick(kind: type, item: dict[str, Any]) -> dict[str, Any]:
            return {k: v for k, v in item.items() if k in kind.__dataclass_fields__}

        return cls(**{**pick(cls, data), "arrays": {},
                      "tensors": [TensorResult(**pick(TensorResult, t))
                                  for t in data.get("tensors", [])],
                      "checks": [CheckResult(**pick(CheckResult, c))
                                 for c in data.get("checks", [])]})

    def __repr__(self) -> str:
        return f"<GradeResult {self.exercise} {self.status} {self.score}/{self.max_score}>"


def _plain(data: dict[str, Any]) -> dict[str, Any]:
    """Turn nested result dataclasses into dicts."""
    return {k: ([asdict(x) for x in v] if k in ("tensors", "checks") else v)
            for k, v in data.items()}


def _finite(value: Any) -> Any:
    """Replace NaN/inf floats by None, recursively: strict JSON has no NaN."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


#: JSON Schema of the result (spec §4, with our extensions). Tests validate against it.
RESULT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["exercise", "status", "score", "max_score", "message", "stdout",
                 "runtime_ms", "tensors"],
    "properties": {
        "exercise": {"type": "string", "pattern": r"^[a-z0-9_\-]+/[a-z0-9_\-]+$"},
        "status": {"enum": list(RUN_STATUSES)},
        "score": {"type": "number", "minimum": 0},
        "max_score": {"type": "number", "minimum": 0},
        "message": {"type": "string"},
        "stdout": {"type": "string", "maxLength": 70_000},
        "runtime_ms": {"type": "number", "minimum": 0},
        "carry_forward_score": {"type": ["number", "null"], "minimum": 0},
        "values_score": {"type": ["number", "null"], "minimum": 0},
        "values_carry_forward_score": {"type": ["number", "null"], "minimum": 0},
        "exercise_version": {"type": "integer"},
        "cases": {"type": "array", "items": {"type": "string"}},
        "review_flags": {
            "type": "array",
            "items": {"type": "object", "required": ["code", "message"],
                      "properties": {"code": {"type": "string"},
                                     "message": {"type": "string"}}},
        },
        "tensors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name", "status", "points", "max_points", "max_abs_diff",
                             "rel_error", "expected_shape", "got_shape"],
                "properties": {
                    "name": {"type": "string"},
                    "status": {"enum": list(TENSOR_STATUSES)},
                    "points": {"type": "number", "minimum": 0},
                    "max_points": {"type": "number", "minimum": 0},
                    "max_abs_diff": {"type": ["number", "null"]},
                    "rel_error": {"type": ["number", "null"]},
                    "expected_shape": {"type": ["array", "null"], "items": {"type": "integer"}},
                    "got_shape": {"type": ["array", "null"], "items": {"type": "integer"}},
                    "failed_case": {"type": ["string", "null"]},
                    "message": {"type": "string"},
                    "diagnosis": {"type": ["string", "null"]},
                    "root_cause": {"type": "boolean"},
                    "locally_correct": {"type": ["boolean", "null"]},
                    "fingerprint": {"type": ["string", "null"]},
                    "line": {"type": ["integer", "null"], "minimum": 1},
                    "carry_forward_points": {"type": "number", "minimum": 0},
                    "values_match": {"type": ["boolean", "null"]},
                },
            },
        },
        "checks": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name", "passed", "points", "max_points", "message"],
                "properties": {
                    "name": {"type": "string"},
                    "passed": {"type": "boolean"},
                    "points": {"type": "number", "minimum": 0},
                    "max_points": {"type": "number", "minimum": 0},
                    "message": {"type": "string"},
                    "details": {"type": "object"},
                },
            },
        },
    },
}

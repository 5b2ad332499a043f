"""backprop-grader's core: the exercise API, the judge and the sandbox (pure torch + stdlib).

This package never imports ``web`` or ``worker``: they build on it, not the other way round.
"""

from grader.exercise import Case, CaseSpec, Exercise, Graded, Limits
from grader.grade import grade
from grader.registry import UnknownExercise, get_exercise, load_exercises
from grader.result import CheckResult, GradeResult, TensorResult

__all__ = [
    "Case", "CaseSpec", "CheckResult", "Exercise", "GradeResult", "Graded", "Limits",
    "TensorResult", "UnknownExercise", "get_exercise", "grade", "load_exercises",
]

"""backprop-grader's core: the exercise API, the judge and the sandbox (pure torch + stdlib).

This package never imports ``web`` or ``worker``: they build on it, not the other way round.
Its names are loaded on first use (PEP 562), so ``grader.text`` or ``grader.instance`` cost
no torch import: the CLI's administration commands never import torch (SPEC §7).
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

_EXPORTS = {
    "Case": "grader.exercise", "CaseSpec": "grader.exercise", "Exercise": "grader.exercise",
    "Graded": "grader.exercise", "Limits": "grader.exercise", "grade": "grader.grade",
    "UnknownExercise": "grader.registry", "get_exercise": "grader.registry",
    "load_exercises": "grader.registry", "CheckResult": "grader.result",
    "GradeResult": "grader.result", "TensorResult": "grader.result",
}

__all__ = sorted(_EXPORTS)


class _Package(types.ModuleType):
    """Keep ``grader.grade`` the function, as the eager imports made it: loading the submodule
    ``grader.grade`` would otherwise set the package attribute to the module."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _EXPORTS and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'grader' has no attribute {name!r}")

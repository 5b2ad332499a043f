"""The ``attention`` pack (see docs/exercises.md)."""

from __future__ import annotations

from collections.abc import Callable

from grader.kit import Exercise, register_modules

#: The pack's exercise modules, in the order a course assigns them.
MODULES: tuple[str, ...] = ("head", "multihead")


def register(add: Callable[[type[Exercise]], object]) -> None:
    """Register the pack's exercises (entry point ``backprop_grader.exercises``)."""
    register_modules(__name__, MODULES, add)

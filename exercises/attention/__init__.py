"""The ``attention`` pack (see docs/exercises.md)."""

from __future__ import annotations

from collections.abc import Callable

from grader.kit import Exercise

#: The pack's exercise modules, in the order a course assigns them.
MODULES: tuple[str, ...] = ("head", "multihead")


def register(add: Callable[[type[Exercise]], object]) -> None:
    """Register the pack's exercises (entry point ``backprop_grader.exercises``)."""
    import importlib

    for name in MODULES:
        add(importlib.import_module(f"{__name__}.{name}").EXERCISE)

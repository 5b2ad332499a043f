"""An example third-party exercise pack for backprop-grader (``example/swiglu``,
``example/huber``).

A course ships its own exercises as a pip package beside the grader: this package declares
the entry point ``backprop_grader.exercises`` (``example = "backprop_pack_example:register"``)
and imports nothing of the grader but :mod:`grader.kit`. ``docs/authoring.md`` in the grader
walks through writing one; this pack is what that walk produces.
"""

from __future__ import annotations

from collections.abc import Callable

from grader.kit import Exercise, register_modules

#: The pack's exercise modules, in the order a course assigns them.
MODULES: tuple[str, ...] = ("swiglu", "huber")


def register(add: Callable[[type[Exercise]], object]) -> None:
    """Register the pack's exercises (entry point ``backprop_grader.exercises``).

    The grader calls this once, with its registry's ``add``; a new exercise is a new module
    named in :data:`MODULES` that defines ``EXERCISE``.
    """
    register_modules(__name__, MODULES, add)

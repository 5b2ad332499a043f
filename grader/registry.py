"""The exercise registry: built-in and third-party packs, found through entry points.

A pack is a distribution that declares, in its ``pyproject.toml``::

    [project.entry-points."backprop_grader.exercises"]
    mycourse = "mycourse.exercises:register"

where ``register(add)`` calls ``add(ExerciseClass)`` for each exercise — so a
course ships its own exercises as a pip package, without forking us (CTFd's plugin idea).
"""

from __future__ import annotations

import importlib
import logging
from importlib.metadata import entry_points
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the registry is read without torch (the CLI's admin commands)
    from grader.exercise import Exercise

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "backprop_grader.exercises"

#: Exercise classes by id, filled by :func:`load_exercises`.
EXERCISES: dict[str, type[Exercise]] = {}
_instances: dict[str, Exercise] = {}
_loaded = False


class UnknownExercise(KeyError):
    """No exercise has that id."""

    def __str__(self) -> str:
        known = ", ".join(sorted(EXERCISES)) or "none"
        return f"unknown exercise {self.args[0]!r} (known: {known})"


def add(cls: type[Exercise]) -> type[Exercise]:
    """Register an exercise class under its ``id``; usable as a decorator."""
    if cls.id in EXERCISES and EXERCISES[cls.id] is not cls:
        raise ValueError(f"two exercises claim the id {cls.id!r}")
    EXERCISES[cls.id] = cls
    return cls


#: Packs shipped in this repository, loaded by name when no entry point announced them.
BUILT_IN_PACKS = ("exercises.makemore4:register",)


def load_exercises(force: bool = False) -> dict[str, type[Exercise]]:
    """Load every pack named in the entry-point group (once) and return the registry.

    A broken third-party pack is logged and skipped rather than taking the grader down.
    """
    global _loaded
    if _loaded and not force:
        return EXERCISES
    names = set()
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        names.add(ep.value)
        try:
            ep.load()(add)
        except Exception:
            log.exception("cannot load exercise pack %s (%s)", ep.name, ep.value)
    for value in BUILT_IN_PACKS:
        if value not in names:
            # Running from a source tree without `pip install`: load the built-in pack by
            # name, exactly as its entry point would (the core never imports a pack).
            module, _, attr = value.partition(":")
            getattr(importlib.import_module(module), attr)(add)
    _loaded = True
    return EXERCISES


def get_exercise(exercise_id: str) -> Exercise:
    """Return the (shared, stateless) instance of the exercise with this id.

    :raise UnknownExercise: when no loaded pack defines it.
    """
    load_exercises()
    try:
        cls = EXERCISES[exercise_id]
    except KeyError:
        raise UnknownExercise(exercise_id) from None
    if exercise_id not in _instances:
        _instances[exercise_id] = cls()
    return _instances[exercise_id]

"""The exercise registry: every pack, ours and third-party, found through entry points.

A pack is a distribution that declares, in its ``pyproject.toml``::

    [project.entry-points."backprop_grader.exercises"]
    mycourse = "mycourse.exercises:register"

where ``register(add)`` calls ``add(ExerciseClass)`` for each exercise — so a
course ships its own exercises as a pip package, without forking us (CTFd's plugin idea).
"""

from __future__ import annotations

import importlib.util
import json
import logging
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
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
        known = ", ".join(sorted(EXERCISES or _catalog or ())) or "none"
        return f"unknown exercise {self.args[0]!r} (known: {known})"


def add(cls: type[Exercise]) -> type[Exercise]:
    """Register an exercise class under its ``id``; usable as a decorator."""
    if cls.id in EXERCISES and EXERCISES[cls.id] is not cls:
        raise ValueError(f"two exercises claim the id {cls.id!r}")
    EXERCISES[cls.id] = cls
    return cls


#: The file beside a pack's modules that describes its exercises without importing them
#: (written and checked with ``versions.json`` by :mod:`grader.versions`).
CATALOG = "catalog.json"
#: A catalog larger than this is not read (ours are a few KiB; starters included).
MAX_CATALOG_BYTES = 8 * 1024**2


@dataclass(frozen=True)
class ExerciseInfo:
    """What lists, pages and administration need of an exercise: no torch, no grading."""

    id: str
    title: str
    version: int
    max_score: float
    description: str
    starter: str

    @classmethod
    def of(cls, exercise: Exercise) -> ExerciseInfo:
        """Describe a loaded exercise (what the pack's catalog records)."""
        return cls(exercise.id, exercise.title, exercise.version, float(exercise.max_score),
                   exercise.description, exercise.starter)


_catalog: dict[str, ExerciseInfo] | None = None


def load_exercises(force: bool = False) -> dict[str, type[Exercise]]:
    """Load every pack named in the entry-point group (once) and return the registry.

    Packs arrive only through the entry-point group — ours (``pyproject.toml``) exactly as a
    course's own — so the core never names a pack. A broken third-party pack is logged and
    skipped rather than taking the grader down.
    """
    global _loaded
    if _loaded and not force:
        return EXERCISES
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        found: list[type[Exercise]] = []
        try:
            ep.load()(found.append)
            for cls in found:
                if not isinstance(getattr(cls, "id", None), str) or not cls.id:
                    raise TypeError(f"register() added {cls!r}, which has no string id")
        except (Exception, SystemExit):  # a pack's sys.exit() must not stop the service
            # All or nothing: a register() that fails half-way adds none of its exercises.
            log.exception("cannot load exercise pack %s (%s); its exercises are not "
                          "available", ep.name, ep.value)
            continue
        for cls in found:
            other = EXERCISES.get(cls.id)
            if other is not None and other is not cls:
                log.error("exercise pack %s (%s): the id %r is already taken by %s.%s; "
                          "this one (%s.%s) is skipped", ep.name, ep.value, cls.id,
                          other.__module__, other.__qualname__, cls.__module__,
                          cls.__qualname__)
                continue
            EXERCISES[cls.id] = cls
    if not EXERCISES:
        log.warning("no exercise pack is installed (entry-point group %s): install the "
                    "project (`pip install -e .`) or a pack", ENTRY_POINT_GROUP)
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


def _pack_values() -> list[str]:
    """Return every pack's entry-point value (``module:attr``)."""
    return [ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)]


def _read_catalog(value: str) -> dict[str, ExerciseInfo] | None:
    """Read the catalog beside a pack's module without importing it (None: it has none)."""
    module = value.partition(":")[0]
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).with_name(CATALOG)
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_CATALOG_BYTES + 1)
    except OSError:
        return None
    try:
        if len(raw) > MAX_CATALOG_BYTES:
            raise ValueError(f"over {MAX_CATALOG_BYTES // 2**20} MiB")
        data = json.loads(raw)
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        infos = {i: ExerciseInfo(id=i, **entry) for i, entry in data.items()}
        for info in infos.values():
            if not all(isinstance(getattr(info, k), str)
                       for k in ("id", "title", "description", "starter")) \
                    or type(info.version) is not int \
                    or type(info.max_score) not in (int, float):
                raise ValueError(f"a malformed entry for {info.id!r}")
        return infos
    except (ValueError, TypeError, RecursionError) as exc:
        # Any other shape than the one grader.versions writes: read the pack the slow way.
        log.warning("ignoring the catalog of exercise pack %s (%s): %s", value, path,
                    str(exc)[:200])
        return None


def catalog() -> dict[str, ExerciseInfo]:
    """Return every exercise's description by id, read from the packs' catalogs.

    Listing exercises, printing a starter or adding an assignment must not cost a torch
    import (seconds) for what is a few strings: packs ship a ``catalog.json`` beside their
    modules, kept true by ``python -m grader.versions --update`` and checked by the test
    suite. A pack without one (or with a broken one) is loaded the slow way instead.
    """
    global _catalog
    if _catalog is None:
        found: dict[str, ExerciseInfo] = {}
        slow = False
        for value in _pack_values():
            infos = _read_catalog(value)
            if infos is None:
                slow = True
                continue
            for i, info in infos.items():
                if i in found:  # as load_exercises(): the first pack keeps its id
                    log.error("the catalog of exercise pack %s lists %r, already listed by "
                              "another pack; skipped", value, i)
                else:
                    found[i] = info
        if slow:
            for i in load_exercises():
                if i in found:
                    continue
                try:
                    found[i] = ExerciseInfo.of(get_exercise(i))
                except Exception:  # one broken exercise must not hide every other one
                    log.exception("cannot describe exercise %s; it is not listed", i)
        _catalog = found
    return _catalog


def exercise_info(exercise_id: str) -> ExerciseInfo:
    """Return the description of one exercise (no torch when its pack has a catalog).

    :raise UnknownExercise: when no pack lists it.
    """
    try:
        return catalog()[exercise_id]
    except KeyError:
        raise UnknownExercise(exercise_id) from None

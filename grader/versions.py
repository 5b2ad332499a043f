"""Exercise versions that cannot be forgotten: a fingerprint of everything that decides a
grade, checked against the version recorded beside it.

A stored grading says which exercise version graded it, and a regrade is how a course moves
to a new one — so the version must change whenever cases, tolerances, points or the
reference (the exercise's forward code and its pack's helpers) change. The fingerprint hashes
exactly those (code as its syntax tree: comments, docstrings and formatting do not count);
each pack keeps ``versions.json`` beside its modules, and the test suite fails when a
fingerprint moved without a version bump::

    python -m grader.versions            # check every installed exercise (exit 1 on drift)
    python -m grader.versions --update   # record new fingerprints (refused without a bump)

The same command keeps the pack's ``catalog.json`` (titles, points, descriptions, starters:
see :func:`grader.registry.catalog`) true to its classes, so listing exercises never needs
torch and never shows a stale title.
"""

from __future__ import annotations

import ast
import hashlib
import importlib
import inspect
import json
import sys
from pathlib import Path
from typing import Any

LOCK = "versions.json"


def _code(module_name: str) -> str:
    """Return a module's syntax tree without docstrings, as a stable string."""
    tree = ast.parse(Path(inspect.getsourcefile(importlib.import_module(module_name)))
                     .read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) \
                and isinstance(body[0].value, ast.Constant) \
                and isinstance(body[0].value.value, str):
            node.body = body[1:] or [ast.Pass()]
    # Where a name comes from in the grader (``grader.exercise`` or ``grader.kit``) decides
    # no grade: the names' own code is fingerprinted, not the import lines.
    tree.body = [n for n in tree.body if not (
        isinstance(n, ast.ImportFrom) and (n.module or "").split(".")[0] == "grader"
        or isinstance(n, ast.Import) and all(a.name.split(".")[0] == "grader" for a in n.names))]
    return ast.dump(tree, include_attributes=False)


def _pack_modules(module_name: str) -> list[str]:
    """Return the module and the modules of its own pack it imports (one level deep)."""
    pack = module_name.rsplit(".", 1)[0]
    tree = ast.parse(Path(inspect.getsourcefile(importlib.import_module(module_name)))
                     .read_text(encoding="utf-8"))
    found = {module_name}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(pack):
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                try:
                    importlib.import_module(candidate)
                    found.add(candidate)
                except ImportError:
                    found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith(pack + "."))
    return sorted(found)


def fingerprint(exercise: Any) -> str:
    """Return the hex digest of what decides a grade of ``exercise``."""
    cls = type(exercise)
    facts = {
        "cases": [(s.n, sorted(s.params.items())) for s in cls.case_specs],
        "graded": [(g.name, g.points, *exercise.tolerances(g)) for g in cls.graded],
        "checks": sorted(exercise.check_points().items()),
        "inputs": list(cls.inputs),
        # Only a float64 exercise records its dtype: float32 fingerprints stay as they were.
        **({"dtype": str(cls.dtype)} if str(cls.dtype) != "torch.float32" else {}),
        "code": [(m, _code(m)) for m in _pack_modules(cls.__module__)],
    }
    return hashlib.sha256(json.dumps(facts, default=repr).encode()).hexdigest()


def lock_path(exercise: Any) -> Path:
    """Return the pack's lock file (beside the exercise's module)."""
    return Path(inspect.getsourcefile(type(exercise))).with_name(LOCK)


def drift(exercises: list[Any]) -> list[str]:
    """Return one message per exercise whose recorded version or fingerprint is stale."""
    out = []
    for ex in exercises:
        path = lock_path(ex)
        recorded = json.loads(path.read_text()) if path.exists() else {}
        entry = recorded.get(ex.id)
        now = fingerprint(ex)
        if entry is None:
            out.append(f"{ex.id}: not in {path}; run `python -m grader.versions --update`")
        elif entry["fingerprint"] != now and entry["version"] == ex.version:
            out.append(f"{ex.id}: its cases, tolerances, points or reference code changed but "
                       f"its version is still {ex.version}: bump `version` (stored gradings "
                       "say which version graded them; regrades move a course on), then run "
                       "`python -m grader.versions --update`")
        elif entry["fingerprint"] != now or entry["version"] != ex.version:
            out.append(f"{ex.id}: version {ex.version} is not recorded in {path}; run "
                       "`python -m grader.versions --update`")
    return out


def _catalog_path(exercise: Any) -> Path:
    from grader.registry import CATALOG

    return lock_path(exercise).with_name(CATALOG)


def _catalog_entry(exercise: Any) -> dict[str, Any]:
    from dataclasses import asdict

    from grader.registry import ExerciseInfo

    entry = asdict(ExerciseInfo.of(exercise))
    del entry["id"]
    return entry


def catalog_drift(exercises: list[Any]) -> list[str]:
    """Return one message per exercise whose ``catalog.json`` entry is missing or stale."""
    out = []
    for ex in exercises:
        path = _catalog_path(ex)
        recorded = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
        if recorded.get(ex.id) != _catalog_entry(ex):
            out.append(f"{ex.id}: its entry in {path} is missing or stale (title, points, "
                       "description or starter changed); run `python -m grader.versions "
                       "--update`")
    return out


def update(exercises: list[Any]) -> list[Path]:
    """Record the current fingerprints; refuse (ValueError) a change without a version bump."""
    stale = [m for m in drift(exercises) if "version is still" in m]
    if stale:
        raise ValueError("\n".join(stale))
    written: dict[Path, dict[str, Any]] = {}
    for ex in exercises:
        path = lock_path(ex)
        if path not in written:
            written[path] = json.loads(path.read_text()) if path.exists() else {}
        written[path][ex.id] = {"version": ex.version, "fingerprint": fingerprint(ex)}
    catalogs: dict[Path, dict[str, Any]] = {}
    for ex in exercises:
        path = _catalog_path(ex)
        if path not in catalogs:
            catalogs[path] = json.loads(path.read_text(encoding="utf-8")) \
                if path.exists() else {}
        catalogs[path][ex.id] = _catalog_entry(ex)
    for path, data in [*written.items(), *catalogs.items()]:
        path.write_text(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n",
                        encoding="utf-8")
    return sorted({*written, *catalogs})


def main(argv: list[str] | None = None) -> int:
    from grader.registry import get_exercise, load_exercises

    argv = sys.argv[1:] if argv is None else argv
    exercises = [get_exercise(i) for i in sorted(load_exercises())]
    if "--update" in argv:
        try:
            for path in update(exercises):
                print(f"wrote {path}")
        except ValueError as exc:
            print(exc, file=sys.stderr)
            return 1
        return 0
    problems = drift(exercises) + catalog_drift(exercises)
    for message in problems:
        print(message, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())

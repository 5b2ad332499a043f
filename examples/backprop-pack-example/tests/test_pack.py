"""The pack's own acceptance test: its exercises grade as a course needs, in a real sandbox.

Run it beside the grader (``pip install -e .`` in this folder, then ``pytest``). It grades, as
the grader does (``grader.grade`` in a real sandbox):

* each reference solution in ``src/backprop_pack_example/solutions/``: full marks;
* each starter: graded, nothing filled in yet;
* the corpus in ``tests/corpus/example/<name>/``: every correct formulation gets full marks,
  every bug loses exactly the tensors its header names, with the root cause and the
  fingerprint it names (headers as the grader's ``tests/corpus/README.md``).

It also checks what the grader relies on: hidden cases that change every size,
``versions.json``/``catalog.json`` true to the classes, and modules that import only
``grader.kit`` from the grader.
"""

from __future__ import annotations

import ast
import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import backprop_pack_example
import pytest

from grader import grade
from grader.result import PASSING, GradeResult

PACK = Path(__file__).resolve().parents[1]
SOURCE = PACK / "src" / "backprop_pack_example"
CORPUS = Path(__file__).resolve().parent / "corpus"
STUDENT, SECRET = "corpus", b"corpus-secret"


def _exercises() -> dict[str, Any]:
    """Return the pack's exercises by id, registered exactly as the grader registers them."""
    found: dict[str, Any] = {}
    backprop_pack_example.register(lambda cls: found.setdefault(cls.id, cls()))
    return found


EXERCISES = _exercises()


@dataclass(frozen=True)
class Entry:
    """One corpus file and what its ``# key: value`` header promises."""

    path: Path
    kind: str
    exercise: str
    expect_wrong: frozenset[str]
    expect_status: str
    #: Root cause → the fingerprint that names it (``root-cause`` paired with ``bug-class``).
    roots: dict[str, str]
    bug_classes: tuple[str, ...]
    known_miss: str | None

    @property
    def id(self) -> str:
        return f"{self.exercise.split('/')[-1]}/{self.path.stem}"


def _parse(path: Path) -> Entry:
    """Read the header: ``# key: value`` lines up to the first line that is not a comment."""
    meta: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        key, sep, value = line[1:].partition(":")
        if sep:
            meta[key.strip()] = value.strip()
    classes = tuple(meta.get("bug-class", "").split())
    causes = meta.get("root-cause", "").split()
    if causes and len(causes) != len(classes):
        raise ValueError(f"{path}: root-cause and bug-class must pair up")
    return Entry(path, meta["corpus"], meta["exercise"],
                 frozenset(meta.get("expect-wrong", "").split()),
                 meta.get("expect-status", "graded"),
                 dict(zip(causes, classes, strict=True)) if causes else {},
                 classes, meta.get("known-miss"))


FILES = [_parse(p) for p in sorted(CORPUS.glob("*/*/*.py"))]
CORRECT = [f for f in FILES if f.kind == "correct"]
BUGS = [f for f in FILES if f.kind == "bug"]
SOLUTIONS = sorted((SOURCE / "solutions").glob("*.py"))


def _exercise_of(path: Path) -> Any:
    """Return the exercise a solution or starter file belongs to (by its file name)."""
    return EXERCISES[f"example/{path.stem}"]


@pytest.fixture(scope="module")
def results(sandbox) -> dict[Path, GradeResult]:
    """Grade every solution, starter and corpus file once (the tests read the results)."""
    jobs = [(p, _exercise_of(p)) for p in SOLUTIONS + sorted((SOURCE / "starters").glob("*.py"))]
    jobs += [(f.path, EXERCISES[f.exercise]) for f in FILES]
    return {path: grade(exercise, path.read_text(encoding="utf-8"), sandbox=sandbox,
                        student=STUDENT, secret=SECRET) for path, exercise in jobs}


def test_every_exercise_has_a_solution_and_a_corpus() -> None:
    """At least one solution, 3 correct formulations and 5 bugs per exercise."""
    assert {f"example/{p.stem}" for p in SOLUTIONS} == set(EXERCISES)
    for exercise_id in EXERCISES:
        assert sum(f.exercise == exercise_id for f in CORRECT) >= 3, exercise_id
        assert sum(f.exercise == exercise_id for f in BUGS) >= 5, exercise_id
    assert all(f.bug_classes for f in BUGS)


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.stem)
def test_solution_gets_full_marks(path: Path, results) -> None:
    result = results[path]
    assert result.status == "graded", result.message
    assert result.score == result.max_score, [t.message for t in result.tensors if not t.passed]


@pytest.mark.parametrize("name", [p.stem for p in SOLUTIONS])
def test_starter_is_graded_and_empty(name: str, results) -> None:
    """A starter runs as it is shipped and every gradient is still to be filled in."""
    result = results[SOURCE / "starters" / f"{name}.py"]
    assert result.status == "graded", result.message
    assert result.score == 0
    assert {t.fingerprint for t in result.tensors} == {"not_filled"}


@pytest.mark.parametrize("entry", CORRECT, ids=lambda f: f.id)
def test_correct_formulation_gets_full_marks(entry: Entry, results) -> None:
    result = results[entry.path]
    assert result.status == "graded", result.message
    assert result.score == result.max_score, [t.message for t in result.tensors if not t.passed]


@pytest.mark.parametrize("entry", BUGS, ids=lambda f: f.id)
def test_bug_loses_exactly_its_tensors(entry: Entry, results) -> None:
    result = results[entry.path]
    assert result.status == entry.expect_status, result.message
    failing = {t.name for t in result.tensors if t.status not in PASSING}
    assert failing == entry.expect_wrong, (
        f"unexpectedly failing: {sorted(failing - entry.expect_wrong)}; "
        f"unexpectedly passing: {sorted(entry.expect_wrong - failing)}")
    by_name = {t.name: t for t in result.tensors}
    for name, code in entry.roots.items():
        # The tensor whose own line is wrong is named as the root cause, and the kind of
        # mistake with it (unless the header admits the grader misses it, and why).
        assert by_name[name].root_cause, by_name[name].message
        named = by_name[name].fingerprint == code
        assert named != bool(entry.known_miss), (name, by_name[name].fingerprint, code)
    if not entry.roots:  # a missing key, a None: no line to blame, but the kind is named
        assert set(entry.bug_classes) <= {t.fingerprint for t in result.tensors}


@pytest.mark.parametrize("exercise", EXERCISES.values(), ids=lambda e: e.id)
def test_hidden_cases_change_every_size_on_its_own(exercise: Any) -> None:
    """A number copied from the public case (n, a width, delta) fails a hidden case, and
    the size that alone differs there is the one the diagnosis names."""
    def sizes(spec: Any) -> dict[str, int]:
        return {"n": spec.n, **spec.params}

    public, *hidden = (sizes(s) for s in exercise.case_specs)
    changed = [{k for k in public if h[k] != public[k]} for h in hidden]
    assert set() in changed  # the public sizes under another seed
    assert {frozenset(c) for c in changed if len(c) == 1} == {frozenset({k}) for k in public}


def test_versions_and_catalog_are_current() -> None:
    """What ``python -m grader.versions`` checks: run it with ``--update`` after a change
    (and bump ``version`` first when what decides a grade changed)."""
    from grader.versions import catalog_drift, drift

    exercises = list(EXERCISES.values())
    assert drift(exercises) + catalog_drift(exercises) == []


def test_modules_import_only_the_kit() -> None:
    """A pack imports nothing of the grader but ``grader.kit``: the rest may change."""
    bad = {}
    for path in SOURCE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            if isinstance(node, ast.ImportFrom) and node.module == "grader":
                names = [f"grader.{a.name}" for a in node.names]
            names = [n for n in names if n.split(".")[0] == "grader" and n != "grader.kit"]
            if names:
                bad[path.name] = names
    assert not bad, bad


def test_modules_are_importable_by_name() -> None:
    """Every module named in MODULES defines ``EXERCISE`` (what ``register`` adds)."""
    for name in backprop_pack_example.MODULES:
        module = importlib.import_module(f"backprop_pack_example.{name}")
        assert module.EXERCISE.id.startswith("example/")

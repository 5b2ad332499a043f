"""An exercise's version moves whenever what decides a grade moves (grader/versions.py)."""

from __future__ import annotations

import importlib
import sys
import textwrap
from pathlib import Path

import pytest

from grader import get_exercise, load_exercises
from grader.versions import drift, fingerprint, update

PACK = '''
"""A pack."""
from grader.exercise import Exercise, Graded
from {name} import helpers


class Ex(Exercise):
    """An exercise."""
    id = "{name}/ex"
    title = "t"
    version = {version}
    graded = (Graded("a", points=1.0, atol={atol}),)
    inputs = ("x",)

    def forward(self, case):
        # a comment
        return helpers.forward(case)
'''
HELPERS = '''
def forward(case):
    """Build it."""
    return {body}
'''


def load(root: Path, name: str, version: int = 1, atol: float = 1e-5, body: str = "{}",
         doc: str = "An exercise."):
    pkg = root / name
    pkg.mkdir(exist_ok=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "ex.py").write_text(textwrap.dedent(PACK.format(name=name, version=version,
                                                           atol=atol)).replace(
        "An exercise.", doc))
    (pkg / "helpers.py").write_text(HELPERS.format(body=body))
    for mod in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
        del sys.modules[mod]
    importlib.invalidate_caches()
    return importlib.import_module(f"{name}.ex").Ex()


def test_every_installed_exercise_has_its_version_recorded() -> None:
    assert drift([get_exercise(i) for i in sorted(load_exercises())]) == []


def test_a_change_without_a_version_bump_is_caught(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))
    ex = load(tmp_path, "packv")
    assert "not in" in drift([ex])[0]
    update([ex])
    assert drift([ex]) == []
    # comments, docstrings and formatting do not move the fingerprint
    assert fingerprint(load(tmp_path, "packv", doc="Reworded.")) == fingerprint(ex)
    # a tolerance does, and so does the pack's helper code (the reference)
    for changed in (load(tmp_path, "packv", atol=1e-3),
                    load(tmp_path, "packv", body="{'loss': 0}")):
        (message,) = drift([changed])
        assert "version is still 1: bump `version`" in message
        with pytest.raises(ValueError, match="bump"):
            update([changed])
    bumped = load(tmp_path, "packv", version=2, atol=1e-3)
    assert "version 2 is not recorded" in drift([bumped])[0]
    update([bumped])
    assert drift([bumped]) == []


def test_every_installed_exercise_has_a_true_catalog_entry() -> None:
    """The catalog that lists exercises without torch says what the classes say."""
    from grader.registry import ExerciseInfo, catalog
    from grader.versions import catalog_drift

    exercises = [get_exercise(i) for i in sorted(load_exercises())]
    assert catalog_drift(exercises) == []
    assert catalog() == {ex.id: ExerciseInfo.of(ex) for ex in exercises}


def test_update_writes_the_catalog_and_drift_sees_a_stale_one(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) \
        -> None:
    import json

    from grader.versions import catalog_drift

    monkeypatch.syspath_prepend(str(tmp_path))
    ex = load(tmp_path, "catpack")
    update([ex])
    path = tmp_path / "catpack" / "catalog.json"
    assert json.loads(path.read_text())["catpack/ex"]["title"] == "t"
    assert catalog_drift([ex]) == []
    type(ex).title = "a new title"
    try:
        assert any("catpack/ex" in m and "stale" in m for m in catalog_drift([ex]))
    finally:
        type(ex).title = "t"

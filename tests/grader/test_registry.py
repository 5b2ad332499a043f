"""Exercise packs plug in through the ``backprop_grader.exercises`` entry-point group."""

from __future__ import annotations

import sys
import textwrap

import pytest

from grader import registry


def test_builtin_pack_is_registered() -> None:
    ids = set(registry.load_exercises())
    assert {"makemore4/ex1", "makemore4/ex2", "makemore4/ex3", "makemore4/ex4"} <= ids
    assert registry.get_exercise("makemore4/ex1").max_score == 26


def test_unknown_exercise_names_the_known_ones() -> None:
    with pytest.raises(registry.UnknownExercise) as info:
        registry.get_exercise("makemore4/ex9")
    assert "makemore4/ex1" in str(info.value)


def test_third_party_pack_through_entry_points(tmp_path, monkeypatch) -> None:
    """A course's own pip-installed pack is found without touching our code."""
    pkg = tmp_path / "mycourse_pack"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(textwrap.dedent('''
        from exercises.makemore4.ex2_cross_entropy import CrossEntropy

        class Softmax(CrossEntropy):
            id = "mycourse/softmax"
            title = "Our own softmax exercise"

        def register(add):
            add(Softmax)
    '''))
    dist = tmp_path / "mycourse_pack-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: mycourse-pack\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[backprop_grader.exercises]\nmycourse = mycourse_pack:register\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(registry, "EXERCISES", dict(registry.EXERCISES))
    registry.load_exercises(force=True)
    try:
        assert registry.get_exercise("mycourse/softmax").title == "Our own softmax exercise"
    finally:
        sys.modules.pop("mycourse_pack", None)


def test_broken_pack_is_skipped_not_fatal(tmp_path, monkeypatch, caplog) -> None:
    dist = tmp_path / "broken_pack-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-pack\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[backprop_grader.exercises]\nbroken = no_such_module_xyz:register\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(registry, "EXERCISES", dict(registry.EXERCISES))
    registry.load_exercises(force=True)
    assert "cannot load exercise pack broken" in caplog.text
    assert "makemore4/ex1" in registry.EXERCISES


def test_duplicate_ids_are_refused(monkeypatch) -> None:
    monkeypatch.setattr(registry, "EXERCISES", dict(registry.EXERCISES))
    cls = registry.EXERCISES["makemore4/ex1"]
    impostor = type("Impostor", (cls,), {})
    with pytest.raises(ValueError, match="two exercises"):
        registry.add(impostor)


def test_packs_arrive_only_through_entry_points(monkeypatch, caplog) -> None:
    """No pack is loaded by name: with the group empty there is nothing, and it is said."""
    monkeypatch.setattr(registry, "entry_points", lambda group: [])
    monkeypatch.setattr(registry, "EXERCISES", {})
    monkeypatch.setattr(registry, "_catalog", None)
    monkeypatch.setattr(registry, "_loaded", False)
    assert registry.load_exercises(force=True) == {}
    assert "no exercise pack is installed" in caplog.text
    assert registry.catalog() == {}
    with pytest.raises(registry.UnknownExercise, match="known: none"):
        registry.get_exercise("makemore4/ex1")


def test_every_shipped_pack_is_an_entry_point() -> None:
    """Ours are declared like anyone's: pyproject's entry points name every pack folder."""
    import tomllib
    from importlib.metadata import entry_points
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    declared = tomllib.loads((root / "pyproject.toml").read_text())["project"][
        "entry-points"][registry.ENTRY_POINT_GROUP]
    folders = {p.parent.name for p in (root / "exercises").glob("*/__init__.py")}
    assert set(declared) == folders
    installed = {ep.name: ep.value for ep in entry_points(group=registry.ENTRY_POINT_GROUP)}
    assert {k: installed.get(k) for k in declared} == declared

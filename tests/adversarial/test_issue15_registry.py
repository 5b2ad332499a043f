"""Issue 15, broken packs through the real entry-point machinery (a dist-info folder on
``sys.path``): the registry logs each in one clear record and keeps serving the others.

A register() that fails half-way adds none of its exercises (it used to leave the ones
added before the failure); one that calls sys.exit() does not stop the service; two packs
claiming one id keep the first and name both; a catalog.json that is corrupt, of another
shape or huge is ignored (the pack is read the slow way) instead of crashing every listing.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from grader import registry

#: Packs by module name: a register() body over classes cut from makemore4/ex2.
PACKS = {
    "rt_half": '''
        add(make("rt_half/first"))
        raise RuntimeError("the second exercise is broken")
    ''',
    "rt_exit": '''
        import sys
        sys.exit(3)
    ''',
    "rt_one": '''
        add(make("rt_shared/x"))
        add(make("rt_one/own"))
    ''',
    "rt_two": '''
        add(make("rt_shared/x"))
        add(make("rt_two/own"))
    ''',
}

HEAD = '''
from exercises.makemore4.ex2_cross_entropy import CrossEntropy


def make(exercise_id):
    return type("Made", (CrossEntropy,), {"id": exercise_id, "title": exercise_id})


def register(add):
'''


def _install(root: Path, module: str, body: str, catalog: bytes | None = None) -> None:
    pkg = root / module
    pkg.mkdir()
    (pkg / "__init__.py").write_text(HEAD + "\n".join("    " + line.strip()
                                                      for line in body.strip().splitlines()))
    if catalog is not None:
        (pkg / "catalog.json").write_bytes(catalog)
    dist = root / f"{module}-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        f"[backprop_grader.exercises]\n{module} = {module}:register\n")


@pytest.fixture()
def fresh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A registry loaded anew over our packs plus whatever the test installs in tmp_path;
    the process's own registry is put back afterwards."""
    registry.load_exercises()
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(registry, "EXERCISES", {})
    monkeypatch.setattr(registry, "_instances", {})
    monkeypatch.setattr(registry, "_catalog", None)
    monkeypatch.setattr(registry, "_loaded", False)
    yield tmp_path
    for name in list(sys.modules):
        if name.startswith("rt_"):
            del sys.modules[name]


def test_broken_packs_are_logged_and_the_rest_serves(fresh: Path, caplog) -> None:
    for module, body in PACKS.items():
        _install(fresh, module, body)
    loaded = registry.load_exercises(force=True)
    # half a pack is no pack; sys.exit() in a pack is its failure, not the service's end
    assert "rt_half/first" not in loaded
    assert "cannot load exercise pack rt_half" in caplog.text
    assert "cannot load exercise pack rt_exit" in caplog.text
    # one id, two packs: the first keeps it, the second keeps its other exercise
    assert {"rt_shared/x", "rt_one/own", "rt_two/own", "makemore4/ex1"} <= set(loaded)
    assert loaded["rt_shared/x"].__module__ == "rt_one"
    assert "exercise pack rt_two (rt_two:register): the id 'rt_shared/x' is already taken " \
           "by rt_one.Made" in caplog.text
    assert registry.get_exercise("rt_two/own").id == "rt_two/own"


@pytest.mark.parametrize("catalog", [
    b"{not json",
    b"[1, 2, 3]",
    b'{"rt_cat/own": {"title": 3, "version": 1, "max_score": 1, "description": "",'
    b' "starter": ""}}',
    b'{"rt_cat/own": {"title": "t", "version": "1", "max_score": 1, "description": "",'
    b' "starter": ""}}',
    b'{"rt_cat/own": {"id": "x", "title": "t"}}',
    b'{"rt_cat/own": [1]}',
    b"[" * 100_000,
    b'{"a": "' + b"x" * (registry.MAX_CATALOG_BYTES + 1) + b'"}',
], ids=["garbage", "list", "title-int", "version-str", "extra-key", "entry-list", "deep",
        "huge"])
def test_a_broken_catalog_is_read_the_slow_way(fresh: Path, caplog, catalog: bytes) -> None:
    _install(fresh, "rt_cat", 'add(make("rt_cat/own"))', catalog)
    infos = registry.catalog()
    assert infos["rt_cat/own"].title == "rt_cat/own"  # from the loaded class
    assert "makemore4/ex2" in infos
    assert "ignoring the catalog of exercise pack rt_cat:register" in caplog.text

"""The layers hold: cli | worker → web → grader ← exercises, no cycles (import-linter).

The contracts live in pyproject.toml ([tool.importlinter]); this runs them, so a forbidden
import (say, the grader importing a pack, or a service importing a view) fails the suite.
Packs — ours in ``exercises/`` and the example in ``examples/`` — may take from the grader
only its public surface, ``grader.kit``: import-linter checks ours, and a syntax-tree scan
checks every pack file, including the names a pack could reach through the package's lazy
attributes (``from grader import Exercise``), which import-linter does not see.
"""

from __future__ import annotations

import ast
import pkgutil
import subprocess
import sys
import tomllib
from pathlib import Path

import grader

REPO = Path(__file__).resolve().parents[1]
CONFIG = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]
KIT_CONTRACT = "exercise packs import only grader.kit from the grader"


def test_import_contracts_hold() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint), "--config", str(REPO / "pyproject.toml")], cwd=REPO,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    contracts = len(CONFIG["contracts"])
    assert f"{contracts} kept, 0 broken" in result.stdout, result.stdout


def test_kit_contract_names_every_grader_module_but_the_kit() -> None:
    """A new grader module is forbidden to packs until someone decides otherwise."""
    (contract,) = [c for c in CONFIG["contracts"] if c["name"] == KIT_CONTRACT]
    modules = {f"grader.{m.name}" for m in pkgutil.iter_modules(grader.__path__)}
    assert set(contract["forbidden_modules"]) == modules - {"grader.kit"}


def _grader_imports(path: Path) -> list[str]:
    """Return each import of the grader in ``path`` other than ``grader.kit``."""
    bad = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            bad += [a.name for a in node.names
                    if a.name.split(".")[0] == "grader" and a.name != "grader.kit"]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "grader":
            if node.module == "grader":
                bad += [f"grader.{a.name}" for a in node.names if a.name != "kit"]
            elif node.module != "grader.kit":
                bad.append(node.module)
    return bad


def test_packs_import_only_the_kit() -> None:
    files = [p for root in ("exercises", "examples") for p in (REPO / root).rglob("*.py")
             if "solutions" not in p.parts and "starters" not in p.parts
             and "corpus" not in p.parts and "tests" not in p.relative_to(REPO).parts[2:]]
    assert len(files) > 10  # the scan sees the packs
    found = {str(p.relative_to(REPO)): bad for p in files if (bad := _grader_imports(p))}
    assert not found, found


def test_scan_catches_every_road_past_the_kit(tmp_path: Path) -> None:
    source = tmp_path / "pack.py"
    source.write_text("import grader.kit\nfrom grader import kit\nfrom grader.kit import Case\n"
                      "from grader import Exercise\nimport grader.judge\n"
                      "from grader.sandbox import host\n")
    assert _grader_imports(source) == ["grader.Exercise", "grader.judge", "grader.sandbox"]

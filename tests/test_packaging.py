"""The wheel ships what a server needs and never a reference solution.

A submission's sandbox can read the installed packages (site-packages is bound into the
jail), so a solution inside the wheel would be a student's to copy: packs keep them in the
source tree (``docs/authoring.md`` §7). The wheel is built for real, from a clean copy of the
tree (a stale ``*.egg-info`` in a checkout would list files the configuration no longer
ships).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow  # a real wheel build (~10 s)


@pytest.fixture(scope="module")
def wheel_names(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    src = tmp_path_factory.mktemp("src") / "tree"
    shutil.copytree(REPO, src, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", "node_modules",
        ".pytest_cache", ".ruff_cache"))
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "--no-index", "-q", "-w", str(out), str(src)], check=True, timeout=300,
                   capture_output=True)
    (wheel,) = out.glob("*.whl")
    return zipfile.ZipFile(wheel).namelist()


def test_no_reference_solution_is_shipped(wheel_names: list[str]) -> None:
    assert not [n for n in wheel_names if "/solutions/" in n]
    assert (REPO / "exercises" / "makemore4" / "solutions" / "ex1.py").is_file()


def test_every_pack_ships_its_modules_starters_and_catalogs(wheel_names: list[str]) -> None:
    for pack in ("makemore4", "layers", "attention", "conv", "gpt"):
        assert f"exercises/{pack}/__init__.py" in wheel_names
        assert f"exercises/{pack}/catalog.json" in wheel_names
        assert f"exercises/{pack}/versions.json" in wheel_names
        starters = {p.name for p in (REPO / "exercises" / pack / "starters").glob("*.py")}
        assert starters and starters == {
            Path(n).name for n in wheel_names if n.startswith(f"exercises/{pack}/starters/")}
    assert "grader/kit.py" in wheel_names

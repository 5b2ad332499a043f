"""The example third-party pack (``examples/backprop-pack-example``), installed for real.

A course's pack is a pip package beside the grader: this builds and installs ours the way a
course would (``pip install``, entry point and all) — into a folder of its own, put on
``PYTHONPATH`` for subprocesses only, so the venv is left as it was found — then uses it
through the ``backprop`` command: the exercises are listed, the reference solution passes, a
bug file loses the tensor it breaks. It also checks what must not ship (``solutions/``: a
submission's sandbox can read installed files) and that the installed ``versions.json``
agrees with the code (``python -m grader.versions``).

``backprop check --no-daemon`` grades in the command's own process: the fast road
(:mod:`cli.quick`) is skipped for that flag, and no daemon is started — a daemon would be a
process that outlives the test and grades with whatever packs *it* was started with.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # a real build and install, and two cold checks (~30 s)

REPO = Path(__file__).resolve().parents[2]
PACK = REPO / "examples" / "backprop-pack-example"
CORPUS = PACK / "tests" / "corpus" / "example"
SOLUTION = PACK / "src" / "backprop_pack_example" / "solutions" / "swiglu.py"
BUG = CORPUS / "swiglu" / "bug_dW2_transposed.py"
BIN = Path(sys.executable).parent
IDS = ("example/huber", "example/swiglu")


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build and install the pack into a folder of its own; return that folder.

    The build runs in a copy of the pack: setuptools writes ``build/`` and an ``.egg-info``
    beside the sources it builds, and the working tree must stay clean.
    """
    root = tmp_path_factory.mktemp("example-pack")
    source = root / "src"
    shutil.copytree(PACK, source, ignore=shutil.ignore_patterns(
        "build", "*.egg-info", "__pycache__", ".pytest_cache"))
    target = root / "site"
    subprocess.run(
        [str(BIN / "python"), "-m", "pip", "install", "--no-deps", "--no-build-isolation",
         "--no-index", "--quiet", "--target", str(target), str(source)],
        check=True, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
    return target


@pytest.fixture(scope="module")
def env(installed: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment of the subprocesses: the installed pack on the path, a home of their
    own, no preloader, no daemon road (what tests/conftest.py sets for the suite's own)."""
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "PYTHONPATH")}
    env.update(PYTHONPATH=str(installed), BACKPROP_HOME=str(tmp_path_factory.mktemp("home")),
               BACKPROP_NO_PRELOAD="1", BACKPROP_NO_FAST_CHECK="1", COLUMNS="120",
               NO_COLOR="1")
    return env


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True, timeout=300, env=env,
                          stdin=subprocess.DEVNULL, cwd=env["BACKPROP_HOME"])


def test_the_installed_tree_ships_no_solutions(installed: Path) -> None:
    package = installed / "backprop_pack_example"
    assert not [p for p in installed.rglob("*") if "solutions" in p.name]
    assert {p.name for p in (package / "starters").glob("*.py")} == {"swiglu.py", "huber.py"}
    assert (package / "catalog.json").is_file() and (package / "versions.json").is_file()
    points = (installed / "backprop_pack_example-0.1.0.dist-info" / "entry_points.txt")
    assert "example = backprop_pack_example:register" in points.read_text()


def test_backprop_exercises_lists_the_pack(env: dict[str, str]) -> None:
    out = run(env, str(BIN / "backprop"), "exercises")
    assert out.returncode == 0, out.stderr
    listed = {line.split()[0]: line for line in out.stdout.splitlines() if line.strip()}
    assert "SwiGLU feed-forward block" in listed["example/swiglu"]
    assert "Huber loss" in listed["example/huber"]
    assert "makemore4/ex1" in listed  # beside the grader's own packs, not instead of them


def test_check_passes_the_solution(env: dict[str, str]) -> None:
    out = run(env, str(BIN / "backprop"), "check", str(SOLUTION), "-e", "example/swiglu",
              "--no-daemon")
    assert out.returncode == 0, out.stderr
    assert "8 of 8 tensors correct" in out.stdout, out.stdout
    assert "Traceback" not in out.stdout + out.stderr


def test_check_names_the_wrong_tensor_of_a_bug(env: dict[str, str]) -> None:
    out = run(env, str(BIN / "backprop"), "check", str(BUG), "-e", "example/swiglu",
              "--no-daemon", "--json")
    assert out.returncode == 0, out.stderr  # judged: a wrong answer is not an error
    result = json.loads(out.stdout)
    wrong = {t["name"]: t for t in result["tensors"] if t["status"] not in ("exact", "close")}
    assert set(wrong) == {"W2"}
    assert wrong["W2"]["fingerprint"] == "transpose" and wrong["W2"]["root_cause"]
    assert "dW2" in wrong["W2"]["message"]


def test_versions_report_no_drift_for_the_pack(env: dict[str, str], installed: Path) -> None:
    """The installed ``versions.json`` and ``catalog.json`` agree with the installed code.

    Other packs of this tree may be mid-edit: only the example's lines count here (the
    grader's own packs have their own test, tests/exercises/test_versions.py).
    """
    out = run(env, str(BIN / "python"), "-c",
              "import backprop_pack_example, sys; print(backprop_pack_example.__file__); "
              "from grader.versions import main; sys.exit(main([]))")
    assert out.stdout.strip() == str(installed / "backprop_pack_example" / "__init__.py")
    assert "Traceback" not in out.stderr, out.stderr
    assert not [line for line in out.stderr.splitlines() if line.startswith(IDS)], out.stderr


@pytest.mark.parametrize("exercise_id", IDS)
def test_validate_finds_no_surviving_mutant(env: dict[str, str], exercise_id: str) -> None:
    """The author's gate, on the installed pack: its solutions (kept out of the wheel) are
    passed with --solution, as docs/authoring.md says for an installed pack."""
    name = exercise_id.split("/")[1]
    solution = PACK / "src" / "backprop_pack_example" / "solutions" / f"{name}.py"
    out = run(env, str(BIN / "backprop"), "validate", exercise_id, "--solution", str(solution),
              "--json")
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    (report,) = json.loads(out.stdout)["exercises"]
    assert report["ok"] and report["totals"]["survived"] == 0, report["totals"]
    assert report["totals"]["mutants"] >= 5

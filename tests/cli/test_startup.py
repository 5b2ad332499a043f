"""Commands that do not grade pay only for what they use (SPEC §7): none imports torch.

Each command runs in a fresh interpreter, in-process (no preloader), and reports whether
torch ended up in ``sys.modules``. Their speed is measured by ``bench/cli_bench.py``, never
asserted here.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def torch_after(env: dict[str, str], *args: str) -> tuple[object, bool]:
    """Run ``backprop ARGS`` in a fresh interpreter; return (exit code, torch imported)."""
    code = ("import sys\nfrom cli.main import main\nrc = 0\n"
            f"try:\n    main({list(args)!r}, prog_name='backprop')\n"
            "except SystemExit as e:\n    rc = e.code\n"
            "print('RESULT', rc, 'torch' in sys.modules, file=sys.stderr)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, env=env, stdin=subprocess.DEVNULL)
    last = out.stderr.strip().splitlines()[-1].split()
    assert last[0] == "RESULT", out.stderr
    return int(last[1]) if last[1].isdigit() else last[1], last[2] == "True"


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env["BACKPROP_HOME"] = str(tmp_path_factory.mktemp("startup") / "home")
    return env


@pytest.mark.parametrize("args", [
    ("--help",), ("exercises",), ("exercises", "--long"), ("starter", "makemore4/ex2"),
    ("user", "add", "prof@example.org", "--role", "instructor", "--password", ""),
    ("token", "prof@example.org"),
    ("course", "add", "C1", "--instructor", "prof@example.org"),
    ("assignment", "add", "C1", "makemore4/ex1", "--max-submissions", "3"),
    ("db", "current"),
], ids=lambda a: " ".join(a[:2]))
def test_a_command_that_does_not_grade_never_imports_torch(env: dict[str, str],
                                                            args: tuple[str, ...]) -> None:
    code, torch = torch_after(env, *args)
    assert code == 0
    assert not torch, f"`backprop {' '.join(args)}` imported torch"


def test_an_unknown_exercise_is_a_usage_error_without_torch(env: dict[str, str]) -> None:
    assert torch_after(env, "starter", "makemore4/nope") == (2, False)


def test_grading_still_imports_torch(env: dict[str, str], tmp_path: Path) -> None:
    """The probe can fail: a command that grades does import torch."""
    source = tmp_path / "s.py"
    source.write_text("def backward(t):\n    return {}\n")
    code, torch = torch_after(env, "check", str(source), "-e", "makemore4/ex2", "--json",
                              "--no-daemon")
    assert code == 0 and torch

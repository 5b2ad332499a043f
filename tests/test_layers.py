"""The layers hold: cli | worker → web → grader ← exercises, no cycles (import-linter).

The contracts live in pyproject.toml ([tool.importlinter]); this runs them, so a forbidden
import (say, the grader importing a pack, or a service importing a view) fails the suite.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_import_contracts_hold() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint), "--config", str(REPO / "pyproject.toml")], cwd=REPO,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 kept, 0 broken" in result.stdout, result.stdout

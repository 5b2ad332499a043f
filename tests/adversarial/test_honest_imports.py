"""What an honest submission may do still works inside every wall: import modules the zygote
did not preload (stdlib, numpy's and torch's submodules — Python's import system must list
and read their directories through the Landlock read layer), write and read back files in its
own directory, print, raise. With bubblewrap and without it."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest

from tests.adversarial.attack_helpers import CORRECT_EX2, grade_quick

HONEST = """\
import importlib, sys
missing = []
for name in ("textwrap", "difflib", "csv", "shlex", "pprint", "html", "numpy.polynomial",
             "numpy.lib.stride_tricks", "torch.nn.init", "torch.distributions"):
    try:
        importlib.import_module(name)
    except ImportError as exc:
        missing.append(name)
print("MISSING", missing)
with open("notes.txt", "w") as f:
    f.write("scratch")
with open("notes.txt") as f:
    print("READ BACK", f.read())
print("TZ", __import__("time").localtime().tm_zone is not None)
""" + CORRECT_EX2


@pytest.fixture(params=[None, "off"], ids=["bwrap", "no-bwrap"])
def any_sandbox(request, sandbox, off_sandbox):
    return sandbox if request.param is None else off_sandbox


def _traversable_by_others(path: str) -> bool:
    """Whether every directory down to ``path`` lets other uids through (pyenv under a 0700
    /root does not: without bubblewrap a child's own uid cannot import what the zygote did
    not preload — a permission, not one of our walls)."""
    parts = Path(path).resolve().parts
    return all(os.stat(Path(*parts[:i])).st_mode & stat.S_IXOTH for i in range(2, len(parts) + 1))


def test_honest_code_runs_inside_the_walls(any_sandbox) -> None:
    restarts = any_sandbox.restarts
    result = grade_quick(any_sandbox, HONEST)
    assert (result.status, result.score) == ("graded", 1.0), result.message
    if any_sandbox.bwrap or _traversable_by_others(sys.base_prefix):
        assert "MISSING []" in result.stdout, result.stdout
    assert "READ BACK scratch" in result.stdout, result.stdout
    assert "TZ True" in result.stdout, result.stdout
    assert any_sandbox.restarts == restarts

"""Fixtures of the pack's own tests: a real sandbox, and a private grader home.

The tests grade exactly as the grader does (``grader.grade`` in a real sandbox), so they need
the grader installed in the environment. The pack itself is imported from ``src/`` when it is
not installed, so a checkout can be tested before ``pip install -e .``.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

PACK = Path(__file__).resolve().parents[1]

if importlib.util.find_spec("backprop_pack_example") is None:
    sys.path.insert(0, str(PACK / "src"))


@pytest.fixture(scope="session", autouse=True)
def _home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Keep the grader's instance folder (secret key, runs) out of the real home."""
    before = os.environ.get("BACKPROP_HOME")
    os.environ["BACKPROP_HOME"] = str(tmp_path_factory.mktemp("home"))
    yield
    if before is None:
        os.environ.pop("BACKPROP_HOME", None)
    else:
        os.environ["BACKPROP_HOME"] = before


@pytest.fixture(scope="session")
def sandbox(_home: None) -> Iterator[object]:
    """Return a real sandbox (a zygote that imported torch once, children forked from it)."""
    from grader.sandbox import Sandbox

    with Sandbox() as sb:
        sb.ensure_ready()
        yield sb

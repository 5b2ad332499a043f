"""Shared fixtures: one warm sandbox for the whole session (its zygote imports torch once)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from grader.sandbox import Sandbox


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    """Return a real sandbox (zygote + forked children), shared by the session."""
    with Sandbox() as sb:
        sb.ensure_ready()
        yield sb


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) \
        -> None:
    """Keep every test's instance folder out of the real home directory."""
    monkeypatch.setenv("BACKPROP_HOME", str(tmp_path_factory.getbasetemp() / "home"))
    monkeypatch.delenv("SECRET_KEY", raising=False)
    os.environ.pop("SECRET_KEY", None)

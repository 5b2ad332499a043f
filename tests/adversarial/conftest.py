"""Fixtures shared by the adversarial suite."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from grader.sandbox import Sandbox


@pytest.fixture(scope="session")
def off_sandbox() -> Iterator[Sandbox]:
    """One sandbox without bubblewrap for the whole session (starting a zygote costs a torch
    import): the fallback's children get the same walls but the jail's file system."""
    with Sandbox(bwrap="off") as sb:
        sb.ensure_ready()
        yield sb

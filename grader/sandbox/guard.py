"""Autograd is off limits: detect every road into the autograd engine inside the child.

Stub: the real guards land in the next commit. API used by :mod:`grader.sandbox.child`:
``install()`` before any student code runs; after each call, ``problems(returned)`` lists what
was detected (attempts, tampering with the guards, returned tensors carrying a graph).
"""

from __future__ import annotations

from typing import Any


def install() -> None:
    """Install the guards (called once in the child, before the submission is compiled)."""


def problems(returned: Any = None) -> list[str]:
    """Return the violations seen so far, including tampering and graph-carrying returns."""
    return []


def scan_source(source: str) -> list[str]:
    """Return hints from a source scan (names that suggest autograd); never a verdict alone."""
    return []

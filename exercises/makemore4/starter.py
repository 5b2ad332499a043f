"""Load starter files and descriptions shipped beside the exercise modules."""

from __future__ import annotations

from importlib.resources import files


def read(name: str) -> str:
    """Return the text of ``starters/NAME`` (packaged data, works from a wheel too)."""
    return files("exercises.makemore4").joinpath("starters", name).read_text(encoding="utf-8")

"""docs/exercises.md lists every installed exercise with its points and dtype."""

from __future__ import annotations

import re
from pathlib import Path

from grader import get_exercise, load_exercises

DOC = Path(__file__).resolve().parents[2] / "docs" / "exercises.md"


def test_every_exercise_is_documented_with_its_points_and_dtype() -> None:
    rows = {m.group(1): m.group(0) for m in re.finditer(r"^\| `([a-z0-9_]+/[a-z0-9_]+)` \|.*$",
                                                        DOC.read_text(), re.M)}
    ours = {i for i in load_exercises() if not i.startswith("example/")}
    assert set(rows) == ours
    for exercise_id, row in rows.items():
        ex = get_exercise(exercise_id)
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[2] == f"{ex.max_score:g}", (exercise_id, cells)
        assert cells[3].startswith(str(ex.dtype).removeprefix("torch.")), (exercise_id, cells)

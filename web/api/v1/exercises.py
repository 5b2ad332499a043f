"""GET /api/v1/exercises."""

from __future__ import annotations

from flask import jsonify

from grader import get_exercise, load_exercises
from web.api import bp


@bp.get("/exercises")
def exercises():
    """List the exercises: id, title, max score."""
    return jsonify([{"id": i, "title": get_exercise(i).title,
                     "max_score": get_exercise(i).max_score} for i in sorted(load_exercises())])

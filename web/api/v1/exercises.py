"""GET /api/v1/exercises."""

from __future__ import annotations

from flask import jsonify

from grader.registry import catalog
from web.api import bp


@bp.get("/exercises")
def exercises():
    """List the exercises: id, title, max score."""
    return jsonify([{"id": i, "title": e.title, "max_score": e.max_score}
                    for i, e in sorted(catalog().items())])

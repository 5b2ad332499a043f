"""Liveness and readiness: is the database reachable, how long is the queue."""

from __future__ import annotations

from flask import Blueprint, jsonify
from sqlalchemy import func, select

from web.db import db
from web.models import QUEUED, RUNNING, Submissions

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """Return the service's state as JSON (200 when the database answers)."""
    counts = dict(db.session.execute(
        select(Submissions.status, func.count()).where(Submissions.status.in_([QUEUED, RUNNING]))
        .group_by(Submissions.status)).all())
    return jsonify(status="ok", queued=counts.get(QUEUED, 0), running=counts.get(RUNNING, 0))

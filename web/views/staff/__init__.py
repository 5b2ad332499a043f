"""The instructor's workspace under ``/staff``: courses, roster, assignments, extensions, the
class dashboard, per-assignment analytics, exports and queue health.

Every route starts from ``web.access.get_staff_course`` (404 for anyone not staff of the
course, 403 for a TA asked to change it); the work is done by ``web.services``, which the CLI
shares.
"""

from __future__ import annotations

from flask import Blueprint, Response

bp = Blueprint("staff", __name__, url_prefix="/staff")


def csv_response(text: str, filename: str) -> Response:
    """Return CSV text as a download (the caller has escaped its cells)."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in filename)[:120]
    return Response(text, mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{safe}"'})


from web.views.staff import (  # noqa: E402,F401
    analytics,
    assignments,
    courses,
    grades,
    grading,
    roster,
)

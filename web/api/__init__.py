"""The JSON API of spec §6 under ``/api/v1``: token auth, JSON errors, an OpenAPI document."""

from __future__ import annotations

from flask import Blueprint, g, jsonify, request
from werkzeug.exceptions import HTTPException

from web.extensions import csrf
from web.services.accounts import bearer_token
from web.views.auth import load_user_from_request

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)  # bearer tokens, not cookies: no CSRF exposure


def error(status: int, message: str):
    """Return the spec's error body with a status code."""
    response = jsonify(error=message)
    response.status_code = status
    return response


@bp.before_request
def _authenticate():
    """Sign the request in by its token only (a browser's session cookie never reaches the
    API: its routes are CSRF-exempt), through the pages' own request loader, so
    ``current_user`` and web.access work here exactly as on the pages."""
    if request.endpoint in ("api.openapi", "api.exercises"):
        return None
    header = request.headers.get("Authorization", "")
    if bearer_token(header) is None:
        return error(401, "send an API token: Authorization: Bearer TOKEN "
                          "(get one with `backprop token EMAIL`)")
    user = load_user_from_request(request)
    if user is None:
        return error(401, "this API token is not valid")
    g._login_user = user  # what flask_login.current_user returns for this request
    return None


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    return error(exc.code or 500, exc.description or exc.name)


from web.api.v1 import batches, courses, exercises, openapi, submissions  # noqa: E402,F401  (routes)

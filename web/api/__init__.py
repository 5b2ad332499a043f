"""The JSON API of spec §6 under ``/api/v1``: token auth, JSON errors, an OpenAPI document."""

from __future__ import annotations

from flask import Blueprint, g, jsonify, request
from sqlalchemy import select
from werkzeug.exceptions import HTTPException

from web.accounts import hash_token
from web.db import db
from web.extensions import csrf
from web.models import ApiTokens, utcnow

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)  # bearer tokens, not cookies: no CSRF exposure


def error(status: int, message: str):
    """Return the spec's error body with a status code."""
    response = jsonify(error=message)
    response.status_code = status
    return response


@bp.before_request
def _authenticate():
    if request.endpoint in ("api.openapi", "api.exercises"):
        return None
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return error(401, "send an API token: Authorization: Bearer TOKEN "
                          "(get one with `backprop token EMAIL`)")
    row = db.session.scalar(select(ApiTokens).where(
        ApiTokens.token_hash == hash_token(token.strip())))
    if row is None:
        return error(401, "this API token is not valid")
    row.last_used_at = utcnow()
    db.session.commit()
    g.api_user = row.user
    return None


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    return error(exc.code or 500, exc.description or exc.name)


from web.api.v1 import exercises, openapi, submissions  # noqa: E402,F401  (routes)

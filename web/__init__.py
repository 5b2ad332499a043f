"""The web application (Flask application factory, CTFd/flaskr style)."""

from __future__ import annotations

import os
from typing import Any

from flask import Flask, g, jsonify, render_template, request
from markupsafe import Markup
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from grader import instance
from grader.text import visible

#: Friendly words for the error pages; the API answers {"error": ...} instead.
ERRORS = {
    400: "The request was not understood.",
    401: "Please sign in.",
    403: "You may not do that.",
    404: "There is nothing here (or it is not yours to see).",
    413: "That is too large.",
    429: "Too many requests: wait a little and try again.",
    500: "Something went wrong on our side. Your work is safe; please try again.",
}


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Create the app: defaults, then ``BACKPROP_HOME/config.py``, then ``test_config``."""
    app = Flask(__name__, instance_path=str(instance.home()), instance_relative_config=True)
    _show_text(app)
    from web import config

    app.config.from_mapping(config.defaults())
    if test_config is None:
        app.config.from_pyfile("config.py", silent=True)
    else:
        app.config.update(test_config)
    os.makedirs(app.instance_path, exist_ok=True)

    # Order: database, then extensions that read it, then blueprints, then error handlers.
    from web import db, security, times
    from web.extensions import csrf, limiter, login_manager

    db.init_app(app)
    login_manager.init_app(app)
    _upload_limits(app)  # before CSRF: its check parses the form
    csrf.init_app(app)
    _retry_after(app)  # before the limiter: after_request runs in reverse, so ours runs last
    limiter.init_app(app)
    security.init_app(app)
    times.init_app(app)

    from web import api
    from web.views import account, auth, dashboard, health, results, staff, submit

    for blueprint in (health.bp, auth.bp, account.bp, dashboard.bp, submit.bp, results.bp,
                      staff.bp, api.bp):
        app.register_blueprint(blueprint)
    _error_handlers(app)
    return app


def visible_filter(value: Any) -> Any:
    """The ``visible`` template filter: control characters and bidi overrides shown, not
    acted on (see :func:`grader.text.visible`); HTML escaping stays autoescape's job.

    Markup (HTML the app built, e.g. a diff table) keeps being Markup: ``visible`` never
    touches ``&``, ``<`` or ``>``. Anything but text passes unchanged.
    """
    if isinstance(value, Markup):
        return Markup(visible(str(value)))
    return visible(value) if isinstance(value, str) else value


def _finalize(value: Any) -> Any:
    """Make every plain string a template prints visible, filtered or not (the safety net
    for text nobody thought student-controlled: flashed messages, form errors, …).

    Markup is left alone: form widgets render as Markup and carry what the user typed back
    into the form (the code editor's text must be submitted exactly as written).
    """
    if isinstance(value, str) and not isinstance(value, Markup):
        return visible(value)
    return value


def _show_text(app: Flask) -> None:
    """Register the ``visible`` filter and the finalize net, before the environment exists."""
    app.jinja_options = {**app.jinja_options, "finalize": _finalize}
    app.add_template_filter(visible_filter, "visible")


#: Endpoints that take a whole roster file (≤ 2 MiB; its preview carries it back compressed)
#: or a batch zip (≤ 64 MiB): their requests may be larger than MAX_CONTENT_LENGTH, which fits
#: a submission.
LARGE_UPLOADS = {"staff.roster_import": 3 * 1024 * 1024, "staff.roster_apply": 3 * 1024 * 1024,
                 "staff.batch_upload": 65 * 1024 * 1024, "api.batch_create": 65 * 1024 * 1024}


def _upload_limits(app: Flask) -> None:
    """Raise the request and form-field size limits for the few endpoints that need it."""

    @app.before_request
    def _raise():
        limit = LARGE_UPLOADS.get(request.endpoint or "")
        if limit:
            request.max_content_length = limit
            request.max_form_memory_size = limit


def _retry_after(app: Flask) -> None:
    """Keep Retry-After truthful: only on 429s, and the quota's own wait when it refused."""

    @app.after_request
    def _fix(response):
        if response.status_code != 429:
            response.headers.pop("Retry-After", None)
        elif g.get("retry_after"):
            response.headers["Retry-After"] = str(g.retry_after)
        return response


def _error_handlers(app: Flask) -> None:
    def handle(exc: HTTPException):
        code = exc.code or 500
        if code == 413 and exc.description == RequestEntityTooLarge.description:
            limit = request.max_content_length or app.config["MAX_CONTENT_LENGTH"]
            exc.description = f"the request is larger than the {limit // 1024} KiB limit"
        if request.path.startswith("/api/"):
            detail = exc.description if code != 500 else ERRORS[500]
            return jsonify(error=detail), code
        detail = exc.description if code in (400, 413, 429) and exc.description else None
        return render_template("error.html", code=code, title=ERRORS.get(code, exc.name),
                               detail=detail), code

    for code in ERRORS:
        app.register_error_handler(code, handle)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        if isinstance(exc, HTTPException):
            return handle(exc)
        app.logger.exception("unhandled error on %s", request.path)
        if request.path.startswith("/api/"):
            return jsonify(error=ERRORS[500]), 500
        return render_template("error.html", code=500, title=ERRORS[500], detail=None), 500

"""The web application (Flask application factory, CTFd/flaskr style)."""

from __future__ import annotations

import os
from typing import Any

from flask import Flask

from grader import instance


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Create the app: defaults, then ``BACKPROP_HOME/config.py``, then ``test_config``."""
    app = Flask(__name__, instance_path=str(instance.home()), instance_relative_config=True)
    from web import config

    app.config.from_mapping(config.defaults())
    if test_config is None:
        app.config.from_pyfile("config.py", silent=True)
    else:
        app.config.update(test_config)
    os.makedirs(app.instance_path, exist_ok=True)

    # Order matters: the database first, then what uses it.
    from web import db, health

    db.init_app(app)
    app.register_blueprint(health.bp)
    return app

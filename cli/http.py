"""The client side of the HTTP API for ``backprop submit`` and ``backprop batch --server``:
one place that turns every network or server failure into one clear line."""

from __future__ import annotations

from typing import Any

import click


class Api:
    """A token-signed session on ``SERVER/api/v1``."""

    def __init__(self, server: str, token: str) -> None:
        import requests

        self.server = server.rstrip("/")
        self.base = self.server + "/api/v1"
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def call(self, method: str, path: str, *, raw: bool = False, timeout: float = 30,
             **kw) -> Any:
        """Return the JSON body (or the text when ``raw``); raise ClickException on failure.

        The server's message may quote what was sent (a file's text or name, an id), so it
        is shown with control characters made visible.
        """
        import requests

        from grader.text import visible

        try:
            response = self.session.request(method, self.base + path, timeout=timeout, **kw)
        except requests.RequestException as exc:
            raise click.ClickException(f"cannot reach {self.server}: {exc}") from None
        if raw and response.status_code < 400:
            return response.text
        try:
            body = response.json()
        except ValueError:
            raise click.ClickException(
                f"{self.server} answered {response.status_code} without JSON") from None
        if response.status_code >= 400:
            error = body.get("error", body) if isinstance(body, dict) else body
            raise click.ClickException(visible(f"{response.status_code}: {error}"))
        return body

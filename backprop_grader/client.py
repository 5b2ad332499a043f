"""A small client of the course server's API (spec §6) for :func:`backprop_grader.submit`.

``cli.http`` does the same for the console script, but ``cli`` and ``backprop_grader`` are
independent siblings in the import layers, and that one speaks click exceptions; this one
raises :class:`GraderError` with one line per failure, never a traceback of requests'
internals (what a student can act on: the token, the exercise id, the size, waiting).
"""

from __future__ import annotations

import time
from typing import Any

from backprop_grader.errors import GraderError
from grader.text import visible

#: What each refusal means for the person at the notebook, and what to do about it.
_MEANING = {
    400: ("the server refused the submission", ""),
    401: ("the server did not accept your token",
          " — get one with `backprop token EMAIL` or from your instructor"),
    403: ("not allowed", ""),
    404: ("not found", ""),
    413: ("too large", ""),
    429: ("too many submissions", " — wait a little"),
}


class Client:
    """A token-signed session on ``SERVER/api/v1``."""

    def __init__(self, server: str, token: str) -> None:
        import requests

        self.server = server.rstrip("/")
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def call(self, method: str, path: str, **kw: Any) -> dict[str, Any]:
        """Return the JSON body; raise :class:`GraderError` (one line) on any failure."""
        import requests

        try:
            response = self.session.request(method, f"{self.server}/api/v1{path}",
                                            timeout=30, **kw)
        except requests.Timeout:
            raise GraderError(f"cannot reach {visible(self.server)}: timed out") from None
        except requests.ConnectionError:
            raise GraderError(f"cannot reach {visible(self.server)}: connection failed "
                              "(is the server address right?)") from None
        except requests.RequestException as exc:
            raise GraderError(f"cannot reach {visible(self.server)}: "
                              f"{type(exc).__name__}") from None
        try:
            body = response.json()
        except ValueError:
            raise GraderError(f"{visible(self.server)} answered {response.status_code} "
                              "without JSON: is this a backprop-grader server?") from None
        if response.status_code >= 400:
            said = body.get("error", "") if isinstance(body, dict) else ""
            meaning, hint = _MEANING.get(response.status_code, ("the server refused", ""))
            wait = response.headers.get("Retry-After")
            if response.status_code == 429 and wait:
                hint = f" — retry after {wait} s"
            raise GraderError(visible(f"{meaning} ({response.status_code}): {said}{hint}"))
        if not isinstance(body, dict):
            raise GraderError(f"{visible(self.server)} answered an unexpected body")
        return body

    def submit_and_wait(self, exercise: str, code: str, timeout: float) -> dict[str, Any]:
        """POST the submission, poll it until ``done`` and return the last body."""
        created = self.call("POST", "/submissions", json={"exercise": exercise, "code": code})
        ident = created.get("id")
        if not isinstance(ident, int):
            raise GraderError("the server answered without a submission id")
        deadline = time.monotonic() + timeout
        delay = 0.2
        while True:
            body = self.call("GET", f"/submissions/{ident}")
            if body.get("status") == "done" and isinstance(body.get("result"), dict):
                return body
            if time.monotonic() > deadline:
                raise GraderError(f"submission {ident} was not graded after {timeout:g} s; "
                                  f"see {visible(self.server)}/submissions/{ident} later")
            time.sleep(delay)
            delay = min(delay * 1.5, 2.0)

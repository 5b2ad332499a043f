"""Security acceptance 8: property tests of the API against its own OpenAPI document.

Schemathesis generates requests for every operation of ``/api/v1/openapi.json`` and calls the
Flask app in process (WSGI) with a valid bearer token. Every response must not be a 5xx and
must conform to the document (status code, content type, JSON schema — including the result
schema of spec §4 for graded submissions). Bounded: 50 examples per operation.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.web.helpers import (
    EX2_CORRECT,
    assignment_id,
    set_assignment,
    submission,
    token,
    user,
    wrong_result,
)
from web.api.v1.openapi import document
from web.db import db
from web.models import Submissions
from web.services.gradings import claim

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]
#: PostgreSQL's INTEGER, the id columns' type in production.
MAX_ID = 2**31 - 1


@pytest.fixture
def api_user(app) -> dict[str, str]:
    """A student with a token and submissions in every state (ids 1–4 are hers)."""
    uid = user(app, "alice@example.org")
    ident = assignment_id(app, "COURSE-A")
    submission(app, uid, ident, EX2_CORRECT)  # queued
    running = submission(app, uid, ident, EX2_CORRECT)
    submission(app, uid, ident, EX2_CORRECT, result=wrong_result())  # done, failing tensors
    submission(app, uid, None, EX2_CORRECT, exercise_id="makemore4/ex2",
               result=wrong_result())  # done, outside any assignment
    with app.app_context():
        claim(db.session.get(Submissions, running).current_grading_id, "test-worker", 3)
        db.session.remove()
    # No cap or interval: valid submissions answer 202 until the API's 30/minute limit (429).
    set_assignment(app, ident, max_submissions=None, min_interval_seconds=0)
    return {"Authorization": f"Bearer {token(app, 'alice@example.org')}"}


@pytest.fixture
def api_schema(app, api_user):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)

    return schema


def _operations() -> list[str]:
    """Return the labels of the document's operations, e.g. ``POST /submissions``."""
    doc = document()
    return [f"{method.upper()} {path}" for path, item in doc["paths"].items()
            for method in item]


def _operation(schema, label: str):
    """Return the schema's operation with this label."""
    return next(r.ok() for r in schema.get_all_operations() if r.ok().label == label)


def _run(schema, label: str, test, max_examples: int) -> None:
    """Run ``test(case)`` on cases generated for one operation (bounded, reproducible).

    Schemathesis' own pytest plugin (``schemathesis.pytest.from_fixture``) does not run under
    this pytest (AttributeError: '_nodeid'), so the operation's strategy is driven directly.
    """
    operation = _operation(schema, label)

    @given(case=operation.as_strategy())
    @settings(max_examples=max_examples, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def run(case) -> None:
        test(case)

    run()


@pytest.mark.parametrize("label", _operations())
def test_the_api_conforms_to_its_document(api_schema, api_user, label) -> None:
    seen = set()

    def check(case) -> None:
        response = case.call_and_validate(headers=api_user, checks=CHECKS)
        seen.add(response.status_code)

    # First the cases that reach every documented answer (before the API's 30/minute limit
    # turns POSTs into 429s), then the generated ones.
    operation = _operation(api_schema, label)
    if label == "GET /submissions/{id}":
        for ident in (1, 2, 3, 4, 5, 0):  # queued, running, done, done (no assignment), none
            check(operation.Case(path_parameters={"id": ident}))
        assert {200, 404} <= seen
    elif label == "POST /submissions":
        for body in ({"exercise": "makemore4/ex2", "code": EX2_CORRECT},
                     {"exercise": "makemore4/ex3", "code": "#" * 300_000},
                     {"exercise": "makemore4/ex2", "code": "x\x00"},
                     {"exercise": "nope/nope", "code": ""}, {"exercise": 1, "code": ""}):
            check(operation.Case(body=body, media_type="application/json"))
        assert {202, 400, 404, 413} <= seen, seen
    _run(api_schema, label, check, max_examples=50)
    if label == "POST /submissions":
        assert 429 in seen  # the 30/minute limit answers with the documented error


@pytest.mark.parametrize("label", _operations())
def test_without_a_token_every_operation_is_401_or_public(api_schema, label) -> None:
    def check(case) -> None:
        response = case.call(headers={"Authorization": "Bearer not-a-valid-token"})
        case.validate_response(response, checks=CHECKS)
        expected = 200 if label == "GET /exercises" else 401
        assert response.status_code == expected, (case.path, response.status_code)

    _run(api_schema, label, check, max_examples=15)

"""Security acceptance 7: the JSON API of spec §6 — token auth, 202 on submit, state and result,
clear JSON errors, the exercise list, and a valid OpenAPI document."""

from __future__ import annotations

import jsonschema
import pytest
import schemathesis

from grader import get_exercise, load_exercises
from grader.grade import grade
from grader.result import RESULT_SCHEMA
from tests.web.helpers import EX2_CORRECT, submission, token, user, wrong_result
from web.db import db
from web.models import ApiTokens, Submissions, Users
from web.services.gradings import claim, store_result

SUBMIT = "/api/v1/submissions"


@pytest.fixture
def api(app):
    """Return (client, headers, user id) for alice, a COURSE-A student with a token."""
    uid = user(app, "alice@example.org")
    return app.test_client(), {"Authorization": f"Bearer {token(app, 'alice@example.org')}"}, uid


def _assert_error(response, status: int) -> str:
    assert response.status_code == status, response.data[:500]
    assert response.is_json, response.data[:500]
    body = response.get_json()
    assert set(body) == {"error"} and isinstance(body["error"], str) and body["error"].strip()
    return body["error"]


# -- authentication ----------------------------------------------------------------------------

@pytest.mark.parametrize("header", [
    None, "", "Bearer", "Bearer ", "Bearer not-a-token", "Basic dXNlcjpwYXNz", "Token abc",
], ids=["none", "empty", "bearer-only", "bearer-blank", "bad-token", "basic", "other-scheme"])
@pytest.mark.parametrize("method,path", [("GET", "/api/v1/submissions/1"), ("POST", SUBMIT)])
def test_401_without_a_valid_bearer_token(app, api, header, method, path) -> None:
    client, _, uid = api
    submission(app, uid, None, EX2_CORRECT)
    headers = {"Authorization": header} if header is not None else {}
    response = client.open(path, method=method, headers=headers,
                           json={"exercise": "makemore4/ex2", "code": EX2_CORRECT})
    message = _assert_error(response, 401)
    assert "token" in message.lower()
    assert "makemore4" not in response.get_data(as_text=True)


def test_a_token_is_not_taken_from_the_query_or_a_cookie(app, api) -> None:
    client, headers, _ = api
    raw = headers["Authorization"].split()[1]
    _assert_error(client.get(f"/api/v1/submissions/1?token={raw}"), 401)
    client.set_cookie("token", raw)
    _assert_error(client.get("/api/v1/submissions/1"), 401)


def test_a_signed_in_browser_session_is_not_an_api_credential(app, api) -> None:
    """The API ignores the session cookie (it is CSRF-exempt because it needs a token)."""
    from tests.web.helpers import login

    client, _, uid = api
    sub = submission(app, uid, None, EX2_CORRECT)
    login(client, "alice@example.org")
    _assert_error(client.get(f"/api/v1/submissions/{sub}"), 401)
    _assert_error(client.post(SUBMIT, json={"exercise": "makemore4/ex2", "code": "x"}), 401)


def test_tokens_are_stored_hashed_and_revocable(app, api) -> None:
    client, headers, uid = api
    raw = headers["Authorization"].split()[1]
    with app.app_context():
        rows = db.session.query(ApiTokens).filter_by(user_id=uid).all()
        assert rows and all(raw not in r.token_hash for r in rows)
    assert client.get("/api/v1/submissions/999", headers=headers).status_code == 404
    with app.app_context():
        db.session.delete(db.session.get(Users, uid))
        db.session.commit()
    _assert_error(client.get("/api/v1/submissions/999", headers=headers), 401)


def test_token_scheme_is_case_insensitive(app, api) -> None:
    client, headers, _ = api
    lower = {"Authorization": headers["Authorization"].replace("Bearer", "bearer")}
    assert client.get("/api/v1/submissions/999", headers=lower).status_code == 404


# -- submitting and polling ------------------------------------------------------------------

def test_submit_answers_202_queued_then_state_then_result(app, api, sandbox) -> None:
    client, headers, uid = api
    response = client.post(SUBMIT, headers=headers,
                           json={"exercise": "makemore4/ex2", "code": EX2_CORRECT})
    assert response.status_code == 202
    body = response.get_json()
    assert set(body) == {"id", "status"} and body["status"] == "queued"
    assert isinstance(body["id"], int)
    ident = body["id"]

    state = client.get(f"/api/v1/submissions/{ident}", headers=headers).get_json()
    assert state["id"] == ident and state["status"] == "queued"
    assert state["exercise"] == "makemore4/ex2" and "result" not in state
    assert state["created_at"].endswith("Z")

    with app.app_context():
        grading_id = db.session.get(Submissions, ident).current_grading_id
        job = claim(grading_id, "test-worker", 3)
    assert job is not None
    state = client.get(f"/api/v1/submissions/{ident}", headers=headers).get_json()
    assert state["status"] == "running" and "result" not in state

    # Grade for real in the sandbox, as the worker would, and store the result.
    result = grade(get_exercise(job.exercise_id), job.code, sandbox=sandbox, student=job.student)
    with app.app_context():
        assert store_result(grading_id, result)
    state = client.get(f"/api/v1/submissions/{ident}", headers=headers).get_json()
    assert state["status"] == "done"
    jsonschema.Draft202012Validator(RESULT_SCHEMA).validate(state["result"])
    assert state["result"]["status"] == "graded"
    assert state["result"]["score"] == state["result"]["max_score"] == 1.0
    assert state["result"] == result.to_json()


def test_a_failing_result_with_arrays_validates_too(app, api) -> None:
    client, headers, uid = api
    ident = submission(app, uid, None, EX2_CORRECT, result=wrong_result())
    state = client.get(f"/api/v1/submissions/{ident}", headers=headers).get_json()
    assert state["status"] == "done"
    jsonschema.Draft202012Validator(RESULT_SCHEMA).validate(state["result"])
    assert state["result"]["tensors"][0]["status"] == "wrong"


def test_submitting_without_an_assignment_is_stored_for_the_user(app) -> None:
    """A user in no course may still use the API (no quota applies)."""
    user(app, "solo@example.org", course=None)
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token(app, 'solo@example.org')}"}
    for _ in range(2):
        response = client.post(SUBMIT, headers=headers,
                               json={"exercise": "makemore4/ex3", "code": "x = 1\n"})
        assert response.status_code == 202
    assert client.get(f"/api/v1/submissions/{response.get_json()['id']}",
                      headers=headers).status_code == 200


# -- errors ------------------------------------------------------------------------------------

@pytest.mark.parametrize("data,content_type", [
    ("{not json", "application/json"),
    ('{"exercise": "makemore4/ex2", "code": "x"', "application/json"),
    ("", "application/json"),
    ("exercise=makemore4/ex2&code=x", "application/x-www-form-urlencoded"),
    ('{"exercise": "makemore4/ex2", "code": "x"}', "text/plain"),
    (b"\xff\xfe\x00garbage", "application/json"),
], ids=["garbage", "truncated", "empty", "form", "text-plain", "binary"])
def test_400_on_malformed_json(api, data, content_type) -> None:
    client, headers, _ = api
    message = _assert_error(client.post(SUBMIT, headers=headers, data=data,
                                        content_type=content_type), 400)
    assert "JSON" in message


@pytest.mark.parametrize("body,word", [
    ([], "JSON object"), ("makemore4/ex2", "JSON object"), (None, "JSON object"),
    (42, "JSON object"),
    ({}, '"exercise"'), ({"code": "x"}, '"exercise"'),
    ({"exercise": 5, "code": "x"}, '"exercise"'), ({"exercise": "", "code": "x"}, '"exercise"'),
    ({"exercise": ["makemore4/ex2"], "code": "x"}, '"exercise"'),
    ({"exercise": None, "code": "x"}, '"exercise"'),
    ({"exercise": "makemore4/ex2"}, '"code"'),
    ({"exercise": "makemore4/ex2", "code": 5}, '"code"'),
    ({"exercise": "makemore4/ex2", "code": ["x"]}, '"code"'),
    ({"exercise": "makemore4/ex2", "code": {"a": 1}}, '"code"'),
    ({"exercise": "makemore4/ex2", "code": None}, '"code"'),
    ({"exercise": "makemore4/ex2", "code": "x\x00y"}, "NUL"),
])
def test_400_on_wrong_types(app, api, body, word) -> None:
    client, headers, uid = api
    message = _assert_error(client.post(SUBMIT, headers=headers, json=body), 400)
    assert word in message
    from tests.web.helpers import submission_count

    assert submission_count(app, uid) == 0


@pytest.mark.parametrize("exercise", ["makemore5/ex1", "makemore4/ex9", "../../etc/passwd",
                                      "makemore4/EX1", "x" * 300])
def test_404_on_an_unknown_exercise_names_it_and_the_known_ones(api, exercise) -> None:
    client, headers, _ = api
    message = _assert_error(client.post(SUBMIT, headers=headers,
                                        json={"exercise": exercise, "code": EX2_CORRECT}), 404)
    assert "unknown exercise" in message
    assert exercise[:40] in message
    assert "makemore4/ex1" in message


def test_404_on_an_unknown_submission(api) -> None:
    client, headers, _ = api
    message = _assert_error(client.get("/api/v1/submissions/424242", headers=headers), 404)
    assert "424242" in message


@pytest.mark.parametrize("method,path,status", [
    ("GET", "/api/v1/nothing-here", 404), ("DELETE", "/api/v1/submissions/1", 405),
    ("PUT", SUBMIT, 405), ("GET", SUBMIT, 405), ("POST", "/api/v1/exercises", 405),
    ("GET", "/api/v1/submissions/abc", 404), ("GET", "/api/v1/submissions/-1", 404),
])
def test_other_api_errors_are_json(api, method, path, status) -> None:
    client, headers, _ = api
    _assert_error(client.open(path, method=method, headers=headers), status)


@pytest.mark.parametrize("raw", [
    '{"exercise": "makemore4/ex2", "code": "def backward(t):\\n    return {} # \\ud800"}',
    '{"exercise": "makemore4/ex\\ud800", "code": "x"}',
], ids=["code", "exercise"])
def test_a_lone_surrogate_is_a_400_not_a_500(app, raw) -> None:
    user(app, "solo@example.org", course=None)  # no assignment: no quota in the way
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token(app, 'solo@example.org')}"}
    response = client.post(SUBMIT, headers=headers, data=raw, content_type="application/json")
    assert response.status_code in (400, 404), response.data


def test_an_id_beyond_the_integer_range_is_a_404(api) -> None:
    client, headers, _ = api
    _assert_error(client.get(f"/api/v1/submissions/{2**64}", headers=headers), 404)


# -- the exercise list and the OpenAPI document -------------------------------------------------

def test_the_exercise_list_needs_no_token(app, client) -> None:
    response = client.get("/api/v1/exercises")
    assert response.status_code == 200
    items = response.get_json()
    assert [e["id"] for e in items] == sorted(load_exercises())
    assert {"makemore4/ex1", "makemore4/ex2", "makemore4/ex3", "makemore4/ex4"} <= \
        {e["id"] for e in items}
    for e in items:
        assert e["title"] == get_exercise(e["id"]).title
        assert e["max_score"] == get_exercise(e["id"]).max_score


def test_the_openapi_document_is_valid_and_describes_the_api(app) -> None:
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    schema.validate()  # against the OpenAPI 3.1 meta-schema; raises when invalid
    operations = {op.ok().label for op in schema.get_all_operations()}
    assert operations == {"GET /exercises", "POST /submissions", "GET /submissions/{id}",
                          "GET /courses/{code}/submissions", "POST /courses/{code}/batches",
                          "GET /courses/{code}/batches/{batch_id}"}
    raw = schema.raw_schema
    assert raw["openapi"].startswith("3.")
    assert raw["components"]["securitySchemes"]["bearer"] == {"type": "http",
                                                              "scheme": "bearer"}
    responses = raw["paths"]["/submissions"]["post"]["responses"]
    assert {"202", "400", "401", "404", "413", "429"} <= set(responses)
    # Every URL the document declares exists in the app.
    rules = {r.rule for r in app.url_map.iter_rules()}
    for path in raw["paths"]:
        flask_path = "/api/v1" + path.replace("{id}", "<int:submission_id>").replace(
            "{code}", "<code>").replace("{batch_id}", "<int:batch_id>")
        assert flask_path in rules, path
    # The Result schema in the document is the result JSON schema of spec §4.
    result = {k: v for k, v in RESULT_SCHEMA.items() if k != "$schema"}
    assert raw["components"]["schemas"]["Result"] == result

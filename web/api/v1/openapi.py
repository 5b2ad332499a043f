"""GET /api/v1/openapi.json: the API described for clients and for schemathesis."""

from __future__ import annotations

from typing import Any

from flask import jsonify

from grader.result import RESULT_SCHEMA
from web.api import bp

_ERROR = {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}}


_BATCH = {
    "type": "object", "required": ["id", "course", "assignment", "progress", "files"],
    "properties": {
        "id": {"type": "integer"}, "course": {"type": "string"},
        "assignment": {"type": "integer"}, "exercise": {"type": "string"},
        "layout": {"enum": ["plain", "canvas", "gradescope"]},
        "progress": {"type": "object", "properties": {
            k: {"type": "integer"} for k in ("total", "done", "running", "queued", "failed",
                                              "unsettled")}},
        "files": {"type": "array", "items": {"type": "object", "properties": {
            "name": {"type": "string"},
            "status": {"enum": ["submitted", "unmatched", "ambiguous", "unconfirmed",
                                "duplicate", "refused"]},
            "student": {"type": ["string", "null"]},
            "submission": {"type": ["integer", "null"]},
            "message": {"type": "string"}}}}}}


def _err(description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def document() -> dict[str, Any]:
    """Return the OpenAPI 3.1 document."""
    result = {k: v for k, v in RESULT_SCHEMA.items() if k != "$schema"}
    return {
        "openapi": "3.1.0",
        "info": {"title": "backprop-grader API", "version": "1"},
        "servers": [{"url": "/api/v1"}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Error": _ERROR, "Result": result},
        },
        "security": [{"bearer": []}],
        "paths": {
            "/submissions": {"post": {
                "summary": "Store a submission and queue it for grading",
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["exercise", "code"],
                    "properties": {"exercise": {"type": "string"},
                                   "code": {"type": "string"}}}}}},
                "responses": {
                    "202": {"description": "queued; or done at once, not gradable, when the "
                                           "code does not compile (no attempt used)",
                            "content": {"application/json": {
                        "schema": {"type": "object", "required": ["id", "status"],
                                   "properties": {"id": {"type": "integer"},
                                                  "status": {"enum": ["queued", "done"]}}}}}},
                    "400": _err("malformed request"), "401": _err("missing or bad token"),
                    "403": _err("the course is archived"), "404": _err("unknown exercise"),
                    "413": _err("code too large"),
                    "429": _err("submission cap or rate limit reached")}}},
            "/submissions/{id}": {"get": {
                "summary": "A submission's state and, when done, its result",
                "parameters": [{"name": "id", "in": "path", "required": True,
                                "schema": {"type": "integer"}}],
                "responses": {
                    "200": {"description": "the submission", "content": {"application/json": {
                        "schema": {"type": "object", "required": ["id", "status", "exercise"],
                                   "properties": {
                                       "id": {"type": "integer"},
                                       "exercise": {"type": "string"},
                                       "status": {"enum": ["queued", "running", "done"]},
                                       "gradable": {"type": "boolean"},
                                       "created_at": {"type": "string"},
                                       "scoring": {"enum": ["strict", "carry_forward"]},
                                       "counted_score": {"type": ["number", "null"]},
                                       "result": {"$ref": "#/components/schemas/Result"}}}}}},
                    "401": _err("missing or bad token"),
                    "404": _err("no such submission, or neither yours nor your course's")}}},
            "/courses/{code}/submissions": {"get": {
                "summary": "A course's submissions, for its staff (instructors and TAs)",
                "parameters": [
                    {"name": "code", "in": "path", "required": True,
                     "schema": {"type": "string"}},
                    {"name": "exercise", "in": "query", "schema": {"type": "string"}},
                    {"name": "after", "in": "query", "description": "continue after this id",
                     "schema": {"type": "integer", "minimum": 0}},
                    {"name": "limit", "in": "query",
                     "schema": {"type": "integer", "minimum": 1, "maximum": 5000}}],
                "responses": {
                    "200": {"description": "a page of submissions, oldest first", "content": {
                        "application/json": {"schema": {
                            "type": "object", "required": ["course", "submissions", "next"],
                            "properties": {
                                "course": {"type": "string"},
                                "next": {"type": ["string", "null"]},
                                "submissions": {"type": "array", "items": {
                                    "type": "object",
                                    "required": ["id", "student", "exercise", "status",
                                                 "created_at"],
                                    "properties": {
                                        "id": {"type": "integer"},
                                        "student": {"type": "string"},
                                        "exercise": {"type": "string"},
                                        "assignment": {"type": ["integer", "null"]},
                                        "status": {"enum": ["queued", "running", "done"]},
                                        "counted_score": {"type": ["number", "null"]},
                                        "max_score": {"type": ["number", "null"]},
                                        "created_at": {"type": "string"}}}}}}}}},
                    "400": _err("bad after or limit"), "401": _err("missing or bad token"),
                    "404": _err("no such course, or not its staff")}}},
            "/courses/{code}/batches": {"post": {
                "summary": "Grade a zip of a course's files for one assignment (staff)",
                "parameters": [{"name": "code", "in": "path", "required": True,
                                "schema": {"type": "string"}}],
                "requestBody": {"required": True, "content": {"multipart/form-data": {
                    "schema": {"type": "object", "required": ["file", "exercise"],
                               "properties": {
                                   "file": {"type": "string", "format": "binary"},
                                   "exercise": {"type": "string", "description":
                                                "exercise id or assignment id"}}}}}},
                "responses": {
                    "202": {"description": "stored and queued", "content": {
                        "application/json": {"schema": _BATCH}}},
                    "400": _err("not a zip, a refused zip, or no assignment named"),
                    "401": _err("missing or bad token"),
                    "403": _err("a TA, or the course is archived"),
                    "404": _err("no such course or assignment, or not its staff"),
                    "413": _err("the zip is too large")}}},
            "/courses/{code}/batches/{batch_id}": {"get": {
                "summary": "A batch's progress and what became of every file",
                "parameters": [{"name": "code", "in": "path", "required": True,
                                "schema": {"type": "string"}},
                               {"name": "batch_id", "in": "path", "required": True,
                                "schema": {"type": "integer", "minimum": 1}}],
                "responses": {
                    "200": {"description": "the batch", "content": {
                        "application/json": {"schema": _BATCH}}},
                    "401": _err("missing or bad token"),
                    "404": _err("no such batch, or not its course's staff")}}},
            "/exercises": {"get": {
                "summary": "The exercise list", "security": [],
                "responses": {"200": {"description": "exercises", "content": {
                    "application/json": {"schema": {"type": "array", "items": {
                        "type": "object", "required": ["id", "title"],
                        "properties": {"id": {"type": "string"}, "title": {"type": "string"},
                                       "max_score": {"type": "number"}}}}}}}}}},
        },
    }


@bp.get("/openapi.json")
def openapi():
    """Return the OpenAPI document."""
    return jsonify(document())

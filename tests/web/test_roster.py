"""The course roster: parsing roster CSV files, planning and applying imports all-or-nothing,
adding and removing members, and the staff pages (upload → preview → apply), on the real
migrated SQLite app of the fixtures."""

from __future__ import annotations

import hashlib
import random
import re
import string
from contextlib import contextmanager
from io import BytesIO

import pytest
from flask import Flask
from sqlalchemy import event, func, select

from tests.web.helpers import (
    EX2_CORRECT,
    PASSWORD,
    assignment_id,
    csrf_token,
    login,
    submission,
    submission_count,
    text,
    user,
    visible_text,
)
from tests.web.helpers import parse as parse_html
from web.db import db
from web.models import Courses, Enrolments, Users
from web.services import roster
from web.services.roster import ENROL, NEW_USER, UNCHANGED, UPDATE, Row, parse
from web.views.staff.roster import encode

HEADER = "email,name,student_id,section\n"


def csv_bytes(*rows: str, header: str = HEADER) -> bytes:
    return (header + "".join(r + "\n" for r in rows)).encode()


def errors(parsed) -> list[str]:
    return [str(e) for e in parsed.errors]


# -- parse ------------------------------------------------------------------------------------

def test_header_in_any_order_with_aliases_bom_and_semicolons() -> None:
    data = ("\ufeffSection;Full Name;Extra;E-Mail;Student ID\n"
            "S1;Ada Lovelace;x;Ada@Example.org;123\n").encode()
    p = parse(data)
    assert p.ok, errors(p)
    assert p.delimiter == ";" and p.header
    assert p.columns == ("email", "name", "student_id", "section")
    assert p.rows == [Row(2, "ada@example.org", "Ada Lovelace", "123", "S1")]


@pytest.mark.parametrize("header, expect", [
    ("mail,studentid,group", ("x@example.org", None, "7", "G")),
    ("EMAIL ADDRESS,student_number,sections", ("x@example.org", None, "7", "G")),
    ("e-mail,id,Group", ("x@example.org", None, "7", "G")),
])
def test_header_aliases(header: str, expect: tuple) -> None:
    p = parse(csv_bytes("x@example.org,7,G", header=header + "\n"))
    assert p.ok, errors(p)
    assert (p.rows[0].email, p.rows[0].name, p.rows[0].student_id, p.rows[0].section) == expect


def test_a_canvas_export_takes_the_sis_id_over_canvas_own_id() -> None:
    p = parse(csv_bytes("Lovelace Ada,4711,s123,ada@example.org,Lab 1",
                        header="Student,ID,SIS User ID,Email,Section\n"))
    assert p.ok, errors(p)
    assert p.rows == [Row(2, "ada@example.org", "Lovelace Ada", "s123", "Lab 1")]


def test_first_name_and_surname_columns_make_the_name() -> None:
    p = parse(csv_bytes("Ada,Lovelace,ada@example.org", header="First name,Surname,Email\n"))
    assert p.rows[0].name == "Ada Lovelace"


def test_no_header_when_the_first_cell_is_an_address_blank_lines_and_line_numbers() -> None:
    data = b"\r\nada@example.org,Ada,1,S1\r\n\r\n,,,\r\nbob@example.org,Bob\r\n"
    p = parse(data)
    assert p.ok, errors(p)
    assert not p.header
    assert p.rows == [Row(2, "ada@example.org", "Ada", "1", "S1"),
                      Row(5, "bob@example.org", "Bob", None, None)]


def test_a_header_is_required() -> None:
    p = parse(b"first,second\nada@example.org,Ada\n")
    assert errors(p) == [p.errors[0].__str__()]
    assert p.errors[0].line == 1 and "header" in p.errors[0].message
    assert "email (required), name, student_id, section" in p.errors[0].message
    p = parse(b"\n\nname,section\nAda,S1\n")
    assert p.errors[0].line == 3 and "no e-mail column" in p.errors[0].message


def test_duplicates_are_reported_with_both_lines() -> None:
    p = parse(csv_bytes("ada@example.org,Ada,1,S1", "bob@example.org,Bob,2,S1",
                        "", "ADA@example.org,Ada again,3,S1", "cy@example.org,Cy,2,S2"))
    assert errors(p) == ["line 5: ada@example.org: same e-mail as line 2",
                         "line 6: student id 2: same student id as line 3"]
    assert [r.line for r in p.rows] == [2, 3]


def test_bad_addresses_use_the_one_email_rule() -> None:
    p = parse(csv_bytes("not-an-address,A", "x@localhost,B", "ok@example.org,C", ",D"))
    lines = {e.line: e.message for e in p.errors}
    assert set(lines) == {2, 3, 5}
    assert "not-an-address is not a usable e-mail address" in lines[2]
    assert "x@localhost is not a usable e-mail address" in lines[3]
    assert lines[5] == "no e-mail address"
    assert [r.email for r in p.rows] == ["ok@example.org"]


def test_over_long_fields() -> None:
    ok = parse(csv_bytes(f"a@example.org,{'n' * 120},{'1' * 64},{'s' * 64}"))
    assert ok.ok, errors(ok)
    p = parse(csv_bytes(f"a@example.org,{'n' * 121},{'1' * 65},{'s' * 65}"))
    assert errors(p) == ["line 2: the name is 121 characters long (at most 120)",
                         "line 2: the student id is 65 characters long (at most 64)",
                         "line 2: the section is 65 characters long (at most 64)"]
    assert not p.rows


@pytest.mark.parametrize("cell, code", [("Ada\x1b[2J", "001B"), ("Ada\u202eecalevoL", "202E"),
                                        ('"Ada\nLovelace"', "000A"), ("Ada\x07", "0007")])
def test_control_characters_in_a_field(cell: str, code: str) -> None:
    p = parse(csv_bytes("a@example.org,Ada", f"b@example.org,{cell},2"))
    assert errors(p) == [f"line 3: the name contains a control character (U+{code})"]
    p = parse(csv_bytes("a\x1b@example.org,Ada"))
    assert errors(p) == ["line 2: the e-mail contains a control character (U+001B)"]


def test_formula_like_values_are_text() -> None:
    name = "=cmd|' /C calc'!A0"
    p = parse(csv_bytes(f"a@example.org,\"{name}\",+1,@S"))
    assert p.ok, errors(p)
    assert p.rows[0] == Row(2, "a@example.org", name, "+1", "@S")


@pytest.mark.parametrize("data, words, line", [
    (b"email,name\nj@example.org,Jos\xe9\n", "not UTF-8", 2),
    ("email\nj@example.org\n".encode("utf-16"), "UTF-16", None),
    (b"PK\x03\x04\x14\x00\x06\x00garbage", "spreadsheet", None),
    (b"email\nj@exa\x00mple.org\n", "NUL", 2),
    (b"", "empty", None),
    (b"\n \n\r\n", "empty", None),
    (b"email,name\n", "header but no rows", None),
    (b'email,name\na@example.org,"Ada\n', "quote", 2),
])
def test_unreadable_files_get_one_clear_error(data: bytes, words: str, line: int | None) -> None:
    p = parse(data)
    assert len(p.errors) == 1 and words in p.errors[0].message, errors(p)
    assert p.errors[0].line == line
    assert not p.rows


def test_random_garbage_never_raises() -> None:
    rng = random.Random(7)
    for _ in range(50):
        p = parse(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 400))))
        assert p.errors or p.rows is not None


def test_limits_rows_and_size() -> None:
    rows = [f"u{i}@example.org,U{i},{i}," for i in range(roster.MAX_ROWS + 1)]
    p = parse(csv_bytes(*rows))
    assert errors(p) == [f"line {roster.MAX_ROWS + 2}: the file has more than 20,000 rows "
                         "(this is one too many): split it into smaller files"]
    p = parse(HEADER.encode() + b"x" * roster.MAX_BYTES)
    assert len(p.errors) == 1 and "at most 2 MiB" in p.errors[0].message


# -- plan and apply ---------------------------------------------------------------------------

@pytest.fixture
def course_a(app: Flask) -> dict[str, int]:
    """COURSE-A: instructor teach-a, students alice (id A1, section S1), bob (B2) and eve,
    TA tina; carol has an account in COURSE-B only."""
    ids = {
        "teach": user(app, "teach-a@example.org", "instructor", "COURSE-A"),
        "alice": user(app, "alice@example.org", "student", "COURSE-A"),
        "bob": user(app, "bob@example.org", "student", "COURSE-A"),
        "eve": user(app, "eve@example.org", "student", "COURSE-A"),
        "carol": user(app, "carol@example.org", "student", "COURSE-B"),
        "tina": user(app, "tina@example.org", "student", None),  # staff need an account
    }
    with app.app_context():
        c = get_course("COURSE-A")
        for who, sid, section in (("alice", "A1", "S1"), ("bob", "B2", "S1"), ("eve", "E3", "S2")):
            e = db.session.scalar(select(Enrolments).where(Enrolments.user_id == ids[who]))
            e.student_number, e.section = sid, section
        db.session.commit()
        roster.add_member(c, "tina@example.org", "Tina", role="ta")
        with pytest.raises(roster.RosterError, match="no account yet"):
            roster.add_member(c, "ghost@example.org", role="instructor")
    return ids


def get_course(code: str) -> Courses:
    return db.session.scalar(select(Courses).where(Courses.code == code))


def table_counts() -> tuple[int, int]:
    return (db.session.scalar(select(func.count()).select_from(Users)),
            db.session.scalar(select(func.count()).select_from(Enrolments)))


def test_plan_kinds_fields_staff_rows_and_students_not_in_the_file(app, course_a) -> None:
    data = csv_bytes("dave@example.org,Dave,D4,S3",       # 2: new account
                     "carol@example.org,Carol,C5,S3",     # 3: enrol an existing account
                     "alice@example.org,,,S2",            # 4: update (blank cells: keep)
                     "eve@example.org,eve,E3,S2",         # 5: unchanged
                     "tina@example.org,Tina,,")           # 6: staff: error
    with app.app_context():
        p = roster.plan(get_course("COURSE-A"), parse(data))
    kinds = {c.line: c.kind for c in p.changes}
    assert kinds == {2: NEW_USER, 3: ENROL, 4: UPDATE, 5: UNCHANGED}
    by_line = {c.line: c for c in p.changes}
    assert by_line[4].fields == (("section", "S1", "S2"),)
    assert by_line[2].fields == (("name", "", "Dave"), ("student_id", "", "D4"),
                                 ("section", "", "S3"))
    assert by_line[3].user_id == course_a["carol"]
    assert [str(e) for e in p.errors] == [
        "line 6: tina@example.org is staff of this course (ta): the roster import only "
        "manages students"]
    assert [a.email for a in p.absent] == ["bob@example.org"]
    assert p.counts == {NEW_USER: 1, ENROL: 1, UPDATE: 1, UNCHANGED: 1, "absent": 1,
                        "errors": 1}


def test_a_student_id_of_another_member_is_an_error_but_a_swap_is_not(app, course_a) -> None:
    with app.app_context():
        c = get_course("COURSE-A")
        p = roster.plan(c, parse(csv_bytes("dave@example.org,Dave,B2,")))
        assert [str(e) for e in p.errors] == [
            "line 2: student id B2 is already used by bob@example.org in this course"]
        p = roster.plan(c, parse(csv_bytes("alice@example.org,,B2,", "bob@example.org,,A1,")))
        assert p.ok, [str(e) for e in p.errors]
        assert roster.apply(c, p)[UPDATE] == 2
        got = {email: sid for email, sid in db.session.execute(
            select(Users.email, Enrolments.student_number).join(Enrolments)
            .where(Enrolments.course_id == c.id))}
        assert got["alice@example.org"] == "B2" and got["bob@example.org"] == "A1"


def test_apply_creates_invited_accounts_enrols_and_updates_in_one_go(app, course_a) -> None:
    data = csv_bytes("dave@example.org,Dave,D4,S3", "carol@example.org,Carol,C5,S3",
                     "alice@example.org,Alice L.,,S2", "eve@example.org,,,")
    with app.app_context():
        c = get_course("COURSE-A")
        counts = roster.apply(c, roster.plan(c, parse(data)))
        assert counts == {NEW_USER: 1, ENROL: 1, UPDATE: 1, UNCHANGED: 1, "absent": 1}
        assert roster.summary(counts) == ("2 added (1 invited), 1 updated, 1 unchanged, "
                                          "1 not in the file (kept)")
        m = {x.email: x for x in roster.members(c)}
        assert not m["dave@example.org"].claimed and m["dave@example.org"].name == "Dave"
        assert (m["dave@example.org"].student_number, m["dave@example.org"].section) == \
            ("D4", "S3")
        assert m["carol@example.org"].claimed and m["carol@example.org"].section == "S3"
        # alice registered: her name is hers, a roster does not rename her (the section moves)
        assert (m["alice@example.org"].name, m["alice@example.org"].student_number,
                m["alice@example.org"].section) == ("alice", "A1", "S2")
        assert "bob@example.org" in m  # not in the file: kept


@pytest.mark.parametrize("bad_row", ["not-an-address,X,,", "tina@example.org,,,",
                                     "zed@example.org,,B2,"])
def test_apply_is_all_or_nothing(app, course_a, bad_row: str) -> None:
    data = csv_bytes("dave@example.org,Dave,D4,S3", "alice@example.org,,,S9", bad_row,
                     "carol@example.org,,,")
    with app.app_context():
        c = get_course("COURSE-A")
        before = table_counts()
        p = roster.plan(c, parse(data))
        assert len(p.errors) == 1 and p.errors[0].line == 4
        with pytest.raises(roster.RosterError, match="1 error: nothing was changed"):
            roster.apply(c, p)
        db.session.expire_all()
        assert table_counts() == before
        assert {m.email: m.section for m in roster.members(c)}["alice@example.org"] == "S1"


def test_apply_plans_again_instead_of_trusting_a_stale_preview(app, course_a) -> None:
    with app.app_context():
        c = get_course("COURSE-A")
        p = roster.plan(c, parse(csv_bytes("dave@example.org,Dave,D4,", "frank@example.org,,F6,")))
        assert [x.kind for x in p.changes] == [NEW_USER, NEW_USER]
        # meanwhile dave gets an account elsewhere, and bob the student id frank was to get
        user(app, "dave@example.org", "student", "COURSE-B")
        bob = db.session.scalar(select(Enrolments).where(Enrolments.user_id == course_a["bob"]))
        bob.student_number = "F6"
        db.session.commit()
        before = table_counts()
        with pytest.raises(roster.RosterError, match="1 error"):
            roster.apply(c, p)
        assert table_counts() == before
        p = roster.plan(c, parse(csv_bytes("dave@example.org,Dave,D4,")))
        assert roster.apply(c, p)[ENROL] == 1  # an account now: enrolled, not created again


@contextmanager
def count_statements():
    seen: list[str] = []

    def listen(conn, cursor, statement, *args) -> None:
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", listen)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", listen)


def roster_file(n: int, prefix: str) -> bytes:
    """n rows: every other one a new account, the rest existing accounts of COURSE-B."""
    return csv_bytes(*(f"{prefix}{i}@example.org,P{i},{prefix}{i},S{i % 3}" for i in range(n)))


@pytest.mark.parametrize("step", ["plan", "apply"])
def test_the_query_count_does_not_grow_with_the_rows(app, course_a, step: str) -> None:
    with app.app_context():
        # existing accounts not in the course, to be enrolled
        for prefix, n in (("small", 10), ("large", 200)):
            db.session.add_all(Users(email=f"{prefix}{i}@example.org", name="x")
                               for i in range(0, n, 2))
        db.session.commit()
        counts = []
        for prefix, n in (("small", 10), ("large", 200)):
            c = get_course("COURSE-A")
            parsed = parse(roster_file(n, prefix))
            assert parsed.ok
            with count_statements() as seen:
                p = roster.plan(c, parsed)
                if step == "apply":
                    assert roster.apply(c, p)[NEW_USER] == n // 2
            counts.append(len(seen))
        assert counts[0] == counts[1], (counts, seen[:40])


def test_add_and_remove_members(app, course_a) -> None:
    with app.app_context():
        c = get_course("COURSE-A")
        e, invited = roster.add_member(c, " Gus@Example.org ", "Gus", "G7", "S1")
        assert invited and e.role == "student" and e.user.email == "gus@example.org"
        assert e.user.password_hash is None
        e, invited = roster.add_member(c, "carol@example.org", role="instructor")
        assert not invited and e.role == "instructor"
        with pytest.raises(roster.RosterError, match="already in this course"):
            roster.add_member(c, "gus@example.org")
        with pytest.raises(roster.RosterError, match="already used by gus@example.org"):
            roster.add_member(c, "hal@example.org", student_id="G7")
        with pytest.raises(roster.RosterError, match="role must be one of"):
            roster.add_member(c, "hal@example.org", role="admin")
        with pytest.raises(roster.AccountError, match="not a usable e-mail address"):
            roster.add_member(c, "hal@localhost")
        with pytest.raises(roster.RosterError, match="control character"):
            roster.add_member(c, "hal@example.org", name="Hal\x1b[2J")
        roster.remove_member(c, course_a["carol"])
        with pytest.raises(roster.RosterError, match="last instructor"):
            roster.remove_member(c, course_a["teach"])
        with pytest.raises(roster.RosterError, match="not a member"):
            roster.remove_member(c, course_a["carol"])
        assert "carol@example.org" not in {m.email for m in roster.members(c)}
        assert db.session.get(Users, course_a["carol"]) is not None  # the account stays


def test_members_search_section_and_one_query(app, course_a) -> None:
    with app.app_context():
        c = get_course("COURSE-A")
        with count_statements() as seen:
            everyone = roster.members(c)
        assert len(seen) == 1
        assert [m.role for m in everyone][:2] == ["instructor", "ta"]
        assert {m.email for m in roster.members(c, q="ALI")} == {"alice@example.org"}
        assert {m.email for m in roster.members(c, q="e3")} == {"eve@example.org"}
        assert {m.email for m in roster.members(c, q="%")} == set()
        assert {m.email for m in roster.members(c, section="S1")} == \
            {"alice@example.org", "bob@example.org"}
        assert roster.sections(c) == ["S1", "S2"]
        tina = [m for m in everyone if m.email == "tina@example.org"][0]
        assert tina.claimed and tina.role == "ta"


def test_an_invited_student_claims_the_account_by_registering(app, client, course_a) -> None:
    with app.app_context():
        c = get_course("COURSE-A")
        roster.apply(c, roster.plan(c, parse(csv_bytes("dave@example.org,Dave,D4,S3"))))
        dave = db.session.scalar(select(Users.id).where(Users.email == "dave@example.org"))
    page = client.get("/register")
    form = {"email": "dave@example.org", "name": "Dave", "course": "COURSE-A",
            "password": PASSWORD, "confirm": PASSWORD, "csrf_token": csrf_token(page.data)}
    # without the roster's student id the address is just taken (invitations stay secret)
    for student_id in ("", "D5"):
        refused = client.post("/register", data={**form, "student_id": student_id})
        assert "already exists" in text(refused), student_id
    r = client.post("/register", data={**form, "student_id": " d4 "})
    assert r.status_code == 302, visible_text(text(r))[:2000]
    with app.app_context():
        u = db.session.get(Users, dave)
        assert u.password_hash is not None
        e = db.session.scalar(select(Enrolments).where(Enrolments.user_id == dave))
        assert (e.student_number, e.section) == ("D4", "S3")
    login(app.test_client(), "dave@example.org")


# -- pages ------------------------------------------------------------------------------------

URL = "/staff/courses/COURSE-A/roster"


def signed_in(app: Flask, email: str):
    c = app.test_client()
    login(c, email)
    return c


def hidden(html: str, name: str) -> str:
    for field in parse_html(html).inputs:
        if field.get("name") == name:
            return str(field.get("value"))
    raise AssertionError(f"no input {name}")


def forms_to(html: str, suffix: str) -> list[dict]:
    return [f for f in parse_html(html).forms if (f.get("action") or "").endswith(suffix)]


def stats(html: str) -> dict[str, str]:
    """Return the preview's counts by label ("new", "updated", "errors", …)."""
    return {label: n for n, label in re.findall(
        r'<span class="stat"[^>]*><b>(\d+)</b> ([^<]+)</span>', html)}


def test_upload_preview_apply(app, course_a) -> None:
    c = signed_in(app, "teach-a@example.org")
    page = c.get(URL)
    assert page.status_code == 200
    assert forms_to(text(page), "/roster/import") and forms_to(text(page), "/roster/add")
    data = csv_bytes("dave@example.org,Dave,D4,S3", "carol@example.org,Carol,C5,S3",
                     "alice@example.org,,,S2")
    r = c.post(URL + "/import", data={"csrf_token": csrf_token(page.data),
                                      "upload": (BytesIO(data), "class.csv")},
               content_type="multipart/form-data")
    assert r.status_code == 200, text(r)[:2000]
    body = text(r)
    shown = visible_text(body)
    assert stats(body) == {"new": "1", "enrolled": "1", "updated": "1", "unchanged": "0",
                           "kept": "2", "errors": "0"}
    assert "section: S1 → S2" in shown and "bob@example.org" in body  # not in the file
    assert hashlib.sha256(data).hexdigest() in body
    assert hidden(body, "sha256") == hashlib.sha256(data).hexdigest()
    (apply_form,) = forms_to(body, "/roster/apply")
    with app.app_context():
        before = table_counts()
    r = c.post(URL + "/apply", data={"csrf_token": hidden(body, "csrf_token"),
                                     "content": hidden(body, "content"),
                                     "sha256": hidden(body, "sha256")})
    assert r.status_code == 302 and r.headers["Location"].endswith(URL)
    with app.app_context():
        assert table_counts() == (before[0] + 1, before[1] + 2)
    page = c.get(URL)
    shown = visible_text(text(page))
    assert "2 added (1 invited), 1 updated, 0 unchanged, 2 not in the file (kept)" in shown
    assert re.search(r"dave@example\.org\s*<span class=\"badge invited\"", text(page))


def test_pasted_text_is_previewed_too(app, course_a) -> None:
    c = signed_in(app, "teach-a@example.org")
    page = c.get(URL)
    r = c.post(URL + "/import", data={"csrf_token": csrf_token(page.data),
                                      "text": "e-mail;name\r\ndave@example.org;Dave\r\n"},
               content_type="multipart/form-data")
    assert r.status_code == 200
    assert stats(text(r))["new"] == "1" and forms_to(text(r), "/roster/apply")


def test_errors_are_shown_by_line_and_nothing_can_be_applied(app, course_a) -> None:
    c = signed_in(app, "teach-a@example.org")
    page = c.get(URL)
    data = csv_bytes("dave@example.org,Dave,D4,S3", "dave@example.org,Dave,,",
                     "x@localhost,X,,", "tina@example.org,,,", "eve@example.org,\"Eve\x1b[2J\",,")
    with app.app_context():
        before = table_counts()
    r = c.post(URL + "/import", data={"csrf_token": csrf_token(page.data),
                                      "upload": (BytesIO(data), "bad.csv")},
               content_type="multipart/form-data")
    assert r.status_code == 200
    body, shown = text(r), visible_text(text(r))
    assert "line 3: dave@example.org: same e-mail as line 2" in shown
    assert "line 4: x@localhost is not a usable e-mail address" in shown
    assert "line 5: tina@example.org is staff of this course" in shown
    assert "line 6: the name contains a control character (U+001B)" in shown
    assert stats(body)["errors"] == "4"
    assert "\x1b" not in body
    assert not forms_to(body, "/roster/apply") and "Apply these changes" not in body
    # forcing the apply anyway changes nothing
    r = c.post(URL + "/apply", data={"csrf_token": csrf_token(page.data),
                                     "content": encode(data),
                                     "sha256": hashlib.sha256(data).hexdigest()})
    assert r.status_code == 409 and "Nothing was changed" in visible_text(text(r))
    with app.app_context():
        assert table_counts() == before


@pytest.mark.parametrize("data", [b"\xff\xfe\x00\x01garbage", b"", b"PK\x03\x04\x00\x00",
                                  bytes(range(256)) * 4])
def test_garbage_uploads_get_a_clear_error(app, course_a, data: bytes) -> None:
    c = signed_in(app, "teach-a@example.org")
    page = c.get(URL)
    r = c.post(URL + "/import", data={"csrf_token": csrf_token(page.data),
                                      "upload": (BytesIO(data), "x.csv")},
               content_type="multipart/form-data")
    assert r.status_code == 200
    assert "error" in visible_text(text(r)) and not forms_to(text(r), "/roster/apply")
    assert "Traceback" not in text(r)


def test_a_missing_file_or_a_tampered_apply_is_refused(app, course_a) -> None:
    c = signed_in(app, "teach-a@example.org")
    page = c.get(URL)
    token = csrf_token(page.data)
    r = c.post(URL + "/import", data={"csrf_token": token}, content_type="multipart/form-data")
    assert r.status_code == 400 and "Choose a CSV file" in text(r)
    data = csv_bytes("dave@example.org,Dave,D4,S3")
    with app.app_context():
        before = table_counts()
    for content, digest in ((encode(data), "0" * 64), ("%%%not base64", "0" * 64),
                            (encode(data)[:-8], hashlib.sha256(data).hexdigest())):
        r = c.post(URL + "/apply", data={"csrf_token": token, "content": content,
                                         "sha256": digest}, follow_redirects=True)
        assert "did not arrive intact" in visible_text(text(r))
    with app.app_context():
        assert table_counts() == before


def test_add_and_remove_with_a_confirmation(app, course_a) -> None:
    submission(app, course_a["bob"], assignment_id(app, "COURSE-A"), EX2_CORRECT)
    c = signed_in(app, "teach-a@example.org")
    page = c.get(URL)
    token = csrf_token(page.data)
    r = c.post(URL + "/add", data={"csrf_token": token, "email": "Gus@Example.org",
                                   "name": "Gus", "student_id": "G7", "section": "S1",
                                   "role": "student"})
    assert r.status_code == 302
    assert "invited" in visible_text(text(c.get(URL)))
    r = c.post(URL + "/add", data={"csrf_token": token, "email": "gus@localhost",
                                   "role": "student"})
    assert r.status_code == 400 and "not a usable e-mail address" in visible_text(text(r))
    r = c.post(URL + "/add", data={"csrf_token": token, "email": "x@example.org",
                                   "role": "admin"})
    assert r.status_code == 400
    # remove: the first POST asks, the second removes; the submissions stay
    r = c.post(f"{URL}/{course_a['bob']}/remove", data={"csrf_token": token})
    assert r.status_code == 200 and "Remove bob@example.org" in visible_text(text(r))
    with app.app_context():
        assert db.session.scalar(select(Enrolments).where(
            Enrolments.user_id == course_a["bob"])) is not None
    r = c.post(f"{URL}/{course_a['bob']}/remove", data={"csrf_token": token, "confirm": "yes"})
    assert r.status_code == 302
    with app.app_context():
        assert db.session.scalar(select(Enrolments).where(
            Enrolments.user_id == course_a["bob"])) is None
    assert submission_count(app, course_a["bob"]) == 1
    r = c.post(f"{URL}/{course_a['teach']}/remove", data={"csrf_token": token,
                                                          "confirm": "yes"},
               follow_redirects=True)
    assert "last instructor" in visible_text(text(r))
    assert c.post(f"{URL}/{course_a['carol']}/remove",
                  data={"csrf_token": token}).status_code == 404
    assert c.post(f"{URL}/99999999999/remove", data={"csrf_token": token}).status_code == 404


def test_hostile_names_are_shown_not_acted_on(app, course_a) -> None:
    with app.app_context():
        db.session.get(Users, course_a["bob"]).name = "Bob\x1b]52;c;ZXZpbA==\x07\u202e<b>x</b>"
        db.session.commit()
    body = text(signed_in(app, "teach-a@example.org").get(URL))
    assert "Bob␛]52;c;ZXZpbA==␇⟨U+202E⟩&lt;b&gt;x&lt;/b&gt;" in body
    assert "\x1b" not in body and "\u202e" not in body


def test_who_may_see_and_change_the_roster(app, course_a) -> None:
    user(app, "teach-b@example.org", "instructor", "COURSE-B")
    ta = signed_in_ta(app)
    page = ta.get(URL)
    assert page.status_code == 200 and "alice@example.org" in text(page)
    assert not forms_to(text(page), "/roster/import") and not forms_to(text(page), "/remove")
    token = csrf_token(page.data)
    for path, data in ((URL + "/import", {"text": "email\na@example.org\n"}),
                       (URL + "/add", {"email": "z@example.org", "role": "student"}),
                       (URL + "/apply", {"content": "x", "sha256": "0" * 64}),
                       (f"{URL}/{course_a['bob']}/remove", {"confirm": "yes"})):
        assert ta.post(path, data={"csrf_token": token, **data}).status_code == 403, path
    for who in ("teach-b@example.org", "alice@example.org"):
        c = signed_in(app, who)
        token = csrf_token(c.get("/join").data)
        assert c.get(URL).status_code == 404
        assert c.post(URL + "/import", data={"csrf_token": token,
                                             "text": "email\na@example.org\n"}).status_code == 404
    anonymous = app.test_client()
    r = anonymous.get(URL)
    assert r.status_code == 302 and "/login" in r.headers["Location"]
    with app.app_context():
        assert db.session.scalar(select(Enrolments).where(
            Enrolments.user_id == course_a["bob"])) is not None


def signed_in_ta(app: Flask):
    with app.app_context():
        from werkzeug.security import generate_password_hash

        tina = db.session.scalar(select(Users).where(Users.email == "tina@example.org"))
        tina.password_hash = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")
        db.session.commit()
    return signed_in(app, "tina@example.org")


def test_upload_limits(make_app) -> None:
    app = make_app(MAX_CONTENT_LENGTH=3 * 1024 * 1024)
    user(app, "teach-a@example.org", "instructor", "COURSE-A")
    c = signed_in(app, "teach-a@example.org")
    token = csrf_token(c.get(URL).data)
    big = HEADER.encode() + b"a@example.org,A,1,S\n" * (roster.MAX_BYTES // 20 + 1)
    r = c.post(URL + "/import", data={"csrf_token": token, "upload": (BytesIO(big), "big.csv")},
               content_type="multipart/form-data")
    assert r.status_code == 400 and "larger than 2 MiB" in visible_text(text(r))
    # a file the apply form could not carry back within the request limit: the CLI is named
    rng = random.Random(1)
    alphabet = string.ascii_letters + string.digits
    data = csv_bytes(*(f"u{i}@example.org,{''.join(rng.choices(alphabet, k=60))},,"
                       for i in range(200)))
    app = make_app(MAX_CONTENT_LENGTH=len(data) + 700)
    user(app, "teach-a@example.org", "instructor", "COURSE-A")
    c = signed_in(app, "teach-a@example.org")
    r = c.post(URL + "/import", data={"csrf_token": csrf_token(c.get(URL).data),
                                      "upload": (BytesIO(data), "wide.csv")},
               content_type="multipart/form-data")
    assert r.status_code == 200, visible_text(text(r))[:500]
    assert stats(text(r))["new"] == "200"
    assert not forms_to(text(r), "/roster/apply")
    assert "backprop roster import COURSE-A FILE.csv" in visible_text(text(r))

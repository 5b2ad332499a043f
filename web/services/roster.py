"""A course's roster: importing a roster CSV (parse → plan → apply), adding and removing members.

The pages under ``/staff/courses/<code>/roster`` and ``backprop roster import`` share these
functions; nothing here reads a request.

An import runs in three steps:

1. :func:`parse` reads the CSV bytes (UTF-8 with or without a BOM, comma- or
   semicolon-separated, a header naming the columns in any order — or no header when the
   first cell is an e-mail address) into rows, reporting every problem with its line number
   (the physical line of the file, the header being line 1).
2. :func:`plan` compares the rows with the database: per row a new (invited) account, an
   enrolment of an existing account, an update of a member's name / student id / section, or
   nothing to do; plus the course's students the file does not name (they are kept: an
   import never removes anyone). It runs a constant number of queries whatever the size.
3. :func:`apply` applies a plan all-or-nothing, in one transaction, after planning again
   from the parsed rows (the database may have changed since the preview).

A blank cell (or a missing column) leaves what is stored unchanged; it never clears it. A
member's name is their account's name (it is what every course shows); an account that
exists but is not in the course yet keeps its name when it is enrolled, so one course's
roster cannot rename another course's students.
Values are stored as the text they are: a name such as ``=cmd|' /C calc'!A0`` is a name
here; exports defuse formulas (``grader.text.csv_cell``) when they write cells.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError

from grader.text import BIDI, visible
from web.db import db
from web.models import (
    COURSE_ROLES,
    INSTRUCTOR,
    STAFF_ROLES,
    STUDENT,
    Courses,
    Enrolments,
    Users,
    utcnow,
)
from web.services.accounts import AccountError, normalize_email

#: Limits of one roster file.
MAX_BYTES = 2 * 1024 * 1024
MAX_ROWS = 20_000
#: Longest value per field (the columns' sizes).
MAX_LENGTH = {"name": 120, "student_id": 64, "section": 64}
#: The standard columns, in the order of a file without a header.
FIELDS = ("email", "name", "student_id", "section")
#: What each field is called in the pages and messages.
LABELS = {"email": "e-mail", "name": "name", "student_id": "student id", "section": "section"}
#: Header names per field, best first (a Canvas export has both "ID" and "SIS User ID": the
#: SIS id is the student id). Compared without case, spaces or punctuation.
ALIASES: dict[str, tuple[str, ...]] = {
    "email": ("email", "emailaddress", "mail", "mailaddress", "courriel"),
    "name": ("name", "fullname", "studentname", "displayname", "student", "sortablename"),
    "student_id": ("studentid", "studentnumber", "studentno", "sisuserid", "sisid",
                   "idnumber", "matriculationnumber", "registrationnumber", "id"),
    "section": ("section", "sectionname", "sections", "group", "groupname", "groups",
                "tutorialgroup"),
}
#: A name split in two columns (Moodle's "First name", "Surname") is joined.
FIRST_NAMES = ("firstname", "givenname", "forename", "first")
LAST_NAMES = ("lastname", "surname", "familyname", "last")
#: The largest IN list sent in one query.
IN_CHUNK = 1000

#: What a plan does with a row.
NEW_USER, ENROL, UPDATE, UNCHANGED = "new_user", "enrol", "update", "unchanged"
KINDS = (NEW_USER, ENROL, UPDATE, UNCHANGED)

_HEADER_HELP = ("the first line must be a header naming the columns: email (required), name, "
                "student_id, section — in any order, separated by commas or semicolons "
                "(or leave the header out and start with an e-mail address)")


class RosterError(ValueError):
    """A user-facing problem with a roster change (clear message, nothing stored)."""


def _writable(course: Courses) -> None:
    if course.archived_at is not None:
        raise RosterError(f"course {course.code} is archived: restore it to change its roster")


@dataclass(frozen=True)
class Issue:
    """One problem of a roster file: its line (None: the whole file) and what is wrong."""

    line: int | None
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line is not None else self.message


@dataclass(frozen=True)
class Row:
    """One valid row of a roster file. None: the file gives no value (keep what is stored)."""

    line: int
    email: str
    name: str | None = None
    student_id: str | None = None
    section: str | None = None


@dataclass
class Parsed:
    """A parsed roster file: its valid rows and every problem found."""

    rows: list[Row] = field(default_factory=list)
    errors: list[Issue] = field(default_factory=list)
    #: The standard fields the file has (``FIELDS`` order).
    columns: tuple[str, ...] = ()
    header: bool = True
    delimiter: str = ","
    sha256: str = ""
    size: int = 0
    #: Every valid address in the file, rows with other problems included.
    emails: set[str] = field(default_factory=set)

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass(frozen=True)
class Change:
    """What a plan does with one row; ``fields`` lists (field, old, new) of what it sets."""

    line: int
    kind: str
    email: str
    name: str
    student_id: str | None
    section: str | None
    fields: tuple[tuple[str, str, str], ...] = ()
    user_id: int | None = None


@dataclass(frozen=True)
class Absent:
    """A student of the course that the file does not name (kept)."""

    user_id: int
    email: str
    name: str
    student_id: str | None
    section: str | None


@dataclass
class Plan:
    """What importing a parsed file would change, and every problem (parse and database)."""

    parsed: Parsed
    changes: list[Change] = field(default_factory=list)
    errors: list[Issue] = field(default_factory=list)
    absent: list[Absent] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def counts(self) -> dict[str, int]:
        """Return the number of rows per kind, of absent students and of errors."""
        n = Counter(c.kind for c in self.changes)
        return {**{k: n[k] for k in KINDS}, "absent": len(self.absent),
                "errors": len(self.errors)}


@dataclass(frozen=True)
class Member:
    """One row of the roster page."""

    user_id: int
    email: str
    name: str
    student_number: str | None
    section: str | None
    role: str
    claimed: bool


# -- parse ------------------------------------------------------------------------------------

def _key(cell: str) -> str:
    """Return a header cell as compared with the aliases ("E-Mail Address" → emailaddress)."""
    return re.sub(r"[^0-9a-z]", "", cell.lower())


def _clean(cell: str) -> str:
    return cell.strip(" \t\u00a0")


def _shown(value: str, limit: int = 60) -> str:
    """Return a value for a message: visible, and cut when long."""
    return visible(value if len(value) <= limit else value[:limit] + "…")


def control_character(text: str) -> str | None:
    """Return the first control, bidi or line-separator character of ``text``, or None."""
    for c in text:
        if c in BIDI or c in "\u2028\u2029" or unicodedata.category(c) == "Cc":
            return c
    return None


def check_value(name: str, value: str) -> str | None:
    """Return what is wrong with a name, student id or section value, or None."""
    c = control_character(value)
    if c is not None:
        return f"the {LABELS[name]} contains a control character (U+{ord(c):04X})"
    if len(value) > MAX_LENGTH[name]:
        return (f"the {LABELS[name]} is {len(value)} characters long "
                f"(at most {MAX_LENGTH[name]})")
    return None


def _decode(data: bytes) -> tuple[str | None, Issue | None]:
    """Return the text of a roster file, or the one error saying why it is not readable."""
    fix = "save it as “CSV UTF-8” (comma- or semicolon-separated)"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return None, Issue(None, f"the file is UTF-16 text, not UTF-8: {fix}")
    if data.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")):
        return None, Issue(None, f"the file is a spreadsheet workbook, not CSV text: {fix}")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        return None, Issue(line, f"the file is not UTF-8 text (byte 0x{data[exc.start]:02X} "
                                 f"cannot be read): {fix}")
    if "\x00" in text:
        line = text[:text.index("\x00")].count("\n") + 1
        return None, Issue(line, f"the file contains NUL bytes: it is not CSV text; {fix}")
    return text, None


def _header(cells: list[str]) -> tuple[dict[str, int], tuple[int, int] | None]:
    """Return the column of each field a header names, and the (first, last) name columns."""
    keys = [_key(c) for c in cells]
    found: dict[str, int] = {}
    for name, aliases in ALIASES.items():
        ranked = [(aliases.index(k), i) for i, k in enumerate(keys) if k in aliases]
        if ranked:
            found[name] = min(ranked)[1]
    split = None
    if "name" not in found:
        first = [i for i, k in enumerate(keys) if k in FIRST_NAMES]
        last = [i for i, k in enumerate(keys) if k in LAST_NAMES]
        if first and last:
            split = (first[0], last[0])
    return found, split


def parse(data: bytes) -> Parsed:
    """Parse a roster CSV file; every problem is in ``errors`` with its line number."""
    out = Parsed(sha256=hashlib.sha256(data).hexdigest(), size=len(data))
    if len(data) > MAX_BYTES:
        out.errors.append(Issue(None, f"the file is {len(data) / 1024 / 1024:.1f} MiB: a roster "
                                      f"file is at most {MAX_BYTES // 1024 // 1024} MiB"))
        return out
    text, problem = _decode(data)
    if problem is not None or text is None:
        out.errors.append(problem or Issue(None, "the file cannot be read"))
        return out
    lines = io.StringIO(text, newline="")
    first = next((ln for ln in lines if ln.strip(" \t\r\n,;")), None)
    if first is None:
        out.errors.append(Issue(None, "the file is empty"))
        return out
    out.delimiter = ";" if first.count(";") > first.count(",") else ","
    lines.seek(0)
    reader = csv.reader(lines, delimiter=out.delimiter, strict=True)
    records: list[tuple[int, list[str]]] = []  # (line, cells) of the non-blank records
    broken, end = None, 0
    try:
        for record in reader:
            line, end = end + 1, reader.line_num
            cells = [_clean(c) for c in record]
            if any(cells):
                records.append((line, cells))
                if len(records) > MAX_ROWS + 1:  # enough to know there are too many
                    break
    except csv.Error as exc:
        broken = Issue(end + 1, f"the CSV cannot be read from here on ({exc}): is a quote "
                                "(\") left open?")
    if not records:
        out.errors.append(broken or Issue(None, "the file is empty"))
        return out
    line, cells = records[0]
    columns, split = _header(cells)
    if "email" in columns:
        body = records[1:]
    elif columns or split:
        named = ", ".join(LABELS[f] for f in FIELDS if f in columns) or "a name"
        out.errors.append(Issue(line, f"the header has no e-mail column (it names: {named}); "
                                      f"{_HEADER_HELP}"))
        return _finish(out, columns, split)
    elif "@" in cells[0] and " " not in cells[0]:
        out.header = False
        columns, body = {f: i for i, f in enumerate(FIELDS)}, records
    else:
        out.errors.append(Issue(line, _HEADER_HELP))
        return out
    if len(body) > MAX_ROWS:
        out.errors.append(Issue(body[MAX_ROWS][0], f"the file has more than {MAX_ROWS:,} rows "
                                                   "(this is one too many): split it into "
                                                   "smaller files"))
        return _finish(out, columns, split)
    seen_email: dict[str, int] = {}
    seen_id: dict[str, int] = {}
    for line, cells in body:
        _row(out, line, cells, columns, split, seen_email, seen_id)
    if broken is not None:
        out.errors.append(broken)
    elif not body:
        out.errors.append(Issue(None, "the file has a header but no rows"))
    return _finish(out, columns, split)


def _finish(out: Parsed, columns: dict[str, int], split: tuple[int, int] | None) -> Parsed:
    have = set(columns) | ({"name"} if split else set())
    out.columns = tuple(f for f in FIELDS if f in have)
    return out


def _row(out: Parsed, line: int, cells: list[str], columns: dict[str, int],
         split: tuple[int, int] | None, seen_email: dict[str, int],
         seen_id: dict[str, int]) -> None:
    """Check one data row; add it to ``out.rows`` when it is valid, its problems otherwise."""

    def cell(i: int | None) -> str:
        return cells[i] if i is not None and i < len(cells) else ""

    values = {f: cell(columns.get(f)) for f in FIELDS}
    if split is not None:
        values["name"] = " ".join(v for v in (cell(split[0]), cell(split[1])) if v)
    errors = len(out.errors)
    raw = values["email"]
    email = None
    if not raw:
        out.errors.append(Issue(line, "no e-mail address"
                                + (f" (the row has {len(cells)} columns)"
                                   if columns["email"] >= len(cells) else "")))
    elif (c := control_character(raw)) is not None:
        out.errors.append(Issue(line, f"the e-mail contains a control character "
                                      f"(U+{ord(c):04X})"))
    else:
        try:
            email = normalize_email(raw)
        except AccountError as exc:
            out.errors.append(Issue(line, str(exc)))
    if email is not None:
        if email in seen_email:
            out.errors.append(Issue(line, f"{visible(email)}: same e-mail as line "
                                          f"{seen_email[email]}"))
        else:
            seen_email[email] = line
            out.emails.add(email)
    for name in ("name", "student_id", "section"):
        problem = check_value(name, values[name])
        if problem:
            out.errors.append(Issue(line, problem))
    sid = values["student_id"]
    if sid and check_value("student_id", sid) is None:
        if sid in seen_id:
            out.errors.append(Issue(line, f"student id {_shown(sid)}: same student id as line "
                                          f"{seen_id[sid]}"))
        else:
            seen_id[sid] = line
    if email is not None and len(out.errors) == errors:
        out.rows.append(Row(line, email, values["name"] or None, sid or None,
                            values["section"] or None))


# -- plan -------------------------------------------------------------------------------------

def _chunks(items: list[str]) -> list[list[str]]:
    return [items[i:i + IN_CHUNK] for i in range(0, len(items), IN_CHUNK)]


@dataclass
class _State:
    """What planning loaded: the course's members and the file's existing accounts."""

    members: dict[str, tuple[Enrolments, Users]]
    users: dict[str, Users]


def _load(course: Courses, parsed: Parsed) -> _State:
    """Load the course's enrolments (one query) and the file's accounts (one per 1000)."""
    members = {u.email: (e, u) for e, u in db.session.execute(
        select(Enrolments, Users).join(Users, Enrolments.user_id == Users.id)
        .where(Enrolments.course_id == course.id))}
    wanted = sorted({r.email for r in parsed.rows} - set(members))
    users: dict[str, Users] = {}
    for chunk in _chunks(wanted):
        users.update((u.email, u) for u in db.session.scalars(
            select(Users).where(Users.email.in_(chunk))))
    return _State(members, users)


def _plan(course: Courses, parsed: Parsed) -> tuple[Plan, _State]:
    state = _load(course, parsed)
    result = Plan(parsed=parsed, errors=list(parsed.errors))
    in_file = {r.email for r in parsed.rows if r.student_id}
    # A student id stays taken by a member the file does not give a new one.
    kept_ids = {e.student_number: email for email, (e, _) in state.members.items()
                if e.student_number and email not in in_file}
    for row in parsed.rows:
        holder = kept_ids.get(row.student_id) if row.student_id else None
        if holder is not None and holder != row.email:
            result.errors.append(Issue(row.line, f"student id {_shown(row.student_id or '')} "
                                                 f"is already used by {visible(holder)} in "
                                                 "this course"))
            continue
        member = state.members.get(row.email)
        if member is not None:
            enrolment, u = member
            if enrolment.role in STAFF_ROLES:
                result.errors.append(Issue(row.line, f"{visible(row.email)} is staff of this "
                                                     f"course ({enrolment.role}): the roster "
                                                     "import only manages students"))
                continue
            # A claimed account's name is its owner's (set when they registered, shown in
            # every course they take): a roster renames only an invitation not yet claimed.
            name = row.name if u.password_hash is None else None
            changed = tuple((f, old or "", new) for f, old, new in (
                ("name", u.name, name),
                ("student_id", enrolment.student_number, row.student_id),
                ("section", enrolment.section, row.section)) if new is not None and new != old)
            result.changes.append(Change(
                row.line, UPDATE if changed else UNCHANGED, row.email, name or u.name,
                row.student_id or enrolment.student_number, row.section or enrolment.section,
                changed, u.id))
            continue
        sets = tuple((f, "", v) for f, v in (("student_id", row.student_id),
                                             ("section", row.section)) if v)
        u = state.users.get(row.email)
        if u is not None:
            result.changes.append(Change(row.line, ENROL, row.email, u.name, row.student_id,
                                         row.section, sets, u.id))
        else:
            name = row.name or row.email.split("@")[0]
            result.changes.append(Change(row.line, NEW_USER, row.email, name, row.student_id,
                                         row.section, (("name", "", name), *sets)))
    result.errors.sort(key=lambda i: (i.line is not None, i.line or 0))
    result.absent = sorted(
        (Absent(u.id, email, u.name, e.student_number, e.section)
         for email, (e, u) in state.members.items()
         if e.role == STUDENT and email not in parsed.emails),
        key=lambda a: a.email)
    return result, state


def plan(course: Courses, parsed: Parsed) -> Plan:
    """Return what importing ``parsed`` into ``course`` would change (nothing is changed).

    Runs two queries (one more per 1000 addresses of new accounts), whatever the file's size.
    """
    return _plan(course, parsed)[0]


def apply(course: Courses, plan: Plan) -> dict[str, int]:
    """Apply an import all-or-nothing and commit; return the counts per kind.

    The plan is made again from its parsed rows first, so a preview that the database has
    since outdated is not trusted; any error (then or now) raises RosterError and nothing is
    changed.
    """
    _writable(course)
    if plan.parsed.errors:
        raise RosterError(_refused(len(plan.parsed.errors)))
    fresh, state = _plan(course, plan.parsed)
    if fresh.errors:
        raise RosterError(_refused(len(fresh.errors)))
    now = utcnow()
    by_kind: dict[str, list[Change]] = {k: [] for k in KINDS}
    for change in fresh.changes:
        by_kind[change.kind].append(change)
    try:
        # Bulk statements (a few per thousand rows): the work does not grow query by query.
        ids = {c.email: c.user_id for c in by_kind[ENROL]}
        if by_kind[NEW_USER]:
            ids.update((email, uid) for uid, email in db.session.execute(
                insert(Users).returning(Users.id, Users.email),
                [{"email": c.email, "name": c.name, "role": "student", "password_hash": None,
                  "created_at": now} for c in by_kind[NEW_USER]]))
        enrolments = [{"user_id": ids[c.email], "course_id": course.id, "role": STUDENT,
                       "student_number": c.student_id, "section": c.section, "created_at": now}
                      for c in (*by_kind[NEW_USER], *by_kind[ENROL])]
        if enrolments:
            db.session.execute(insert(Enrolments), enrolments)
        names = [{"id": c.user_id, "name": new} for c in by_kind[UPDATE]
                 for f, _, new in c.fields if f == "name"]
        if names:
            db.session.execute(update(Users), names)
        members = [{"id": state.members[c.email][0].id, "student_number": c.student_id,
                    "section": c.section} for c in by_kind[UPDATE]
                   if any(f != "name" for f, _, _ in c.fields)]
        if members:
            db.session.execute(update(Enrolments), members)
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise RosterError("the roster changed while it was being imported (an account was "
                          "created at the same moment); nothing was changed: try again") \
            from None
    except BaseException:
        db.session.rollback()
        raise
    counts = fresh.counts
    return {k: counts[k] for k in (*KINDS, "absent")}


def _refused(n: int) -> str:
    return f"the roster has {n} error{'s' if n != 1 else ''}: nothing was changed"


def summary(counts: dict[str, int]) -> str:
    """Return the counts of an import in words ("12 added (10 invited), 3 updated, …")."""
    added = counts.get(NEW_USER, 0) + counts.get(ENROL, 0)
    parts = [f"{added} added" + (f" ({counts[NEW_USER]} invited)" if counts.get(NEW_USER)
                                 else ""),
             f"{counts.get(UPDATE, 0)} updated", f"{counts.get(UNCHANGED, 0)} unchanged"]
    if counts.get("absent"):
        parts.append(f"{counts['absent']} not in the file (kept)")
    return ", ".join(parts)


# -- members ----------------------------------------------------------------------------------

def add_member(course: Courses, email: str, name: str = "", student_id: str = "",
               section: str = "", role: str = STUDENT) -> tuple[Enrolments, bool]:
    """Enrol one person (an invited account is created when none exists) and commit.

    Return the enrolment and whether an account was invited. Raise AccountError for an
    unusable address, RosterError for anything else (nothing is stored then).
    """
    _writable(course)
    if role not in COURSE_ROLES:
        raise RosterError(f"the role must be one of {', '.join(COURSE_ROLES)}")
    address = normalize_email(email)
    values = {"name": (name or "").strip(), "student_id": (student_id or "").strip(),
              "section": (section or "").strip()}
    for key, value in values.items():
        problem = check_value(key, value)
        if problem:
            raise RosterError(problem)
    u = db.session.scalar(select(Users).where(Users.email == address))
    if role in STAFF_ROLES and (u is None or u.password_hash is None):
        # Nobody checks that a registrant owns an address (nothing is e-mailed), so a staff
        # seat is never an invitation someone else could claim: staff sign in first.
        raise RosterError(f"{visible(address)} has no account yet: staff are added once they "
                          "have one (they register with the join code, then you add them as "
                          f"{role})")
    if u is not None:
        role_now = db.session.scalar(select(Enrolments.role).where(
            Enrolments.course_id == course.id, Enrolments.user_id == u.id))
        if role_now is not None:
            raise RosterError(f"{visible(address)} is already in this course ({role_now})")
    sid = values["student_id"] or None
    if sid is not None:
        holder = db.session.scalar(select(Users.email).join(Enrolments).where(
            Enrolments.course_id == course.id, Enrolments.student_number == sid))
        if holder is not None:
            raise RosterError(f"student id {_shown(sid)} is already used by "
                              f"{visible(holder)} in this course")
    invited = u is None
    try:
        if u is None:
            u = Users(email=address, name=values["name"] or address.split("@")[0],
                      role="student", password_hash=None)
            db.session.add(u)
        enrolment = Enrolments(user=u, course_id=course.id, role=role, student_number=sid,
                               section=values["section"] or None)
        db.session.add(enrolment)
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise RosterError(f"{visible(address)} was added by someone else at the same moment")\
            from None
    return enrolment, invited


def remove_member(course: Courses, user_id: int) -> Enrolments:
    """Unenrol a member and commit (their account and submissions stay); return the removed
    enrolment. The last instructor of a course cannot be removed."""
    _writable(course)
    enrolment = db.session.scalar(select(Enrolments).where(
        Enrolments.course_id == course.id, Enrolments.user_id == user_id))
    if enrolment is None:
        raise RosterError("that person is not a member of this course")
    if enrolment.role == INSTRUCTOR:
        instructors = db.session.scalar(select(func.count()).select_from(Enrolments).where(
            Enrolments.course_id == course.id, Enrolments.role == INSTRUCTOR))
        if instructors <= 1:
            raise RosterError("the course's last instructor cannot be removed: add another "
                              "instructor first")
    db.session.delete(enrolment)
    db.session.commit()
    return enrolment


def members(course: Courses, q: str | None = None, section: str | None = None) -> list[Member]:
    """Return the course's members (one query), searched by name, e-mail or student id and
    filtered by section; instructors first, then TAs, then students, by name."""
    query = (select(Users.id, Users.email, Users.name, Enrolments.student_number,
                    Enrolments.section, Enrolments.role, Users.password_hash.is_not(None))
             .join(Enrolments, Enrolments.user_id == Users.id)
             .where(Enrolments.course_id == course.id))
    q = (q or "").strip().lower()
    if q:
        query = query.where(func.lower(Users.email).contains(q, autoescape=True)
                            | func.lower(Users.name).contains(q, autoescape=True)
                            | func.lower(Enrolments.student_number).contains(q, autoescape=True))
    if section:
        query = query.where(Enrolments.section == section)
    rank = {INSTRUCTOR: 0, "ta": 1, STUDENT: 2}
    rows = [Member(*r) for r in db.session.execute(query)]
    return sorted(rows, key=lambda m: (rank.get(m.role, 3), m.name.lower(), m.email))


def sections(course: Courses) -> list[str]:
    """Return the course's sections (for the roster page's filter)."""
    return sorted(s for s in db.session.scalars(
        select(Enrolments.section).where(Enrolments.course_id == course.id,
                                         Enrolments.section.is_not(None)).distinct()) if s)

"""Batch grading through the service: a staff upload of a course's files becomes one
submission per matched student, graded by the workers on the bulk queue.

Every file goes the road of a student's own submission (the same code checks, the same
grading task, the same sandbox); what differs is who matched it to a student (the roster,
never a guess), the queue (bulk: live submissions go first) and the time it counts at. The
upload is planned whole and stored in one transaction (all its files and submissions, or
nothing) before any task is sent; the reconciler covers what happens after that, so a batch
survives a worker kill or a restart. The same file for the same student and assignment is
never graded twice (content hash). Shared by the staff pages, the API and the CLI.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from sqlalchemy import case, func, select, update

from web.db import db
from web.models import (
    BATCH,
    DONE,
    FILE_AMBIGUOUS,
    FILE_DUPLICATE,
    FILE_REFUSED,
    FILE_SUBMITTED,
    FILE_UNCONFIRMED,
    FILE_UNMATCHED,
    QUEUED,
    RUNNING,
    STUDENT,
    Assignments,
    Batches,
    BatchFiles,
    Enrolments,
    Gradings,
    Submissions,
    Users,
    utcnow,
)
from web.services import archive, gradings
from web.services.submissions import SubmissionRejected, new_submission

#: The largest upload accepted (the archive's own limit on what it inflates to).
MAX_UPLOAD_BYTES = archive.MAX_TOTAL_BYTES
#: The matcher's statuses → what the instructor sees on the batch page.
_UNSETTLED = {archive.UNMATCHED: FILE_UNMATCHED, archive.AMBIGUOUS: FILE_AMBIGUOUS,
              archive.DUPLICATE: FILE_AMBIGUOUS}
#: Files waiting for the instructor's decision.
WAITING = (FILE_UNMATCHED, FILE_AMBIGUOUS, FILE_UNCONFIRMED)
#: The file a Gradescope submission of several ``.py`` files is graded by.
PREFERRED_FILE = "backward.py"



class BatchError(ValueError):
    """The upload is refused as a whole (message says why); nothing was stored."""


class BatchTooLarge(BatchError):
    """The upload is over the size limit (HTTP 413)."""


def roster(assignment: Assignments) -> list[archive.RosterEntry]:
    """Return the assignment's course's students as the matcher needs them (one query)."""
    rows = db.session.execute(
        select(Users.id, Users.email, Enrolments.student_number, Users.name)
        .join(Enrolments, Enrolments.user_id == Users.id)
        .where(Enrolments.course_id == assignment.course_id, Enrolments.role == STUDENT))
    return [archive.RosterEntry(uid, email, number, name or "") for uid, email, number, name
            in rows]


def counts_at(assignment: Assignments, now: dt.datetime | None = None) -> dt.datetime:
    """Return the time a staff upload's submissions count at: now, but never after the
    deadline — staff collected the files elsewhere (Canvas, Gradescope, e-mail) in time, so
    uploading them late must not make every student late."""
    now = now or utcnow()
    return min(now, assignment.deadline) if assignment.deadline is not None else now


def create(assignment: Assignments, upload: archive.Upload, *, filename: str,
           created_by: int | None) -> Batches:
    """Store a planned upload in one transaction, then queue its gradings (bulk).

    :raise BatchError: when the course is archived; nothing is stored then.
    """
    if assignment.course.archived_at is not None:
        raise BatchError("the course is archived: restore it to grade a batch")
    gradings.lock(assignment)  # two uploads at once must not both miss each other's files
    batch = Batches(assignment_id=assignment.id, created_by=created_by,
                    filename=_short(filename, 255), layout=upload.layout,
                    notes=[_short(n, 500) for n in upload.skipped[:200]] or None)
    db.session.add(batch)
    when = counts_at(assignment)
    # content hashes this assignment already has, per student: nothing is graded twice
    seen = {(u, h): sid for u, h, sid in db.session.execute(
        select(Submissions.user_id, Submissions.code_sha256, func.min(Submissions.id))
        .where(Submissions.assignment_id == assignment.id)
        .group_by(Submissions.user_id, Submissions.code_sha256))}
    new: dict[tuple[int, str], Submissions] = {}  # this upload's, by (student, hash)
    for m in archive.match(upload.files, roster(assignment)):
        f = m.file
        row = BatchFiles(batch=batch, name=_short(f.name, 255), user_id=m.user_id,
                         status=FILE_SUBMITTED, message=f"matched by {m.how}" if m.how else "")
        db.session.add(row)
        if f.problem is not None:
            row.status, row.message = FILE_REFUSED, f.problem
            continue
        if m.status != archive.MATCHED:
            row.status, row.code, row.candidates = _UNSETTLED[m.status], f.code, m.candidates
            row.message = _unsettled_message(m)
            continue
        if m.how == "name":
            # a name is typed by the student: anyone could take a classmate's; staff confirm
            row.status, row.code = FILE_UNCONFIRMED, f.code
            row.message = "matched by name only: confirm it is this student's"
            continue
        key = (m.user_id, hashlib.sha256(f.code.encode("utf-8")).hexdigest())
        if key in seen or key in new:
            row.status = FILE_DUPLICATE
            if key in new:
                row.submission = new[key]
            else:
                row.submission_id = seen[key]
            row.message = "the same file was already submitted: not graded again"
            continue
        try:
            sub = new_submission(exercise_id=assignment.exercise_id, code=f.code,
                                 user_id=m.user_id, assignment_id=assignment.id, reason=BATCH,
                                 batch=batch, source_name=_short(f.name, 255), created_at=when)
        except SubmissionRejected as exc:
            row.status, row.message = FILE_REFUSED, str(exc)
            continue
        if upload.layout == archive.CANVAS and "_late_" in f.name.lower():
            row.message = (row.message + "; " if row.message else "") + "Canvas marked it LATE"
        row.submission = new[key] = sub
    db.session.commit()
    gradings.send_all([sub.current_grading for sub in new.values()])
    return batch


def _unsettled_message(m: archive.Match) -> str:
    if m.status == archive.UNMATCHED:
        return "no roster student fits this file's name: assign it"
    if m.status == archive.DUPLICATE:
        return "another file of this upload is this student's too: assign the right one"
    return f"{len(m.candidates)} roster students fit ({m.how}): assign it"


def _short(text: str, n: int) -> str:
    return text if len(text) <= n else text[:n - 1] + "…"


def read(data: bytes, filename: str) -> archive.Upload:
    """Read an uploaded zip; :class:`BatchError` with the archive's reason when refused."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise BatchTooLarge(f"the upload is over {MAX_UPLOAD_BYTES // 2**20} MiB")
    try:
        return archive.read_archive(data, filename, prefer=PREFERRED_FILE)
    except archive.ArchiveRefused as exc:
        raise BatchError(str(exc)) from None


def course_student(assignment: Assignments, email: str) -> Users:
    """Return the course's student with this e-mail; the same refusal whether or not the
    address has an account elsewhere (nothing to learn about other courses)."""
    from web.services.accounts import AccountError, normalize_email

    try:
        address = normalize_email(email or "")
    except AccountError:
        address = (email or "").strip()
    user = db.session.scalar(
        select(Users).join(Enrolments, Enrolments.user_id == Users.id)
        .where(Users.email == address, Enrolments.course_id == assignment.course_id,
               Enrolments.role == STUDENT))
    if user is None:
        raise BatchError(f"no student with e-mail {address!r} in this course")
    return user


def assign(row: BatchFiles, user: Users | None = None) -> Submissions | None:
    """Grade a waiting file as ``user``'s (an instructor's decision), or confirm a name
    match (``user`` None: the proposed student). Returns None for a duplicate."""
    batch = row.batch
    a = batch.assignment
    if row.status not in WAITING or row.code is None:
        raise BatchError(f"{row.name} is already settled ({row.status})")
    if user is None:
        if row.status != FILE_UNCONFIRMED or row.user is None:
            raise BatchError(f"{row.name} has no proposed student: choose one")
        user = row.user
    user = course_student(a, user.email)
    code, name = row.code, row.name
    # claim the row first: two instructors settling it at once make one submission
    claimed = db.session.execute(update(BatchFiles).where(
        BatchFiles.id == row.id, BatchFiles.status.in_(WAITING))
        .values(status=FILE_SUBMITTED)).rowcount
    if claimed != 1:
        db.session.rollback()
        raise BatchError(f"{name} was just settled by someone else")
    db.session.refresh(row)
    row.user_id, row.code, row.candidates = user.id, None, None
    digest = hashlib.sha256(code.encode("utf-8")).hexdigest()
    twin = db.session.scalar(select(func.min(Submissions.id)).where(
        Submissions.assignment_id == a.id, Submissions.user_id == user.id,
        Submissions.code_sha256 == digest))
    if twin is not None:
        row.status, row.submission_id = FILE_DUPLICATE, twin
        row.message = "the same file was already submitted: not graded again"
        db.session.commit()
        return None
    try:
        sub = new_submission(exercise_id=a.exercise_id, code=code, user_id=user.id,
                             assignment_id=a.id, reason=BATCH, batch_id=batch.id,
                             source_name=name, created_at=counts_at(a, batch.created_at))
    except SubmissionRejected as exc:
        db.session.rollback()
        raise BatchError(str(exc)) from None
    row.submission = sub
    row.message = "confirmed by staff" if row.message.startswith("matched by name") \
        else "assigned by staff"
    db.session.commit()
    gradings.send(sub.current_grading)
    return sub


def confirm_all(batch: Batches) -> int:
    """Confirm every name match of a batch; return how many were settled."""
    rows = [r for r in batch.files if r.status == FILE_UNCONFIRMED]
    for r in rows:
        assign(r)
    return len(rows)


@dataclass(frozen=True)
class Progress:
    """A batch's progress, for the live bar (page, API, CLI)."""

    total: int  # files that became submissions
    done: int
    running: int
    queued: int
    failed: int  # graded with an error (the sandbox or the code failed, not a low score)
    unsettled: int  # files waiting for the instructor (unmatched, ambiguous)
    eta_seconds: int | None

    @property
    def finished(self) -> bool:
        return self.done >= self.total

    def to_json(self) -> dict[str, object]:
        return {"total": self.total, "done": self.done, "running": self.running,
                "queued": self.queued, "failed": self.failed, "unsettled": self.unsettled,
                "eta_seconds": self.eta_seconds, "finished": self.finished}


def progress(batch: Batches, now: dt.datetime | None = None) -> Progress:
    """Count the batch's gradings by state (two queries) and estimate the time left from the
    rate so far."""
    g = Gradings
    row = db.session.execute(
        select(func.count(),
               func.sum(case((g.status == DONE, 1), else_=0)),
               func.sum(case((g.status == RUNNING, 1), else_=0)),
               func.sum(case((g.status == QUEUED, 1), else_=0)),
               func.sum(case(((g.status == DONE) & (g.result_status == "error"), 1), else_=0)),
               func.max(g.finished_at))
        .select_from(Submissions).join(g, g.id == Submissions.current_grading_id)
        .where(Submissions.batch_id == batch.id)).one()
    total, done, running, queued, failed, last = row[0], *(int(x or 0) for x in row[1:5]), \
        row[5]
    unsettled = db.session.scalar(select(func.count()).select_from(BatchFiles).where(
        BatchFiles.batch_id == batch.id,
        BatchFiles.status.in_(WAITING))) or 0
    eta = None
    if 0 < done < total and last is not None:
        rate = done / max((last - batch.created_at).total_seconds(), 1e-3)
        eta = int((total - done) / rate)
    return Progress(total, done, running, queued, failed, unsettled, eta)


def files(batch: Batches) -> list[tuple[BatchFiles, Submissions | None, str]]:
    """Return every file of a batch with its submission and student email (two queries)."""
    rows = list(db.session.execute(
        select(BatchFiles, Submissions, Users.email)
        .outerjoin(Submissions, Submissions.id == BatchFiles.submission_id)
        .outerjoin(Users, Users.id == BatchFiles.user_id)
        .where(BatchFiles.batch_id == batch.id).order_by(BatchFiles.name, BatchFiles.id)))
    return [(f, s, email or "") for f, s, email in rows]


def of_assignment(assignment: Assignments) -> list[Batches]:
    """Return an assignment's batches, newest first."""
    return list(db.session.scalars(select(Batches).where(
        Batches.assignment_id == assignment.id).order_by(Batches.id.desc())))


def result_rows(batch: Batches) -> tuple[list[str], list[list]]:
    """Return the batch CSV's header and rows (SPEC §8: the same columns as a local batch),
    one per graded file — a duplicate shows its earlier twin's result — in file-name order.
    The student column is the matched student's e-mail (a local batch writes the file's
    stem, which is the e-mail in the plain layout)."""
    from grader.batch_csv import header, row
    from grader.result import GradeResult

    graded = [(s, email) for _, s, email in files(batch)
              if s is not None and s.status == DONE and s.result is not None]
    names = [t["name"] for t in graded[0][0].result.get("tensors", [])] if graded else []
    return header(names), [row(email, GradeResult.from_json(s.result), names)
                           for s, email in graded]


def csv_text(batch: Batches) -> str:
    """Return the batch's results as safe CSV text."""
    from grader.text import csv_text as text

    head, rows = result_rows(batch)
    return text([head, *rows])


def students(course_id: int) -> list[tuple[str, str]]:
    """Return the course's students as (email, name), for the assign field's suggestions."""
    return list(db.session.execute(
        select(Users.email, Users.name).join(Enrolments, Enrolments.user_id == Users.id)
        .where(Enrolments.course_id == course_id, Enrolments.role == STUDENT)
        .order_by(Users.email)))

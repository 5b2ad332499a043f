"""The data model: users, courses, assignments, submissions, their gradings and per-tensor
results, batch uploads and regrades.

Plural table names, ``id`` first, ``ondelete="CASCADE"`` on children (CTFd's conventions).
A submission is what a student sent; a grading is one run of an exercise version over it and
the unit of work: committed *before* its task is sent, the task takes only its id, and its
``status`` (queued → running → done) is what the reconciler watches, so nothing is stranded.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from flask_login import UserMixin
from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    func,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from web.db import db

#: Grading states (a submission shows its current grading's).
QUEUED, RUNNING, DONE = "queued", "running", "done"
#: Why a grading ran. A student's own submission goes to the live queue; batch uploads and
#: regrades go to the bulk queue, which workers take only when no live work waits.
SUBMITTED, BATCH, REGRADE = "submitted", "batch", "regrade"
LIVE_QUEUE, BULK_QUEUE = "grading", "bulk"
#: The queues a worker consumes, in this order: with the broker's "priority" queue order it
#: takes bulk work only when no live submission and no reconciler run waits.
WORKER_QUEUES = (LIVE_QUEUE, "maintenance", BULK_QUEUE)
#: Regrade states.
PENDING, APPLIED, DISCARDED = "pending", "applied", "discarded"
#: What became of a batch file.
FILE_SUBMITTED, FILE_UNMATCHED, FILE_AMBIGUOUS, FILE_DUPLICATE, FILE_REFUSED = (
    "submitted", "unmatched", "ambiguous", "duplicate", "refused")
#: Matched by name only: names are typed by students, so staff confirm before it is graded.
FILE_UNCONFIRMED = "unconfirmed"
#: How an assignment counts a submission: "strict" (a tensor must match autograd) or
#: "carry_forward" (a tensor earns its points when it is right given the student's own
#: upstream gradients — exam markers' "error carried forward").
STRICT, CARRY_FORWARD = "strict", "carry_forward"
SCORINGS = (STRICT, CARRY_FORWARD)
ROLES = ("student", "instructor", "admin")
#: Roles within one course. Staff (instructor, TA) read the course's work; only instructors
#: change the course (roster, assignments, staff). A TA may also grant extensions.
STUDENT, TA, INSTRUCTOR = "student", "ta", "instructor"
COURSE_ROLES = (STUDENT, TA, INSTRUCTOR)
STAFF_ROLES = (TA, INSTRUCTOR)
#: Late policies: refuse after the deadline; accept and mark late; or a penalty per started
#: day late, up to a cut-off after which submissions are refused.
REFUSE, ACCEPT, PENALTY = "refuse", "accept", "penalty"
LATE_POLICIES = (REFUSE, ACCEPT, PENALTY)
#: Shape rules: "strict" (a (64,) gradient for a (1, 64) tensor is wrong) or "values" (right
#: values after a reshape earn the points; the shape warning is still shown).
SHAPE_STRICT, SHAPE_VALUES = "strict", "values"
SHAPE_RULES = (SHAPE_STRICT, SHAPE_VALUES)
#: Which submission counts: the best one, or the last one.
BEST, LAST = "best", "last"
COUNTED_RULES = (BEST, LAST)


def queue_for(reason: str) -> str:
    """Return the Celery queue of a grading run for ``reason``: a student's own submission
    is live work, which never waits behind a batch or a regrade."""
    return LIVE_QUEUE if reason == SUBMITTED else BULK_QUEUE


def utcnow() -> dt.datetime:
    """Return the current UTC time (naive: every backend stores it the same way)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def rule_score(score: float | None, carry_forward: float | None, values: float | None,
               values_carry_forward: float | None, scoring: str, shape_rule: str) \
        -> float | None:
    """Return the stored score that counts under a scoring and a shape rule.

    One definition for pages, the gradebook and exports. A score the grader did not compute
    (a submission graded before that rule existed) falls back to the next stricter one.
    """
    if shape_rule == SHAPE_VALUES:
        if scoring == CARRY_FORWARD and values_carry_forward is not None:
            return values_carry_forward
        if values is not None and scoring != CARRY_FORWARD:
            return values
    if scoring == CARRY_FORWARD and carry_forward is not None:
        return carry_forward
    return score


def rule_score_column(scoring: str, shape_rule: str):
    """Return :func:`rule_score` as a SQL expression on ``submissions`` (the same rule: the
    fallbacks are the coalesce order), so a query reads one score column, not four."""
    s = Submissions
    if shape_rule == SHAPE_VALUES and scoring == CARRY_FORWARD:
        return func.coalesce(s.values_carry_forward_score, s.carry_forward_score, s.score)
    if shape_rule == SHAPE_VALUES:
        return func.coalesce(s.values_score, s.score)
    if scoring == CARRY_FORWARD:
        return func.coalesce(s.carry_forward_score, s.score)
    return s.score


class Users(UserMixin, db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(120), default="")
    password_hash: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20), default="student")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    tokens: Mapped[list[ApiTokens]] = relationship(back_populates="user",
                                                   cascade="all, delete-orphan")
    enrolments: Mapped[list[Enrolments]] = relationship(back_populates="user",
                                                        cascade="all, delete-orphan")

    def __repr__(self) -> str:
        return f"<Users {self.id} {self.email} {self.role}>"

    def get_id(self) -> str:
        """The id Flask-Login keeps in the session: ``ID.KEY``, KEY from the password hash.

        Why: a reset link is made for a lost or leaked password; if sessions named only the
        id, whoever had signed in with the old password would stay signed in. The user
        loader (``web.views.auth``) accepts a session only while its key matches, so setting
        a new password signs out every other browser (``login_user`` again keeps this one).
        """
        return f"{self.id}.{self.session_key()}"

    def session_key(self) -> str:
        """A short fingerprint of the password hash (changes with every new password)."""
        return hashlib.sha256((self.password_hash or "").encode()).hexdigest()[:16]


class ApiTokens(db.Model):
    """API tokens, stored as SHA-256 hashes: a leaked database leaks no usable token."""

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(80), default="cli")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime)

    user: Mapped[Users] = relationship(back_populates="tokens")


class Courses(db.Model):
    __table_args__ = (UniqueConstraint("join_code", name="uq_courses_join_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    title: Mapped[str] = mapped_column(String(200), default="")
    #: What a student types to join (register or /join); regenerating it locks out newcomers
    #: who only had the old one. Courses created by ``user add --course`` start with their code.
    join_code: Mapped[str | None] = mapped_column(String(40))
    #: An archived course is read-only: nobody submits, it leaves the lists, its data stays.
    archived_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    enrolments: Mapped[list[Enrolments]] = relationship(back_populates="course",
                                                        cascade="all, delete-orphan")
    assignments: Mapped[list[Assignments]] = relationship(back_populates="course",
                                                          cascade="all, delete-orphan")


class Enrolments(db.Model):
    __table_args__ = (UniqueConstraint("user_id", "course_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"),
                                           index=True)
    #: STUDENT, TA or INSTRUCTOR (``COURSE_ROLES``).
    role: Mapped[str] = mapped_column(String(20), default="student")
    #: The roster's student id (the SIS id of a Canvas gradebook) and section.
    student_number: Mapped[str | None] = mapped_column(String(64))
    section: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    user: Mapped[Users] = relationship(back_populates="enrolments")
    course: Mapped[Courses] = relationship(back_populates="enrolments")


class Assignments(db.Model):
    """A course's exercise with its window, late policy and submission limits."""

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"),
                                           index=True)
    exercise_id: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(200), default="")
    opens_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    deadline: Mapped[dt.datetime | None] = mapped_column(DateTime)
    #: REFUSE, ACCEPT or PENALTY (see web.services.policy for the arithmetic).
    late_policy: Mapped[str] = mapped_column(String(20), default=ACCEPT)
    #: PENALTY: the fraction of the score lost per started day late (0.1 = 10 % a day).
    late_penalty: Mapped[float] = mapped_column(Float, default=0.0)
    #: PENALTY: days after the deadline when late submissions stop being accepted (None: never).
    cutoff_days: Mapped[int | None] = mapped_column(Integer)
    max_submissions: Mapped[int | None] = mapped_column(Integer)
    min_interval_seconds: Mapped[int] = mapped_column(Integer, default=0)
    #: STRICT or CARRY_FORWARD; both scores are stored, this picks the one that counts.
    scoring: Mapped[str] = mapped_column(String(20), default=STRICT, server_default=STRICT)
    #: SHAPE_STRICT or SHAPE_VALUES; every submission stores the scores under both.
    shape_rule: Mapped[str] = mapped_column(String(20), default=SHAPE_STRICT,
                                            server_default=SHAPE_STRICT)
    #: The exercise's maximum score, copied when the assignment is made: the gradebook and
    #: the CLI read it without loading the exercise registry (which imports torch).
    max_score: Mapped[float | None] = mapped_column(Float)
    #: BEST or LAST: which submission counts in the gradebook.
    counted: Mapped[str] = mapped_column(String(10), default=BEST, server_default=BEST)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    course: Mapped[Courses] = relationship(back_populates="assignments")
    extensions: Mapped[list[Extensions]] = relationship(back_populates="assignment",
                                                        cascade="all, delete-orphan")

    @property
    def label(self) -> str:
        """Return the title, or the exercise id when the assignment has none."""
        return self.title or self.exercise_id


class Extensions(db.Model):
    """A personal deadline: one student's own deadline for one assignment."""

    __table_args__ = (UniqueConstraint("assignment_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(
        ForeignKey("assignments.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    deadline: Mapped[dt.datetime] = mapped_column(DateTime)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    assignment: Mapped[Assignments] = relationship(back_populates="extensions")
    user: Mapped[Users] = relationship()


class Submissions(db.Model):
    """What a student sent: the code, who, for which assignment. Each run of an exercise
    over it is a :class:`Gradings` row; ``current_grading`` is the one that counts.

    ``status`` and the score columns mirror the current grading (written only by
    ``web.services.gradings``, in the transaction that changes it): the gradebook's covering
    index reads a course's counted scores without joining the wide grading rows.
    """

    __table_args__ = (Index("ix_submissions_status_updated_at", "status", "updated_at"),
                      # covering: the gradebook reads these columns of a course's graded
                      # submissions without touching the wide rows (code, result JSON)
                      Index("ix_submissions_gradebook", "assignment_id", "status", "user_id",
                            "created_at", "id", "max_score", "score", "carry_forward_score",
                            "values_score", "values_carry_forward_score", "gradable"),
                      Index("ix_submissions_dedupe", "assignment_id", "user_id", "code_sha256"))

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                                index=True)
    assignment_id: Mapped[int | None] = mapped_column(
        ForeignKey("assignments.id", ondelete="CASCADE"), index=True)
    #: The registry id (``Submissions.exercise_class`` → the grader's registry).
    exercise_id: Mapped[str] = mapped_column(String(100))
    code: Mapped[str] = mapped_column(Text)
    code_sha256: Mapped[str] = mapped_column(String(64), index=True)
    #: The grading whose result the student sees and the gradebook counts.
    current_grading_id: Mapped[int | None] = mapped_column(
        ForeignKey("gradings.id", ondelete="SET NULL", use_alter=True))
    #: The staff batch upload this came from (None: the student sent it) and its file name.
    batch_id: Mapped[int | None] = mapped_column(
        ForeignKey("batches.id", ondelete="SET NULL"), index=True)
    source_name: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    # The current grading's state and scores (see the class docstring).
    status: Mapped[str] = mapped_column(String(20), default=QUEUED)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    result_status: Mapped[str | None] = mapped_column(String(20))
    score: Mapped[float | None] = mapped_column(Float)
    #: The score under error-carried-forward scoring (``score`` is the strict one).
    carry_forward_score: Mapped[float | None] = mapped_column(Float)
    #: The two scores again under the "values" shape rule (tensors whose values are right
    #: after a reshape earn their points); None when graded before shape rules existed.
    values_score: Mapped[float | None] = mapped_column(Float)
    values_carry_forward_score: Mapped[float | None] = mapped_column(Float)
    max_score: Mapped[float | None] = mapped_column(Float)
    #: False when it was refused before any of its code ran (it does not compile): stored
    #: done with its error, never queued; it costs no attempt and never counts (PrairieLearn's
    #: "gradable: false"). The history shows it as not counted.
    gradable: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())

    assignment: Mapped[Assignments | None] = relationship()
    current_grading: Mapped[Gradings | None] = relationship(
        foreign_keys=[current_grading_id], post_update=True)
    batch: Mapped[Batches | None] = relationship()
    gradings: Mapped[list[Gradings]] = relationship(
        back_populates="submission", foreign_keys="Gradings.submission_id",
        cascade="all, delete-orphan", passive_deletes=True, order_by="Gradings.id")
    #: The current grading's tensors (read-only: they belong to the grading).
    results: Mapped[list[TensorResults]] = relationship(
        primaryjoin="Submissions.current_grading_id == foreign(TensorResults.grading_id)",
        viewonly=True, order_by="TensorResults.position")

    def _run(self, field: str, default: Any = None) -> Any:
        g = self.current_grading
        return default if g is None else getattr(g, field)

    # The current grading's run, read through the submission (pages, API, CLI).
    result = property(lambda self: self._run("result"))
    message = property(lambda self: self._run("message"))
    stdout = property(lambda self: self._run("stdout"))
    runtime_ms = property(lambda self: self._run("runtime_ms"))
    exercise_version = property(lambda self: self._run("exercise_version"))
    worker = property(lambda self: self._run("worker"))
    attempts = property(lambda self: self._run("attempts", 0))
    requeues = property(lambda self: self._run("requeues", 0))
    started_at = property(lambda self: self._run("started_at"))
    finished_at = property(lambda self: self._run("finished_at"))

    @property
    def scoring(self) -> str:
        """Return how this submission counts: its assignment's scoring (strict without one)."""
        return self.assignment.scoring if self.assignment is not None else STRICT

    @property
    def counted_score(self) -> float | None:
        """Return the score under the assignment's scoring and shape rule (before lateness:
        web.services.policy applies deadlines, extensions and the late policy)."""
        a = self.assignment
        return rule_score(self.score, self.carry_forward_score, self.values_score,
                          self.values_carry_forward_score,
                          a.scoring if a is not None else STRICT,
                          a.shape_rule if a is not None else SHAPE_STRICT)

    @property
    def exercise_class(self):
        """Return the registry's exercise for this submission."""
        from grader import get_exercise

        return get_exercise(self.exercise_id)

    def __repr__(self) -> str:
        return f"<Submissions {self.id} {self.exercise_id} {self.status}>"


class Gradings(db.Model):
    """One run of one exercise version over one submission: the unit of work.

    It is committed *before* its task is sent, the task takes only its id, and its
    ``status`` (queued → running → done) is what the reconciler watches, so no grading is
    ever stranded. Old gradings stay: a regrade adds new ones and the instructor chooses.
    """

    __table_args__ = (Index("ix_gradings_status_updated_at", "status", "updated_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(
        ForeignKey("submissions.id", ondelete="CASCADE"), index=True)
    #: SUBMITTED, BATCH or REGRADE: why it ran (and, with it, its queue).
    reason: Mapped[str] = mapped_column(String(20), default=SUBMITTED,
                                        server_default=SUBMITTED)
    regrade_id: Mapped[int | None] = mapped_column(
        ForeignKey("regrades.id", ondelete="SET NULL"), index=True)
    status: Mapped[str] = mapped_column(String(20), default=QUEUED)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    #: Grading attempts started; a poison pill stops at GRADING_MAX_ATTEMPTS.
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    #: How many times the reconciler had to requeue it (lost message, dead worker).
    requeues: Mapped[int] = mapped_column(Integer, default=0)
    worker: Mapped[str | None] = mapped_column(String(200))
    exercise_version: Mapped[int | None] = mapped_column(Integer)
    result_status: Mapped[str | None] = mapped_column(String(20))
    score: Mapped[float | None] = mapped_column(Float)
    carry_forward_score: Mapped[float | None] = mapped_column(Float)
    values_score: Mapped[float | None] = mapped_column(Float)
    values_carry_forward_score: Mapped[float | None] = mapped_column(Float)
    max_score: Mapped[float | None] = mapped_column(Float)
    runtime_ms: Mapped[float | None] = mapped_column(Float)
    message: Mapped[str | None] = mapped_column(Text)
    stdout: Mapped[str | None] = mapped_column(Text)
    #: The whole result JSON of spec §4, as served by the API.
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    submission: Mapped[Submissions] = relationship(back_populates="gradings",
                                                   foreign_keys=[submission_id])
    results: Mapped[list[TensorResults]] = relationship(
        back_populates="grading", cascade="all, delete-orphan", passive_deletes=True,
        order_by="TensorResults.position")

    @property
    def queue(self) -> str:
        """Return the Celery queue this grading goes to."""
        return queue_for(self.reason)

    def __repr__(self) -> str:
        return f"<Gradings {self.id} of {self.submission_id} {self.reason} {self.status}>"


class Batches(db.Model):
    """A staff upload of many students' files for one assignment (zip, folder or API)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(
        ForeignKey("assignments.id", ondelete="CASCADE"), index=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    filename: Mapped[str] = mapped_column(String(255), default="")
    layout: Mapped[str] = mapped_column(String(20), default="plain")
    #: What the upload held but was not a student's file (an empty Gradescope folder, a
    #: nested archive, …): shown with the batch so nobody disappears silently.
    notes: Mapped[list[str] | None] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    assignment: Mapped[Assignments] = relationship()
    files: Mapped[list[BatchFiles]] = relationship(
        back_populates="batch", cascade="all, delete-orphan", passive_deletes=True,
        order_by="BatchFiles.id")


class BatchFiles(db.Model):
    """One file of a batch and what became of it: a submission, or why not (unmatched,
    ambiguous, a duplicate of an earlier upload, unreadable) for the instructor to settle."""

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("batches.id", ondelete="CASCADE"),
                                          index=True)
    name: Mapped[str] = mapped_column(String(255))
    #: FILE_* below.
    status: Mapped[str] = mapped_column(String(20))
    message: Mapped[str] = mapped_column(Text, default="")
    #: Unmatched/ambiguous files keep their code until the instructor assigns them.
    code: Mapped[str | None] = mapped_column(Text)
    #: Roster candidates of an ambiguous file (user ids).
    candidates: Mapped[list[int] | None] = mapped_column(JSON)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    submission_id: Mapped[int | None] = mapped_column(
        ForeignKey("submissions.id", ondelete="SET NULL"))

    batch: Mapped[Batches] = relationship(back_populates="files")
    user: Mapped[Users | None] = relationship()
    submission: Mapped[Submissions | None] = relationship()


class Regrades(db.Model):
    """A regrade: new gradings of some submissions with the current exercise version, kept
    apart until the instructor has seen what changed and applies (or discards) them."""

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(
        ForeignKey("assignments.id", ondelete="CASCADE"), index=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    #: What was asked: "assignment", "student:<email>" or "submission:<id>".
    scope: Mapped[str] = mapped_column(String(300))
    #: PENDING until applied or discarded.
    state: Mapped[str] = mapped_column(String(20), default=PENDING)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime)

    assignment: Mapped[Assignments] = relationship()
    gradings: Mapped[list[Gradings]] = relationship(order_by="Gradings.submission_id")


class TensorResults(db.Model):
    """One graded tensor of one grading: every field of the result JSON's tensor entry."""

    __table_args__ = (UniqueConstraint("grading_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    grading_id: Mapped[int] = mapped_column(
        ForeignKey("gradings.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20))
    points: Mapped[float] = mapped_column(Float)
    max_points: Mapped[float] = mapped_column(Float)
    max_abs_diff: Mapped[float | None] = mapped_column(Float)
    rel_error: Mapped[float | None] = mapped_column(Float)
    expected_shape: Mapped[list[int] | None] = mapped_column(JSON)
    got_shape: Mapped[list[int] | None] = mapped_column(JSON)
    failed_case: Mapped[str | None] = mapped_column(String(40))
    message: Mapped[str] = mapped_column(Text, default="")
    diagnosis: Mapped[str | None] = mapped_column(Text)
    root_cause: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Right given the student's own upstream gradients (None: not judged, e.g. missing).
    locally_correct: Mapped[bool | None] = mapped_column(Boolean)
    #: Stable fingerprint code (grader.diagnosis.CODES): what analytics count by class.
    fingerprint: Mapped[str | None] = mapped_column(String(40), index=True)
    line: Mapped[int | None] = mapped_column(Integer)
    carry_forward_points: Mapped[float | None] = mapped_column(Float)
    #: Wrong shape only: the values are right after a reshape (the "values" shape rule).
    values_match: Mapped[bool | None] = mapped_column(Boolean)
    #: The public case's student and reference tensors (float16, zstd; see web/arrays.py),
    #: for the heatmaps; only for tensors that are not exact, and bounded in size.
    arrays: Mapped[bytes | None] = mapped_column(LargeBinary)

    grading: Mapped[Gradings] = relationship(back_populates="results")


class PasswordResets(db.Model):
    """A one-time password-reset link an instructor (or ``backprop user reset-password``)
    made for a user: there is no mail server, so the link is handed over in person.

    Only the token's SHA-256 is stored (a leaked database opens no account); it expires, and
    ``used_at`` makes it single-use (set in the same statement that checks it is unset).
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: Who made the link (None: the command line, or a user since deleted).
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime)
    used_at: Mapped[dt.datetime | None] = mapped_column(DateTime)

    user: Mapped[Users] = relationship(foreign_keys=[user_id])

"""The data model: users, courses, assignments, submissions and their per-tensor results.

Plural table names, ``id`` first, ``ondelete="CASCADE"`` on children (CTFd's conventions).
A submission row is the unit of work: it is committed *before* its grading task is sent, the
task takes only its id, and its ``status`` (queued → running → done) is what the reconciler
watches so no submission is ever stranded.
"""

from __future__ import annotations

import datetime as dt
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
    case,
    func,
    select,
)
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship

from web.db import db

#: Submission states.
QUEUED, RUNNING, DONE = "queued", "running", "done"
#: How an assignment counts a submission: "strict" (a tensor must match autograd) or
#: "carry_forward" (a tensor earns its points when it is right given the student's own
#: upstream gradients — exam markers' "error carried forward").
STRICT, CARRY_FORWARD = "strict", "carry_forward"
SCORINGS = (STRICT, CARRY_FORWARD)
ROLES = ("student", "instructor", "admin")


def utcnow() -> dt.datetime:
    """Return the current UTC time (naive: every backend stores it the same way)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


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
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    title: Mapped[str] = mapped_column(String(200), default="")
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
    role: Mapped[str] = mapped_column(String(20), default="student")
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
    #: "none": late submissions refused; "accept": accepted, marked late; "penalty": the score
    #: is multiplied by (1 - late_penalty) per started day late.
    late_policy: Mapped[str] = mapped_column(String(20), default="accept")
    late_penalty: Mapped[float] = mapped_column(Float, default=0.0)
    max_submissions: Mapped[int | None] = mapped_column(Integer)
    min_interval_seconds: Mapped[int] = mapped_column(Integer, default=0)
    #: STRICT or CARRY_FORWARD; both scores are stored, this picks the one that counts.
    scoring: Mapped[str] = mapped_column(String(20), default=STRICT, server_default=STRICT)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    course: Mapped[Courses] = relationship(back_populates="assignments")


class Submissions(db.Model):
    __table_args__ = (Index("ix_submissions_status_updated_at", "status", "updated_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                                index=True)
    assignment_id: Mapped[int | None] = mapped_column(
        ForeignKey("assignments.id", ondelete="CASCADE"), index=True)
    #: The registry id (``Submissions.exercise_class`` → the grader's registry).
    exercise_id: Mapped[str] = mapped_column(String(100))
    code: Mapped[str] = mapped_column(Text)
    code_sha256: Mapped[str] = mapped_column(String(64), index=True)
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
    #: The score under error-carried-forward scoring (``score`` is the strict one).
    carry_forward_score: Mapped[float | None] = mapped_column(Float)
    max_score: Mapped[float | None] = mapped_column(Float)
    runtime_ms: Mapped[float | None] = mapped_column(Float)
    message: Mapped[str | None] = mapped_column(Text)
    stdout: Mapped[str | None] = mapped_column(Text)
    #: The whole result JSON of spec §4, as served by the API.
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    assignment: Mapped[Assignments | None] = relationship()
    results: Mapped[list[TensorResults]] = relationship(
        back_populates="submission", cascade="all, delete-orphan",
        order_by="TensorResults.position")

    @property
    def scoring(self) -> str:
        """Return how this submission counts: its assignment's scoring (strict without one)."""
        return self.assignment.scoring if self.assignment is not None else STRICT

    @hybrid_property
    def counted_score(self) -> float | None:
        """Return the score that counts under the assignment's scoring.

        One definition for pages and queries: the expression below is the same rule in SQL
        (the course page's best score).
        """
        if self.scoring == CARRY_FORWARD and self.carry_forward_score is not None:
            return self.carry_forward_score
        return self.score

    @counted_score.inplace.expression
    @classmethod
    def _counted_score_expression(cls):
        scoring = select(Assignments.scoring).where(
            Assignments.id == cls.assignment_id).scalar_subquery()
        return case((scoring == CARRY_FORWARD, func.coalesce(cls.carry_forward_score,
                                                             cls.score)), else_=cls.score)

    @property
    def exercise_class(self):
        """Return the registry's exercise for this submission."""
        from grader import get_exercise

        return get_exercise(self.exercise_id)

    def __repr__(self) -> str:
        return f"<Submissions {self.id} {self.exercise_id} {self.status}>"


class TensorResults(db.Model):
    """One graded tensor of one submission: every field of the result JSON's tensor entry."""

    __table_args__ = (UniqueConstraint("submission_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(
        ForeignKey("submissions.id", ondelete="CASCADE"), index=True)
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
    #: The public case's student and reference tensors (float16, zstd; see web/arrays.py),
    #: for the heatmaps; only for tensors that are not exact, and bounded in size.
    arrays: Mapped[bytes | None] = mapped_column(LargeBinary)

    submission: Mapped[Submissions] = relationship(back_populates="results")

"""When the sandbox itself fails, the student is not blamed: a child that dies before the
harness says "started" (no submission code has run yet) is a SandboxError — retried by
workers, a clear message from `backprop check`, an error row in `backprop batch` — never a
result that says the submission exited."""

from __future__ import annotations

import dataclasses

import pytest

from grader import get_exercise, grade
from grader.exercise import Limits
from grader.sandbox import Sandbox, SandboxError
from tests.adversarial.attack_helpers import CORRECT_EX2

EX2 = get_exercise("makemore4/ex2")


def broken_exercise():
    """ex2 whose limits the child cannot apply (its setup fails before any student code)."""

    class Broken(type(EX2)):  # type: ignore[misc,valid-type]
        limits = dataclasses.replace(Limits(), memory_bytes="not a number")  # type: ignore

    return Broken()


def test_setup_failure_is_the_sandboxs_not_the_students(sandbox: Sandbox) -> None:
    with pytest.raises(SandboxError, match="could not start the submission's process"):
        grade(broken_exercise(), CORRECT_EX2, sandbox=sandbox, student="x", secret=b"k")
    # the same sandbox goes on grading
    after = grade(EX2, CORRECT_EX2, sandbox=sandbox, student="x", secret=b"k")
    assert (after.status, after.score) == ("graded", 1.0), after.message


def test_a_submission_that_exits_at_once_is_still_its_own_error(sandbox: Sandbox) -> None:
    """Control: exiting with the same status as a failed setup (70), from the submission's
    own code, is the submission's error (the harness had said "started")."""
    result = grade(EX2, "import os\nos._exit(70)\n", sandbox=sandbox, student="x",
                   secret=b"k")
    assert result.status == "error" and "exited (status 70)" in result.message

"""Filling the disk, and leaving files for the next job. The jail's /tmp is a size-capped tmpfs
and only the job's own working directory is writable; RLIMIT_FSIZE caps each file. A job's
working directory must be gone when the next job starts: nothing a submission writes may be
visible to the next submission (possibly another student's), nor eat its space.

These tests use their own sandbox: a full /tmp in the shared one would disturb other tests."""

from __future__ import annotations

import uuid

import pytest

from grader.sandbox import Sandbox
from tests.adversarial.attack_helpers import (
    CORRECT_EX2,
    assert_no_procs,
    assert_survives,
    grade_quick,
)

FILL = '''
import os
written, errors = 0, set()
for i in range(64):
    try:
        with open(f"fill{i}", "wb") as f:
            for _ in range(32):
                f.write(b"x" * (1 << 20))
                written += 1 << 20
    except OSError as exc:
        errors.add(type(exc).__name__ + ":" + str(exc.errno))
print("WRITTEN", written >> 20, "MiB", sorted(errors))
''' + CORRECT_EX2

LEAVE = '''
import os
with open("notes.txt", "w") as f:
    f.write("{secret}")
os.makedirs("deep/er", exist_ok=True)
with open("deep/er/more.txt", "w") as f:
    f.write("{secret}")
''' + CORRECT_EX2

SNOOP = '''
import glob, os
print("TMP", sorted(os.listdir("/tmp")))
for path in glob.glob("/tmp/*/notes.txt") + glob.glob("/tmp/*/deep/er/more.txt"):
    try:
        print("FOUND", path, open(path).read())
    except OSError as exc:
        print("LOCKED", path, exc)
sv = os.statvfs(".")
print("FREE", sv.f_bavail * sv.f_bsize >> 20, "MiB")
try:
    with open("small.bin", "wb") as f:
        f.write(b"y" * (4 << 20))
    print("SMALL-WRITE-OK")
except OSError as exc:
    print("SMALL-WRITE-FAILED", exc)
''' + CORRECT_EX2


@pytest.fixture(scope="module")
def own_sandbox():
    with Sandbox() as sb:
        sb.ensure_ready()
        yield sb


@pytest.fixture(scope="module")
def after_leaving(own_sandbox):
    """Job 1 leaves a secret in its working dir; job 2 snoops. Return (secret, job 2)."""
    secret = f"left-behind-{uuid.uuid4().hex}"
    first = grade_quick(own_sandbox, LEAVE.replace("{secret}", secret))
    assert first.status == "graded" and first.score == 1.0, first.message
    return secret, grade_quick(own_sandbox, SNOOP)


def test_leaving_files_is_harmless_to_the_grader(own_sandbox, after_leaving) -> None:
    secret, snoop = after_leaving
    assert snoop.status == "graded" and snoop.score == 1.0, snoop.message
    assert "TMP [" in snoop.stdout
    assert_no_procs(own_sandbox.slot.uid)


def test_next_job_cannot_read_the_previous_jobs_files(after_leaving) -> None:
    secret, snoop = after_leaving
    assert secret not in snoop.stdout, snoop.stdout[:2000]
    assert "FOUND" not in snoop.stdout


def test_disk_fill_is_capped(own_sandbox) -> None:
    result = grade_quick(own_sandbox, FILL, wall_seconds=20, cpu_seconds=20)
    assert result.status == "graded" and result.score == 1.0, result.message
    line = next(x for x in result.stdout.splitlines() if x.startswith("WRITTEN"))
    written_mib = int(line.split()[1])
    assert written_mib <= 64, line  # the jail's /tmp is 64 MiB
    assert "EFBIG" in line or ":27" in line or ":28" in line, line  # EFBIG or ENOSPC
    assert_survives(own_sandbox)


def test_space_is_given_back_after_a_disk_fill(own_sandbox) -> None:
    grade_quick(own_sandbox, FILL, wall_seconds=20, cpu_seconds=20)
    result = grade_quick(own_sandbox, SNOOP)
    assert "SMALL-WRITE-OK" in result.stdout, result.stdout[-500:]

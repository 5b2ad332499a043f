"""Output floods of hundreds of MB: the parent keeps only the first 64 KiB, says it truncated
the rest, never blocks on a full pipe, and the answer is still graded."""

from __future__ import annotations

import pytest

from tests.adversarial.attack_helpers import (
    assert_no_procs,
    assert_survives,
    ex2,
    grade_quick,
    reset_peak_rss,
    status_kb,
    zygote_pids,
)

MB = 1 << 20
FLOODS = {
    # 300 MiB through print, 1 MiB lines.
    "print-300MB": ex2(before="    if t.n == 32:\n"
                              "        for _ in range(300):\n"
                              "            print('x' * (1 << 20))\n"),
    # 300 MiB straight to fd 2 with os.write, bypassing Python's buffering.
    "os-write-stderr-300MB": ex2(header="import os\nCHUNK = b'y' * (1 << 20)\n",
                                 before="    if t.n == 32:\n"
                                        "        for _ in range(300):\n"
                                        "            os.write(2, CHUNK)\n"),
    # Millions of tiny lines.
    "many-small-lines": ex2(before="    if t.n == 32:\n"
                                   "        for i in range(2_000_000):\n"
                                   "            print(i)\n"),
}
#: At import time, 100 MiB of binary junk (invalid UTF-8, NUL bytes, escape sequences).
BINARY_JUNK = ex2(header="import sys\n"
                         "for _ in range(100):\n"
                         "    sys.stdout.buffer.write(bytes(range(256)) * 4096)\n")


@pytest.mark.parametrize("name", list(FLOODS))
def test_output_flood(sandbox, name: str) -> None:
    trusted = zygote_pids(sandbox)
    peak_ok = reset_peak_rss()
    rss_before = status_kb("VmRSS")
    result = grade_quick(sandbox, FLOODS[name], wall_seconds=20, cpu_seconds=20)
    assert result.status == "graded", result.message
    assert result.score == 1.0, result.message
    assert len(result.stdout.encode()) <= 70_000, len(result.stdout.encode())
    assert "truncated" in result.stdout[-200:]
    # The parent kept the head only: its memory did not grow by the flood.
    grown = status_kb("VmHWM" if peak_ok else "VmRSS") - rss_before
    assert grown < 50 * 1024, f"the grader's memory grew by {grown} KiB"
    assert_no_procs(sandbox.slot.uid)
    assert_survives(sandbox, trusted)


def test_no_orphan_can_flood_after_the_answer(sandbox) -> None:
    """A forked writer would keep flooding after backward returned; the kernel refuses the
    fork (seccomp), so the case that tried fails and nothing is left writing."""
    src = ex2(header="import os\n", before=(
        "    if t.n == 32 and os.fork() == 0:\n"
        "        os.setsid()\n"
        "        while True:\n"
        "            try:\n"
        "                os.write(1, b'z' * 65536)\n"
        "            except OSError:\n"
        "                pass\n"))
    trusted = zygote_pids(sandbox)
    result = grade_quick(sandbox, src, wall_seconds=10, cpu_seconds=10)
    assert result.status == "graded" and result.score == 0, result.message
    assert "Operation not permitted" in result.message, result.message
    assert len(result.stdout.encode()) <= 70_000
    assert_no_procs(sandbox.slot.uid)
    assert_survives(sandbox, trusted)


@pytest.fixture(scope="module")
def binary_junk(sandbox):
    trusted = zygote_pids(sandbox)
    result = grade_quick(sandbox, BINARY_JUNK, wall_seconds=20, cpu_seconds=20)
    return result, trusted


def test_binary_junk_flood(sandbox, binary_junk) -> None:
    result, trusted = binary_junk
    assert result.status == "graded" and result.score == 1.0, result.message
    assert "truncated" in result.stdout[-200:]
    assert len(result.stdout) <= 70_000  # characters: the head of 64 KiB of bytes
    assert_no_procs(sandbox.slot.uid)
    assert_survives(sandbox, trusted)


def test_binary_junk_stdout_is_bounded_in_bytes(binary_junk) -> None:
    result = binary_junk[0]
    assert len(result.stdout.encode()) <= 70_000, len(result.stdout.encode())

"""Memory bombs: the address-space cap turns them into status memory_limit with a message that
names the limit; the grader process's own memory does not grow; the sandbox keeps grading."""

from __future__ import annotations

import pytest

from tests.adversarial.attack_helpers import (
    assert_survives,
    ex2,
    grade_quick,
    reset_peak_rss,
    status_kb,
    zygote_pids,
)

LIMIT = 256 * 1024**2

BOMBS = {
    "huge-tensor": ex2(before="    x = torch.empty(2**40)\n    x.fill_(1.0)\n"),
    "growing-tensors": ex2(before=(
        "    xs = []\n"
        "    while True:\n"
        "        xs.append(torch.ones(2**22))\n")),
    "python-list": ex2(before=(
        "    xs = []\n"
        "    while True:\n"
        "        xs.append([0.5] * 100_000)\n")),
    "bytearray": ex2(before=(
        "    xs = []\n"
        "    while True:\n"
        "        xs.append(bytearray(1 << 20))\n")),
    "string-doubling": ex2(before=(
        "    s = 'x'\n"
        "    while True:\n"
        "        s = s + s\n")),
    "at-import": ex2(header="BIG = torch.ones(2**34)\n"),
    "list-at-import": ex2(header="BIG = [bytearray(1 << 20) for _ in range(10**6)]\n"),
}


@pytest.mark.parametrize("name", list(BOMBS))
def test_memory_bomb(sandbox, name: str) -> None:
    trusted = zygote_pids(sandbox)
    peak_ok = reset_peak_rss()
    rss_before = status_kb("VmRSS")
    result = grade_quick(sandbox, BOMBS[name], memory_bytes=LIMIT, wall_seconds=5,
                         cpu_seconds=5)
    assert result.status == "memory_limit", (result.status, result.message)
    assert result.score == 0
    assert "memory" in result.message.lower()
    if not name.endswith("at-import"):
        assert "256 MiB" in result.message, result.message
    # The bomb went off in the child, not here.
    grown = status_kb("VmHWM" if peak_ok else "VmRSS") - rss_before
    assert grown < 100 * 1024, f"the grader's own memory grew by {grown} KiB"
    assert_survives(sandbox, trusted)


def test_memory_bomb_at_import_names_the_limit(sandbox) -> None:
    result = grade_quick(sandbox, BOMBS["list-at-import"], memory_bytes=LIMIT)
    assert result.status == "memory_limit"
    assert "256 MiB" in result.message, result.message

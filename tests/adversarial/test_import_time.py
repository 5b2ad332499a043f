"""Attacks at import time instead of inside backward: the file is executed in the child under
the same limits and isolation as backward, so each is handled the same way."""

from __future__ import annotations

import pytest

from tests.adversarial.attack_helpers import (
    CORRECT_EX2,
    assert_no_procs,
    assert_survives,
    grade_quick,
    zygote_pids,
)

CASES = {
    # name: (module-level code, expected status, words in message or stdout)
    "spin": ("while True:\n    pass\n", "timeout", ["within 0.5 s"]),
    "sleep": ("import time\ntime.sleep(10**6)\n", "timeout", ["within 0.5 s"]),
    "print": ("print('hello from import', flush=True)\n", "graded", ["hello from import"]),
    "network": ("import socket\n"
                "try:\n"
                "    socket.create_connection(('127.0.0.1', 6379), timeout=1)\n"
                "    print('NET-OK')\n"
                "except OSError as exc:\n"
                "    print('NET-BLOCKED', exc)\n", "graded", ["NET-BLOCKED"]),
    # fork() is refused by the kernel (seccomp): the daemon is never born
    "daemon": ("import os, time\n"
               "if os.fork() == 0:\n"
               "    os.setsid()\n"
               "    while True:\n"
               "        time.sleep(0.05)\n", "error", ["while loading", "not permitted"]),
    "memory": ("import torch\nx = torch.ones(2**33)\n", "memory_limit", ["memory"]),
    "exit": ("import os\nos._exit(0)\n", "error", ["exited"]),
    "raise": ("raise RuntimeError('import-time failure')\n", "error",
              ["while loading", "import-time failure"]),
    "steal-fd3": ("import os\nos.close(3)\n", "error", ["result"]),
}


@pytest.mark.parametrize("name", list(CASES))
def test_import_time_attack(sandbox, name: str) -> None:
    code, status, words = CASES[name]
    trusted = zygote_pids(sandbox)
    wall = 0.5 if status == "timeout" else 5
    result = grade_quick(sandbox, code + CORRECT_EX2, wall_seconds=wall, cpu_seconds=5,
                         memory_bytes=256 * 1024**2)
    assert result.status == status, (result.status, result.message)
    assert result.score == (1.0 if status == "graded" else 0.0), result.message
    for word in words:
        assert word in result.message or word in result.stdout, (result.message,
                                                                 result.stdout[:500])
    assert "NET-OK" not in result.stdout
    assert_no_procs(sandbox.slot.uid)
    assert_survives(sandbox, trusted)

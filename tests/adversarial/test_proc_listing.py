"""Listing /proc: under bwrap the child has its own pid namespace and its own /proc, so it sees
only the jail's processes (bwrap's init, the zygote and its own job) — not the grader, not the
other sandboxes, not the host's services."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.adversarial.attack_helpers import CORRECT_EX2, assert_survives, grade_quick


def probe(test_pid: int) -> str:
    return f'''
import os
pids = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
print("PIDS", pids)
for pid in pids:
    try:
        cmd = open(f"/proc/{{pid}}/cmdline", "rb").read().replace(b"\\0", b" ")[:150]
        print("CMD", pid, cmd.decode(errors="replace"))
    except OSError as exc:
        print("NOCMD", pid, type(exc).__name__)
for what in ("cmdline", "status", "environ", "maps", "fd"):
    try:
        x = os.listdir(f"/proc/{test_pid}/{{what}}") if what == "fd" else \\
            open(f"/proc/{test_pid}/{{what}}", "rb").read()
        print("GRADER-VISIBLE", what, str(x)[:100])
    except OSError as exc:
        print("GRADER-HIDDEN", what, type(exc).__name__)
'''


def test_only_the_jails_processes_are_visible(sandbox) -> None:
    me = os.getpid()
    my_cmdline = Path(f"/proc/{me}/cmdline").read_bytes().split(b"\0")
    result = grade_quick(sandbox, probe(me) + CORRECT_EX2)
    assert result.status == "graded" and result.score == 1.0, result.message
    out = result.stdout
    pids_line = next(line for line in out.splitlines() if line.startswith("PIDS"))
    pids = eval(pids_line[5:])  # a list of ints printed by the probe
    # bwrap's init, the zygote, the job, maybe the zygote's pre-forked spare: a handful.
    assert 2 <= len(pids) <= 6, pids
    host_count = sum(p.isdigit() for p in os.listdir("/proc"))
    assert host_count > len(pids) + 10
    assert "GRADER-VISIBLE" not in out, out
    assert out.count("GRADER-HIDDEN") == 5
    # Nothing from outside the jail is named: not pytest, not the host's database servers.
    for word in ("pytest", "postgres", "redis-server", "mariadbd", "sshd"):
        assert word not in out, word
    for part in my_cmdline:
        if len(part) > 12 and b"python" not in part:
            assert part.decode(errors="replace") not in out
    for line in out.splitlines():
        if line.startswith("CMD "):
            assert "bwrap" in line or "grader.sandbox.zygote" in line, line
    assert_survives(sandbox)


def test_probe_sees_everything_without_the_sandbox() -> None:
    """Control: the probe, unsandboxed, sees the grader and many processes."""
    proc = subprocess.run([sys.executable, "-c", probe(os.getpid())], capture_output=True,
                          text=True, timeout=60)
    assert "GRADER-VISIBLE cmdline" in proc.stdout
    assert "pytest" in proc.stdout

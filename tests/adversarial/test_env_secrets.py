"""Reading the grader's secrets from the environment: the zygote is exec'd with a clean
environment (LANG/LC_ALL/TZ and a fixed PATH only), and other processes' /proc/PID/environ is
out of reach (pid namespace under bwrap; another uid without it)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import uuid

import pytest

from grader.sandbox import Sandbox
from tests.adversarial.attack_helpers import CORRECT_EX2, assert_no_procs, grade_quick


def probe(test_pid: int) -> str:
    """Plain-Python code (no torch) that prints every environment it can reach."""
    return f'''
import os
print("ENV", sorted(os.environ.items()))
def show(path):
    try:
        with open(path, "rb") as f:
            print("READ", path, f.read().replace(b"\\0", b" ").decode(errors="replace"))
    except OSError as exc:
        print("DENIED", path, type(exc).__name__)
for path in ("/proc/self/environ", "/proc/1/environ", "/proc/1/cmdline",
             f"/proc/{{os.getppid()}}/environ", "/proc/{test_pid}/environ",
             "/proc/{test_pid}/cmdline"):
    show(path)
for pid in sorted(p for p in os.listdir("/proc") if p.isdigit()):
    show(f"/proc/{{pid}}/environ")
'''


@pytest.fixture
def secrets(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    values = {
        "SECRET_KEY": f"sk-{uuid.uuid4().hex}",
        "DATABASE_URL": f"postgresql://grader:pw{uuid.uuid4().hex}@127.0.0.1/backprop",
        "CELERY_BROKER_URL": f"redis://:pw{uuid.uuid4().hex}@127.0.0.1:6379/0",
        "AWS_SECRET_ACCESS_KEY": uuid.uuid4().hex,
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return values


def leaked(text: str, secrets: dict[str, str]) -> list[str]:
    needles = list(secrets.values()) + [v.split("pw")[-1].split("@")[0] for v in secrets.values()]
    return [n for n in needles if n in text]


@pytest.mark.parametrize("bwrap", [None, "off"])
def test_child_cannot_see_the_graders_environment(secrets, bwrap, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="grader.sandbox.host")
    with Sandbox(bwrap=bwrap) as sb:  # created after the secrets entered our environment
        sb.ensure_ready()  # (a cold sandbox's start-up counts against the wall clock)
        result = grade_quick(sb, probe(os.getpid()) + CORRECT_EX2, wall_seconds=20)
        uid = sb.slot.uid
    assert result.status == "graded" and result.score == 1.0, result.message
    out = result.stdout
    assert "ENV [" in out and "PATH" in out, out[:2000]  # the probe really ran and printed
    assert not leaked(out, secrets), f"secrets leaked into the sandbox: {out[:3000]}"
    for key in secrets:
        assert key not in out, key
    # Our own process is invisible (bwrap: other pid namespace) or unreadable (other uid).
    assert f"DENIED /proc/{os.getpid()}/environ" in out, out[:3000]
    assert_no_procs(uid)


def test_probe_would_see_an_unsandboxed_environment(secrets) -> None:
    """Control: the same probe run without the sandbox prints the secrets, so the assertions
    above are able to fail."""
    proc = subprocess.run([sys.executable, "-c", probe(os.getpid())], capture_output=True,
                          text=True, timeout=60)
    assert leaked(proc.stdout, secrets)
    assert f"READ /proc/{os.getpid()}/environ" in proc.stdout

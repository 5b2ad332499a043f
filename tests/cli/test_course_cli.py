"""``backprop course|assignment|extension|gradebook`` (SPEC §7), run as a user would: a real
subprocess on a fresh BACKPROP_HOME. Bad input is one clear line and exit 2; the commands
that do not grade never import torch."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

BACKPROP = str(Path(sys.executable).with_name("backprop"))


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env["BACKPROP_HOME"] = str(tmp_path / "home")
    return env


@pytest.fixture
def warm_env(env: dict[str, str]) -> Iterator[dict[str, str]]:
    """``env`` with the admin commands' preloader on, as a user has it by default: after the
    first cold command, the others fork from a warm process instead of importing the web
    stack anew (tests/cli/test_preload.py shows they run there as they would cold). The
    preloader is stopped afterwards."""
    env = {k: v for k, v in env.items() if k != "BACKPROP_NO_PRELOAD"}
    env["BACKPROP_PRELOAD_STAMP"] = "pinned"  # the tree may be edited while tests run
    env["BACKPROP_PRELOAD_IDLE"] = "60"  # should the stop below miss it
    yield env
    home = Path(env["BACKPROP_HOME"])
    if not (home / "logs" / "preload.log").exists():
        return  # none was started
    pid_file = home / "run" / "admin.pid"
    deadline = time.monotonic() + 30
    while not pid_file.exists() and time.monotonic() < deadline:
        time.sleep(0.1)  # one still starting writes its pid once it holds the lock
    try:
        pid = int(pid_file.read_text())
        if b"cli.preload" in Path(f"/proc/{pid}/cmdline").read_bytes():
            os.kill(pid, signal.SIGTERM)
    except (OSError, ValueError):
        pass


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([BACKPROP, *args], capture_output=True, text=True, timeout=120,
                          env=env, stdin=subprocess.DEVNULL)


def torch_imported(env: dict[str, str], *commands: list[str]) -> list[tuple[int, str]]:
    """Run commands in-process, in order, in one fresh interpreter; after each, say whether
    torch got imported (one interpreter start for all: the first that imports it is named,
    and the ones after it would be contaminated, so the probe stops there)."""
    code = ("import json, sys\nfrom cli.main import main\nreport = []\n"
            f"for args in {[list(c) for c in commands]!r}:\n"
            "    try:\n        main(args)\n        rc = 0\n"
            "    except SystemExit as e:\n        rc = e.code\n"
            "    report.append([rc, 'TORCH' if 'torch' in sys.modules else 'NO-TORCH'])\n"
            "    if 'torch' in sys.modules:\n        break\n"
            "print(json.dumps(report), file=sys.stderr)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, env=env)
    return [tuple(r) for r in json.loads(out.stderr.strip().splitlines()[-1])]


def test_a_course_from_the_command_line(warm_env: dict[str, str], tmp_path: Path) -> None:
    env = warm_env
    assert run(env, "user", "add", "prof@example.org", "--role", "instructor").returncode == 0
    out = run(env, "course", "add", "CS-101", "--title", "Backprop", "--instructor",
              "prof@example.org")
    assert out.returncode == 0, out.stderr
    assert "join code" in out.stdout
    out = run(env, "assignment", "add", "CS-101", "makemore4/ex2", "--deadline",
              "2026-12-24T23:59", "--late-policy", "penalty", "--penalty-per-day", "0.1",
              "--cutoff-days", "3", "--max-submissions", "5")
    assert out.returncode == 0, out.stderr
    assert "2026-12-24 23:59 UTC" in out.stdout and "−10%/day late" in out.stdout
    out = run(env, "assignment", "set", "CS-101", "makemore4/ex2", "--shape-rule", "values",
              "--deadline", "2026-12-25T00:00+01:00", "--counted", "last")
    assert out.returncode == 0, out.stderr
    assert "2026-12-24 23:00 UTC" in out.stdout and "values shapes" in out.stdout
    assert "last counts" in out.stdout
    assert run(env, "user", "add", "ada@example.org", "--course", "CS-101").returncode == 0
    out = run(env, "extension", "CS-101", "makemore4/ex2", "ada@example.org", "--deadline",
              "2026-12-31T12:00")
    assert out.returncode == 0 and "until 2026-12-31 12:00 UTC" in out.stdout
    target = tmp_path / "grades.csv"
    out = run(env, "gradebook", "CS-101", "-o", str(target))
    assert out.returncode == 0, out.stderr
    rows = list(csv.reader(target.open()))
    assert rows[0][:5] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
    assert rows[1][0] == "Points Possible" and rows[2][3] == "ada@example.org"
    # Bad input: one clear line each, exit 2, nothing changed (in-process: the same code,
    # without an interpreter start per case)
    from click.testing import CliRunner

    from cli.main import main

    runner = CliRunner()
    for args, words in [
        (("course", "add", "CS-101"), "already exists"),
        (("course", "add", "bad code!"), "letters, digits"),
        (("course", "add", "X", "--instructor", "nobody@example.org"), "no user"),
        (("assignment", "add", "NOPE", "makemore4/ex2"), "no course"),
        (("assignment", "add", "CS-101", "makemore4/ex9"), "makemore4/ex9"),
        (("assignment", "add", "CS-101", "makemore4/ex1", "--deadline", "tomorrow"),
         "not a date and time"),
        (("assignment", "add", "CS-101", "makemore4/ex1", "--late-policy", "penalty"),
         "penalty per day"),
        (("assignment", "add", "CS-101", "makemore4/ex1", "--opens", "2027-01-02",
          "--deadline", "2027-01-01"), "open before its deadline"),
        (("assignment", "set", "CS-101", "makemore4/ex2"), "nothing to change"),
        (("assignment", "set", "CS-101", "makemore4/ex2", "--penalty-per-day", "2"),
         "between 0 and 1"),
        (("extension", "CS-101", "makemore4/ex2", "ada@example.org"), "--deadline"),
        (("extension", "CS-101", "makemore4/ex2", "prof@example", "--deadline", "2027-01-01"),
         "e-mail"),
        (("gradebook", "NOPE"), "no course"),
        (("gradebook", "CS-101", "-o", str(tmp_path / "missing" / "x.csv")), "cannot write"),
    ]:
        out = runner.invoke(main, list(args), env=env)
        assert out.exit_code == 2, (args, out.output, out.exception)
        assert words in out.stderr, (args, out.stderr)
        assert "Traceback" not in out.output
    shown = run(env, "assignment", "set", "CS-101", "makemore4/ex2", "--title", "Ex 2")
    assert "Ex 2" in shown.stdout and "−10%/day late" in shown.stdout  # unchanged by errors


def test_admin_commands_do_not_import_torch(env: dict[str, str]) -> None:
    assert run(env, "user", "add", "prof@example.org", "--role", "instructor").returncode == 0
    report = torch_imported(
        env, ["course", "add", "C1", "--instructor", "prof@example.org"],
        ["gradebook", "C1", "--format", "moodle"],
        ["extension", "C1", "x", "prof@example.org", "--deadline", "2027-01-01"])
    # course add, gradebook, extension (a usage error: any exit code)
    assert [torch for _, torch in report] == ["NO-TORCH"] * 3, report
    assert [rc for rc, _ in report[:2]] == [0, 0], report

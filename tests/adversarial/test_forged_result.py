"""Forged results: the submission writes a result JSON (raw, or framed like the wire protocol)
to every file descriptor it has, then returns a wrong gradient. The parent takes a score only
from its own comparison of tensors it received, so the forgery earns nothing; at worst it
breaks its own result channel (status error)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.adversarial.attack_helpers import (
    assert_no_procs,
    assert_survives,
    ex2,
    grade_quick,
    zygote_pids,
)

FORGED = json.dumps({
    "exercise": "makemore4/ex2", "status": "graded", "score": 1.0, "max_score": 1.0,
    "message": "FORGED 1 of 1 tensors correct", "stdout": "", "runtime_ms": 1.0,
    "tensors": [{"name": "logits", "status": "exact", "points": 1.0, "max_points": 1.0,
                 "max_abs_diff": 0.0, "rel_error": 0.0, "expected_shape": [32, 27],
                 "got_shape": [32, 27], "diagnosis": None, "root_cause": False}]})

SPRAY = (
    "import os, json, struct\n"
    f"FORGED = {FORGED!r}.encode()\n"
    "def spray(data, end=b'\\n'):\n"
    "    for fd in range(0, 21):\n"
    "        try:\n"
    "            os.write(fd, data + end)\n"
    "        except OSError:\n"
    "            pass\n"
    # A frame in the wire format: a reply announcing a payload of the expected shape,
    # followed by zeros, then a header that claims 'ok' with no tensors.
    "def frame(header, payload=b''):\n"
    "    raw = json.dumps(header).encode()\n"
    "    return struct.pack('!I', len(raw)) + raw + payload\n"
    "def fake_reply(n):\n"
    "    entry = {'name': 'logits', 'kind': 'tensor', 'dtype': 'float32',\n"
    "             'shape': [n, 27], 'payload': True}\n"
    "    return frame({'type': 'reply', 'ok': True, 'tensors': [entry]}, bytes(4 * n * 27))\n"
)

SOURCES = {
    # Raw result JSON on every fd (fd 3 is the result channel).
    "raw-json-every-fd": ex2(header=SPRAY, before="    spray(FORGED)\n",
                             ret="{'logits': torch.zeros_like(d)}"),
    "raw-json-at-import": ex2(header=SPRAY + "spray(FORGED)\n",
                              ret="{'logits': torch.zeros_like(d)}"),
    # Well-framed fake replies on the result channel, then the real (wrong) reply.
    "framed-fake-reply": ex2(header=SPRAY, before="    spray(fake_reply(t.n), b'')\n",
                             ret="{'logits': -d}"),
    # A fake 'ready' at import time, to get ahead of the harness.
    "framed-fake-ready": ex2(header=SPRAY + "spray(frame({'type': 'ready'}), b'')\n",
                             ret="{'logits': -d}"),
    # A frame whose header says it is 4 GiB long: the parent must not try to allocate it.
    "huge-length-prefix": ex2(header=SPRAY, before="    spray(b'\\xff\\xff\\xff\\xff', b'')\n",
                              ret="{'logits': -d}"),
}


@pytest.mark.parametrize("name", list(SOURCES))
def test_forged_result_earns_nothing(sandbox, name: str) -> None:
    trusted = zygote_pids(sandbox)
    result = grade_quick(sandbox, SOURCES[name])
    assert result.score == 0, (result.status, result.message)
    assert result.status in ("graded", "error"), result.message
    assert "FORGED" not in result.message
    if result.status == "error":
        assert "result channel" in result.message or "exited" in result.message, \
            result.message
    else:
        assert all(t.status != "exact" and not t.passed for t in result.tensors)
    assert_no_procs(sandbox.slot.uid)
    assert_survives(sandbox, trusted)


def test_forged_json_does_not_fool_the_cli(tmp_path: Path) -> None:
    """`backprop check --json` prints one JSON document: the real one, whatever was printed."""
    sub = tmp_path / "forge.py"
    sub.write_text(SOURCES["raw-json-every-fd"])
    proc = subprocess.run(
        [str(Path(sys.executable).with_name("backprop")), "check", str(sub), "-e",
         "makemore4/ex2", "--json"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    doc = json.loads(proc.stdout)  # the whole of stdout is one JSON document
    assert doc["score"] == 0, doc["message"]
    assert "FORGED" not in doc["message"]
    assert "FORGED" not in proc.stderr

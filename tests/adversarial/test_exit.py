"""Exiting instead of returning: sys.exit / os._exit / abort, in backward or at import. Status
error with a message that says the process exited before returning a result."""

from __future__ import annotations

import pytest

from tests.adversarial.attack_helpers import (
    assert_no_procs,
    assert_survives,
    ex2,
    grade_quick,
    zygote_pids,
)

EXITS = {
    # name: (source, words the message must contain)
    "sys-exit-in-backward": (ex2(header="import sys\n", before="    sys.exit(0)\n"),
                             ["sys.exit"]),
    "raise-systemexit-at-import": (ex2(header="raise SystemExit(3)\n"), ["sys.exit"]),
    "keyboardinterrupt": (ex2(before="    raise KeyboardInterrupt\n"), ["KeyboardInterrupt"]),
    "os-exit-in-backward": (ex2(header="import os\n", before="    os._exit(0)\n"),
                            ["exited", "before returning a result"]),
    "os-exit-at-import": (ex2(header="import os\nos._exit(1)\n"),
                          ["exited", "before returning a result"]),
    "os-exit-in-hidden-case": (ex2(header="import os\n",
                                   before="    if t.n != 32:\n        os._exit(0)\n"),
                               ["exited", "before returning a result"]),
    "abort": (ex2(header="import os\n", before="    os.abort()\n"), ["SIGABRT"]),
    "segfault": (ex2(header="import faulthandler\n", before="    faulthandler._sigsegv()\n"),
                 ["SIGSEGV"]),
    # exit from an atexit handler / finally cannot smuggle a result either
    "exit-in-finally": (ex2(header="import os\n", before=(
        "    try:\n        return {'logits': t.logits * 0}\n"
        "    finally:\n        os._exit(0)\n")), ["exited"]),
}


@pytest.mark.parametrize("name", list(EXITS))
def test_exit_before_returning(sandbox, name: str) -> None:
    src, words = EXITS[name]
    trusted = zygote_pids(sandbox)
    result = grade_quick(sandbox, src)
    assert result.status == "error", (result.status, result.message)
    assert result.score == 0
    assert all(not t.passed for t in result.tensors)
    for word in words:
        assert word in result.message, result.message
    assert_no_procs(sandbox.slot.uid)
    assert_survives(sandbox, trusted)

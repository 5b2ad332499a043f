"""Pickle bombs: objects whose __reduce__ would run a command when unpickled. The result channel
carries JSON and raw float32 bytes only, so nothing is ever unpickled in the grader: the value
is reported as bad_type and the command never runs here."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.adversarial.attack_helpers import assert_no_procs, assert_survives, ex2, grade_quick


def bomb_header(marker: Path) -> str:
    # The command creates a file the grader (root, unjailed) could create but the sandbox
    # cannot: it would appear only if the parent unpickled the object.
    return (
        "import os, pickle\n"
        "class Bomb:\n"
        "    def __reduce__(self):\n"
        f"        return (os.system, ('touch {marker}',))\n"
        "class BombDict(dict):\n"
        "    def __reduce__(self):\n"
        f"        return (os.system, ('touch {marker}',))\n"
        "class BombTensor(torch.Tensor):\n"
        "    def __reduce_ex__(self, proto):\n"
        f"        return (os.system, ('touch {marker}',))\n"
        "pickle.dumps(Bomb())  # pickling is harmless; only loading would run it\n"
    )


CASES = {
    # name: (return expression, expected tensor status, words in the tensor message)
    "value": ("{'logits': Bomb()}", "bad_type", ["Bomb", "torch.Tensor"]),
    "whole-return": ("Bomb()", "bad_type", ["Bomb", "dict"]),
    "dict-subclass": ("BombDict(logits=Bomb())", "bad_type", ["Bomb"]),
    "list-of-bombs": ("{'logits': [Bomb()] * 3}", "bad_type", ["list"]),
    # A tensor subclass carrying the right bytes is judged on its bytes alone.
    "tensor-subclass": ("{'logits': (d / t.n).as_subclass(BombTensor)}", "passed", []),
    "pickled-bytes": ("{'logits': pickle.dumps(Bomb())}", "bad_type", ["bytes"]),
}


@pytest.mark.parametrize("name", list(CASES))
def test_pickle_bomb_is_never_unpickled(sandbox, tmp_path: Path, name: str) -> None:
    ret, status, words = CASES[name]
    marker = tmp_path / f"unpickled-{name}"
    result = grade_quick(sandbox, ex2(header=bomb_header(marker), ret=ret))
    assert not marker.exists(), "the grader unpickled a submission's object"
    assert result.status == "graded", result.message
    (tensor,) = result.tensors
    if status == "passed":
        assert tensor.passed, (tensor.status, tensor.message)
    else:
        assert tensor.status == status, (tensor.status, tensor.message)
    for word in words:
        assert word in tensor.message, tensor.message
    assert result.score == (1.0 if status == "passed" else 0.0)
    assert not marker.exists()
    assert_no_procs(sandbox.slot.uid)
    assert_survives(sandbox)


def test_marker_path_is_writable_by_the_grader(tmp_path: Path) -> None:
    """The assertion above can fail: the grader itself could create the marker."""
    marker = tmp_path / "unpickled-probe"
    assert os.system(f"touch {marker}") == 0
    assert marker.exists()

"""Issue 15, a hostile student against a float64 exercise (``layers/layernorm``).

Every wrong kind of return — another float or int dtype, complex, float8, a sparse or meta
tensor, a nested one, 0-d, huge or mis-shaped float64, an input handed back, NaN — costs
that one tensor its points with a sentence saying why. None may break the result channel
(a complex128 used to: the whole file scored zero as "broke the result channel") or be
told as "backward raised" (a meta tensor used to: its bytes could not be read).

The parent's allocation for mis-shaped payloads is bounded by ``Limits.result_bytes``
(8-byte elements included): a reply whose wrong-shaped tensors would not fit together
sends the first that fit and describes the rest; a forged reply announcing more is
refused from its header, before a byte is read.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterator
from typing import Any

import pytest
import torch

from grader import get_exercise, grade
from grader.kit import Case, CaseSpec, Exercise, Limits, generator, graded, keep, upstream_loss
from grader.result import GradeResult
from grader.sandbox import Sandbox, wire
from grader.validate import solution_path
from tests.adversarial.attack_helpers import assert_clean, assert_no_procs

EXERCISE = get_exercise("layers/layernorm")
SOLUTION = solution_path(EXERCISE).read_text(encoding="utf-8")
RETURN = '"x": dx}'
assert RETURN in SOLUTION


def _dx(expr: str, header: str = "") -> str:
    """The reference solution with ``dx`` returned as ``expr``."""
    return header + SOLUTION.replace(RETURN, f'"x": {expr}}}')


#: name → (source, words the message on dx must hold)
ATTACKS: dict[str, tuple[str, str]] = {
    "float32": (_dx("dx.float()"), "got dtype float32, expected float64 (use .double())"),
    "float16": (_dx("dx.half()"), "got dtype float16, expected float64"),
    "bfloat16": (_dx("dx.bfloat16()"), "got dtype bfloat16, expected float64"),
    "int64": (_dx("dx.long()"), "got dtype int64, expected float64"),
    "complex128": (_dx("dx.to(torch.complex128)"), "got dtype complex128, expected float64"),
    "uint16": (_dx("dx.to(torch.uint16)"), "got dtype uint16, expected float64"),
    "float8": (_dx("dx.to(torch.float8_e4m3fn)"), "got dtype float8_e4m3fn"),
    "sparse": (_dx("dx.to_sparse()"), "sparse_coo layout (use .to_dense())"),
    "meta": (_dx("torch.empty(dx.shape, dtype=dx.dtype, device='meta')"), "meta device"),
    "nested": (_dx("torch.nested.nested_tensor([dx, dx])"), "values cannot be read"),
    "zero_d": (_dx("dx.sum()"), "got shape (), expected (16, 12)"),
    "huge": (_dx("torch.zeros(3000, 3000, dtype=torch.float64)"), "got shape (3000, 3000)"),
    "transposed": (_dx("dx.T.contiguous()"), "got shape (12, 16)"),
    "input_back": (_dx("t.x"), "exceeds tolerance"),
    "nan": (_dx("dx * float('nan')"), "NaN or infinite"),
}

#: A tensor subclass with the right values is the right answer.
SUBCLASS = _dx("dx.as_subclass(Mine)", "import torch\n\n\nclass Mine(torch.Tensor):\n"
               "    pass\n\n\n")


@pytest.fixture(scope="module")
def results(sandbox: Sandbox) -> dict[str, GradeResult]:
    sources = {name: src for name, (src, _) in ATTACKS.items()}
    sources.update(correct=SOLUTION, subclass=SUBCLASS)
    return {name: grade(EXERCISE, src, sandbox=sandbox, student="s", secret=b"k")
            for name, src in sources.items()}


@pytest.mark.parametrize("name", list(ATTACKS))
def test_a_wrong_return_costs_that_tensor_only_and_says_why(results, name: str) -> None:
    result = results[name]
    assert_clean(result)
    assert result.status == "graded", result.message
    assert "result channel" not in result.message and "raised" not in result.message
    dx = next(t for t in result.tensors if t.name == "x")
    assert not dx.passed
    assert ATTACKS[name][1] in dx.message, dx.message
    assert result.score == result.max_score - 1


def test_the_right_answer_and_a_subclass_of_it_pass(results, sandbox: Sandbox) -> None:
    for name in ("correct", "subclass"):
        assert results[name].score == results[name].max_score, results[name].message
    assert_no_procs(sandbox.slot.uid)


# -- Limits.result_bytes bounds the mis-shaped payloads, float64 included ------------------

class Tanh64(Exercise):
    """h = tanh(x @ W) in float64, with room for one mis-shaped gradient per reply."""

    id = "test/issue15-tanh64"
    title = "tanh in float64, small replies"
    dtype = torch.float64
    graded = graded("h", "W", "x")
    inputs = ("x", "W", "h", "dout")
    case_specs = (CaseSpec(n=8, params={"d": 5}),)
    #: the expected gradients (8×4 + 5×4 + 8×5 = 92 float64) plus one mis-shaped h (32)
    limits = Limits(result_bytes=(92 + 32) * 8)

    def forward(self, case: Case) -> dict[str, Any]:
        g = generator(case.seed)
        d = case.params["d"]
        x = torch.randn((case.n, d), generator=g, dtype=torch.float64, requires_grad=True)
        W = torch.randn((d, 4), generator=g, dtype=torch.float64, requires_grad=True)
        h = torch.tanh(x @ W)
        loss, dout = upstream_loss(h, g)
        return {**keep(locals(), ("x", "W", "h")), "dout": dout, "loss": loss}


#: Every gradient right, h and x flattened: both mis-shaped, only h fits the reply.
FLATTENED = """
def backward(t):
    dpre = (1 - t.h**2) * t.dout
    return {"h": t.dout.reshape(-1), "W": t.x.T @ dpre, "x": (dpre @ t.W.T).reshape(-1)}
"""


def test_mis_shaped_float64_payloads_stay_within_result_bytes(sandbox: Sandbox) -> None:
    result = grade(Tanh64(), FLATTENED, sandbox=sandbox, student="s", secret=b"k")
    assert result.status == "graded", result.message
    by = {t.name: t for t in result.tensors}
    assert by["W"].passed
    # h crossed (its values are judged after a reshape); x did not fit and was described
    assert by["h"].status == by["x"].status == "shape_mismatch"
    assert by["h"].values_match and not by["x"].values_match


@pytest.fixture()
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    a, b = socket.socketpair()
    yield a, b
    a.close()
    b.close()


def _header(sock: socket.socket, entries: list[dict[str, Any]]) -> None:
    import json

    raw = json.dumps({"type": "reply", "ok": True, "tensors": entries}).encode()
    sock.sendall(struct.pack("!I", len(raw)) + raw)


def test_a_forged_reply_over_the_budget_is_refused_before_reading(pair) -> None:
    a, b = pair
    entry = {"kind": "tensor", "dtype": "float64", "payload": True}
    # two mis-shaped payloads, each within misshaped_ok, together over the budget; no bytes
    _header(a, [{**entry, "name": "h", "shape": [32]}, {**entry, "name": "x", "shape": [40]}])
    expected = {"h": (8, 4), "x": (8, 5)}
    budget = wire.misshaped_budget(expected, "float64", (72 + 32) * 8)
    assert budget == 32 * 8
    reader = wire.Reader(b, deadline=float("inf"))
    entries = wire.parse_entries(reader.header())
    with pytest.raises(wire.WireError, match="mis-shaped payloads over"):
        wire.read_payloads(reader, entries, expected, "float64", budget)


def test_any_dtype_may_be_described_but_only_ours_carry_bytes(pair) -> None:
    a, b = pair
    _header(a, [{"name": "x", "kind": "tensor", "dtype": "complex128", "shape": [2],
                 "payload": False}])
    entries = wire.parse_entries(wire.Reader(b).header())
    assert entries[0].dtype == "complex128" and not entries[0].payload
    _header(a, [{"name": "x", "kind": "tensor", "dtype": "complex128", "shape": [2],
                 "payload": True}])
    with pytest.raises(wire.WireError, match="malformed"):
        wire.parse_entries(wire.Reader(b).header())

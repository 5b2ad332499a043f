"""Huge returned tensors: a 1 GiB tensor (or a view into one) never crosses the result channel
as a whole. A wrong shape is described, not sent (shape_mismatch); a right-shaped view sends
only its own elements. The grader's memory stays flat."""

from __future__ import annotations

import pytest

from tests.adversarial.attack_helpers import (
    assert_no_procs,
    assert_survives,
    ex2,
    grade_quick,
    reset_peak_rss,
    status_kb,
)

GIB = 1024**3
CASES = {
    # name: (return expression, expected tensor status)
    "1GiB-empty": ("{'logits': torch.empty(2**28)}", "shape_mismatch"),
    "1GiB-touched": ("{'logits': torch.ones(2**28)}", "shape_mismatch"),
    "1GiB-2d": ("{'logits': torch.ones(2**23, 32)}", "shape_mismatch"),
    "1GiB-float64": ("{'logits': torch.ones(2**27, dtype=torch.float64)}", "shape_mismatch"),
    # 2**40 elements that take no memory: an expanded (stride 0) view.
    "expanded-2**39": ("{'logits': torch.zeros(1).expand(2**39)}", "shape_mismatch"),
    # The right shape, as a view at the start of a 1 GiB storage: only 32*27 floats travel.
    "right-shaped-view-of-1GiB": (
        "{'logits': BIG[: t.n * 27].view(t.n, 27)}", "passed"),
}


def source(ret: str, before: str = "") -> str:
    """Return a submission that answers the huge ``ret`` in its first call (the public case)
    only: one 1 GiB allocation per test keeps the suite fast, and the public case's failure
    decides the tensor's status. Later calls return the correct gradient."""
    return ("import torch\nimport torch.nn.functional as F\nCALLS = []\n"
            "def backward(t):\n"
            "    d = F.softmax(t.logits, 1)\n"
            "    d[range(t.n), t.Yb] -= 1\n"
            "    CALLS.append(1)\n"
            "    if len(CALLS) > 1:\n"
            "        return {'logits': d / t.n}\n"
            f"{before}    return {ret}\n")


VIEW_BEFORE = "    BIG = torch.ones(2**28)\n    BIG[: t.n * 27] = (d / t.n).flatten()\n"


@pytest.mark.parametrize("name", list(CASES))
def test_huge_returned_tensor(sandbox, name: str) -> None:
    ret, status = CASES[name]
    src = source(ret, VIEW_BEFORE if name.startswith("right-shaped") else "")
    peak_ok = reset_peak_rss()
    rss_before = status_kb("VmRSS")
    result = grade_quick(sandbox, src, memory_bytes=2 * GIB, wall_seconds=20,
                         cpu_seconds=20)
    grown_kb = status_kb("VmHWM" if peak_ok else "VmRSS") - rss_before
    assert grown_kb < 200 * 1024, f"the grader's memory grew by {grown_kb // 1024} MiB"
    assert result.status == "graded", result.message
    (tensor,) = result.tensors
    if status == "passed":
        assert tensor.passed, (tensor.status, tensor.message)
        assert result.score == 1.0
    else:
        assert tensor.status == status, (tensor.status, tensor.message)
        assert "expected (32, 27)" in tensor.message, tensor.message
        assert result.score == 0
    assert_no_procs(sandbox.slot.uid)
    assert_survives(sandbox)


def test_peak_rss_measure_can_fail() -> None:
    """The memory assertion above is live: allocating 300 MB here moves the peak past 200 MB."""
    import torch

    assert reset_peak_rss(), "VmHWM cannot be reset on this kernel"
    before = status_kb("VmRSS")
    x = torch.ones(300 * 1024**2 // 4)
    grown = status_kb("VmHWM") - before
    del x
    assert grown > 200 * 1024


def test_expanded_2_40_is_a_shape_mismatch(sandbox) -> None:
    result = grade_quick(sandbox, ex2(ret="{'logits': torch.zeros(1).expand(2**40)}"))
    assert result.status == "graded", result.message
    assert result.tensors[0].status == "shape_mismatch"

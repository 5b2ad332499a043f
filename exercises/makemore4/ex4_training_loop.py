"""Exercise 4: the parameter gradients, put to work in a training loop.

Besides the per-tensor check, the grader trains the network for ``STEPS`` SGD steps twice from
the same init on the same minibatches: once with the student's gradients (asked from the
sandbox each step) and once with autograd's. The loss curves must agree.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from exercises.makemore4 import common
from exercises.makemore4.starter import read
from grader.exercise import Case, Exercise, Limits
from grader.grade import returned_value
from grader.judge import Unusable
from grader.result import CheckResult

STEPS = 50
LR = 0.1
DATASET = 512
#: Curves agree when every step's loss is within ATOL + RTOL·|autograd loss|. Float noise of a
#: correct fused formula moves the curve by ~1e-6; a wrong parameter gradient by ≥ 1e-2.
CURVE_RTOL = 1e-3
CURVE_ATOL = 1e-4
TRAINING_POINTS = 1.0


class TrainingLoop(Exercise):
    id = "makemore4/ex4"
    title = "Parameter gradients that train the network"
    version = 2  # 2: degenerate batches (identical contexts) are drawn again
    description = f"""\
Compute the gradients of the 7 parameters — `C`, `W1`, `b1`, `W2`, `b2`, `bngain`, `bnbias` —
any way you like without autograd (the fused cross-entropy and batchnorm formulas of exercises
2 and 3 are the way to go). `t` holds the whole forward pass.

Then the grader **trains** the network with your gradients: {STEPS} SGD steps (lr {LR}) on a
small synthetic data set, next to the same run with autograd's gradients. Your loss curve must
track autograd's (one extra point).
"""
    starter = read("ex4_training_loop.py")
    graded = common.graded(*reversed(common.PARAMETERS))
    inputs = (*common.PARAMETERS, "Xb", "Yb", "n", *common.FORWARD_NAMES)
    case_specs = common.CASE_SPECS
    # 4 cases plus STEPS training steps in one child.
    limits = Limits(wall_seconds=30.0, cpu_seconds=30)

    def forward(self, case: Case) -> dict[str, Any]:
        """Build the lecture's forward pass for ``case``."""
        return common.forward_case(case)

    def check_points(self) -> dict[str, float]:
        """Return the training check's points."""
        return {"training": TRAINING_POINTS}

    def extra_checks(self, case: Case, ask: Callable[..., Any]) -> list[CheckResult]:
        """Train with the student's gradients and with autograd's; compare the loss curves."""
        return [train_and_compare(self, case, ask)]


def train_and_compare(exercise: Exercise, case: Case, ask: Callable[..., Any]) -> CheckResult:
    """Run both training runs step by step and judge the student's curve."""
    g = common.generator(case.seed ^ 0x5EED)
    params = common.init_params(g, case.params.get("n_hidden", common.N_HIDDEN))
    X, Y = common.make_dataset(g, DATASET)
    batches = [torch.randint(0, DATASET, (case.n,), generator=g) for _ in range(STEPS)]
    ours = {k: v.clone() for k, v in params.items()}
    theirs = {k: v.clone() for k, v in params.items()}
    ref_curve: list[float] = []
    curve: list[float] = []
    for step, ix in enumerate(batches):
        Xb, Yb = X[ix], Y[ix]
        fwd = common.forward(ours, Xb, Yb)
        grads = torch.autograd.grad(fwd["loss"], [fwd[k] for k in common.PARAMETERS])
        ref_curve.append(float(fwd["loss"].detach()))
        with torch.no_grad():
            for k, gr in zip(common.PARAMETERS, grads, strict=True):
                ours[k] -= LR * gr

        fwd = common.forward(theirs, Xb, Yb, track=False)
        curve.append(float(fwd["loss"]))
        expect = {k: tuple(theirs[k].shape) for k in common.PARAMETERS}
        reply = ask(exercise.student_inputs(fwd), expect)
        if reply.error is not None:
            return _fail(f"step {step + 1}: backward raised: {reply.error['message']}",
                         curve, ref_curve)
        for k in common.PARAMETERS:
            got = returned_value(reply, k, expect[k])
            if isinstance(got, Unusable):
                return _fail(f"step {step + 1}: d{k} {got.message}", curve, ref_curve)
            if not bool(torch.isfinite(got).all()):
                return _fail(f"step {step + 1}: d{k} has NaN or infinite values", curve,
                             ref_curve)
            theirs[k] -= LR * got
        if not _close(curve[-1], ref_curve[-1]):
            return _diverged(step + 1, curve, ref_curve)
    # The last update shows only in the loss after it.
    ref_curve.append(float(common.forward(ours, Xb, Yb, track=False)["loss"]))
    curve.append(float(common.forward(theirs, Xb, Yb, track=False)["loss"]))
    if not _close(curve[-1], ref_curve[-1]):
        return _diverged(STEPS + 1, curve, ref_curve)
    worst = max(abs(a - b) for a, b in zip(curve, ref_curve, strict=True))
    return CheckResult("training", True, TRAINING_POINTS, TRAINING_POINTS,
                       f"{STEPS} SGD steps: loss {curve[0]:.4f} → {curve[-1]:.4f}, "
                       f"max gap to autograd's run {worst:.2g}",
                       {"loss": curve, "reference_loss": ref_curve, "max_gap": worst})


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= CURVE_ATOL + CURVE_RTOL * abs(b)


def _diverged(step: int, curve: list[float], ref: list[float]) -> CheckResult:
    return _fail(f"step {step}: loss {curve[-1]:.5f} with your gradients, {ref[-1]:.5f} with "
                 "autograd's — the curves diverged", curve, ref)


def _fail(message: str, curve: list[float], ref: list[float]) -> CheckResult:
    return CheckResult("training", False, 0.0, TRAINING_POINTS,
                       f"training failed at {message}",
                       {"loss": curve, "reference_loss": ref[: len(curve)]})


EXERCISE = TrainingLoop

"""Exercise 4: the parameter gradients, put to work in a training loop.

Besides the per-tensor check, the grader trains the network for ``STEPS`` SGD steps twice from
the same init on the same minibatches: once with the student's gradients (asked from the
sandbox each step) and once with autograd's. The loss curves must agree.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from exercises.makemore4 import common
from exercises.makemore4.starter import read
from grader.kit import (
    Case,
    CheckResult,
    Exercise,
    Limits,
    Unusable,
    returned_value,
)

STEPS = 50
#: Large enough that a wrong gradient moves the curve far above float noise: at 0.5 the
#: lecture's network without Bessel's factor ends 4e-4 from autograd's run (7e-5 at 0.1),
#: a correct one stays within 5e-7.
LR = 0.5
DATASET = 512
#: Curves agree when every step's loss is within NOISE_FACTOR × the float32 noise of a
#: correct run. That noise is measured in the same run: autograd's float32 curve against
#: the same training in float64 (~3e-7 on a loss of ~3, i.e. a few float32 ulps); it is never
#: taken below FLOAT32_EPS·|loss|. Measured over the corpus (3 seeds each): correct
#: formulations ≤ 1.5× the noise, a Bessel slip in dW1 and dC ≥ 1000×.
NOISE_FACTOR = 30.0
FLOAT32_EPS = 2.0**-23
TRAINING_POINTS = 1.0


class TrainingLoop(Exercise):
    id = "makemore4/ex4"
    title = "Parameter gradients that train the network"
    version = 3  # 2: degenerate batches drawn again; 3: lr 0.5 and a noise-tied tolerance
    description = f"""\
Compute the gradients of the 7 parameters — `C`, `W1`, `b1`, `W2`, `b2`, `bngain`, `bnbias` —
any way you like without autograd (the fused cross-entropy and batchnorm formulas of exercises
2 and 3 are the way to go). `t` holds the whole forward pass.

Then the grader **trains** the network with your gradients: {STEPS} SGD steps (lr {LR}) on a
small synthetic data set, next to the same run with autograd's gradients. Your loss curve must
track autograd's within a few times float32 noise (one extra point).
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
    """Run both training runs step by step and judge the student's curve.

    A third run, autograd's in float64, measures how far float32 rounding alone moves a
    correct curve; the student's curve may stray :data:`NOISE_FACTOR` times that far. A fixed
    tolerance could not tell a Bessel slip (1e-4) from a correct run (5e-7) on a loss of 3.
    """
    g = common.generator(case.seed ^ 0x5EED)
    params = common.init_params(g, case.params.get("n_hidden", common.N_HIDDEN))
    X, Y = common.make_dataset(g, DATASET)
    batches = [torch.randint(0, DATASET, (case.n,), generator=g) for _ in range(STEPS)]
    ours = {k: v.clone() for k, v in params.items()}
    precise = {k: v.double() for k, v in params.items()}
    theirs = {k: v.clone() for k, v in params.items()}
    curves = _Curves()
    for step, ix in enumerate(batches):
        Xb, Yb = X[ix], Y[ix]
        curves.reference(_autograd_step(ours, Xb, Yb), _autograd_step(precise, Xb, Yb))

        fwd = common.forward(theirs, Xb, Yb, track=False)
        curves.student.append(float(fwd["loss"]))
        expect = {k: tuple(theirs[k].shape) for k in common.PARAMETERS}
        reply = ask(exercise.student_inputs(fwd), expect)
        if reply.error is not None:
            return curves.fail(f"step {step + 1}: backward raised: {reply.error['message']}")
        for k in common.PARAMETERS:
            got = returned_value(reply, k, expect[k])
            if isinstance(got, Unusable):
                return curves.fail(f"step {step + 1}: d{k} {got.message}")
            if not bool(torch.isfinite(got).all()):
                return curves.fail(f"step {step + 1}: d{k} has NaN or infinite values")
            theirs[k] -= LR * got
        if not curves.close():
            return curves.diverged(step + 1)
    # The last update shows only in the loss after it.
    curves.reference(_loss(ours, Xb, Yb), _loss(precise, Xb, Yb))
    curves.student.append(_loss(theirs, Xb, Yb))
    if not curves.close():
        return curves.diverged(STEPS + 1)
    return curves.passed()


def _autograd_step(params: dict[str, torch.Tensor], Xb: torch.Tensor,
                   Yb: torch.Tensor) -> float:
    """Take one SGD step with autograd's gradients in place; return the loss before it."""
    fwd = common.forward(params, Xb, Yb)
    grads = torch.autograd.grad(fwd["loss"], [fwd[k] for k in common.PARAMETERS])
    with torch.no_grad():
        for k, gr in zip(common.PARAMETERS, grads, strict=True):
            params[k] -= LR * gr
    return float(fwd["loss"].detach())


def _loss(params: dict[str, torch.Tensor], Xb: torch.Tensor, Yb: torch.Tensor) -> float:
    return float(common.forward(params, Xb, Yb, track=False)["loss"])


class _Curves:
    """The three loss curves and the tolerance the reference pair measures step by step."""

    def __init__(self) -> None:
        self.ref: list[float] = []
        self.student: list[float] = []
        #: Largest gap so far between autograd's float32 and float64 runs.
        self.noise = 0.0
        self.worst = 0.0

    def reference(self, loss32: float, loss64: float) -> None:
        self.ref.append(loss32)
        self.noise = max(self.noise, abs(loss32 - loss64), FLOAT32_EPS * abs(loss64))

    @property
    def tolerance(self) -> float:
        return NOISE_FACTOR * self.noise

    def close(self) -> bool:
        gap = abs(self.student[-1] - self.ref[-1])
        self.worst = max(self.worst, gap) if math.isfinite(gap) else math.inf
        return gap <= self.tolerance

    def passed(self) -> CheckResult:
        return CheckResult("training", True, TRAINING_POINTS, TRAINING_POINTS,
                           f"{STEPS} SGD steps: loss {self.student[0]:.4f} → "
                           f"{self.student[-1]:.4f}, max gap to autograd's run "
                           f"{self.worst:.2g} (tolerance {self.tolerance:.2g}: "
                           f"{NOISE_FACTOR:g}× float32 noise)", self._details())

    def diverged(self, step: int) -> CheckResult:
        gap = abs(self.student[-1] - self.ref[-1])
        return self.fail(f"step {step}: loss {self.student[-1]:.6f} with your gradients, "
                         f"{self.ref[-1]:.6f} with autograd's — a gap of {gap:.2g}, more than "
                         f"{self.tolerance:.2g} ({NOISE_FACTOR:g}× the float32 noise of a "
                         "correct run): some parameter gradient is off")

    def fail(self, message: str) -> CheckResult:
        return CheckResult("training", False, 0.0, TRAINING_POINTS,
                           f"training failed at {message}", self._details())

    def _details(self) -> dict[str, Any]:
        return {"loss": self.student, "reference_loss": self.ref[: len(self.student)],
                "max_gap": self.worst, "tolerance": self.tolerance}


EXERCISE = TrainingLoop

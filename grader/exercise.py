"""The exercise API: what a course author writes to add an exercise.

An exercise is one small class (one module): it builds the forward pass of a test case with
autograd, names the tensors the student receives in ``t`` and the tensors it grades, and lists
its cases. Everything else — running the student's code in a sandbox, comparing against
autograd, scoring — is done by :mod:`grader.grade`, so an exercise never touches a database or
a process (CTFd's ``BaseChallenge`` rule: the exercise "does not make any changes").
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import torch

if TYPE_CHECKING:
    from grader.result import CheckResult

#: Default scale-aware tolerances (spec §3): pass when max|d − r| ≤ atol + rtol · max|r|.
#: Chosen so that fused float32 formulas pass with a 100× margin and a 1/n, Bessel or sign
#: bug fails with a 100× margin (measured over the test corpus, see tests/exercises).
DEFAULT_RTOL = 1e-4
DEFAULT_ATOL = 1e-6


@dataclass(frozen=True)
class Case:
    """One test case: a seed plus the sizes that shape the forward pass.

    ``params`` carries exercise-specific sizes (e.g. ``n_hidden``) so hidden cases can change
    widths, not only seeds, and hard-coded numbers in a submission fail.
    """

    name: str
    seed: int
    n: int = 32
    hidden: bool = False
    params: Mapping[str, int] = field(default_factory=dict)

    def describe(self) -> str:
        """Return a short human label, e.g. ``hidden case 2 (n=7)``."""
        sizes = ", ".join([f"n={self.n}"] + [f"{k}={v}" for k, v in self.params.items()])
        return f"{self.name.replace('-', ' case ')} ({sizes})" if self.hidden else \
            f"public case ({sizes})"


@dataclass(frozen=True)
class Graded:
    """A graded tensor: its forward name, its points and optional tolerance overrides."""

    name: str
    points: float = 1.0
    rtol: float | None = None
    atol: float | None = None


@dataclass(frozen=True)
class Limits:
    """Resource limits for one submission's sandboxed run (all cases together)."""

    wall_seconds: float = 10.0
    cpu_seconds: int = 10
    memory_bytes: int = 2 * 1024**3
    max_processes: int = 16
    file_bytes: int = 16 * 1024**2
    open_files: int = 64
    output_bytes: int = 64 * 1024
    #: Upper bound on the bytes of all tensors one reply may carry.
    result_bytes: int = 64 * 1024**2


@dataclass(frozen=True)
class CaseSpec:
    """Which cases an exercise runs: public + hidden, with their sizes."""

    n: int
    params: Mapping[str, int] = field(default_factory=dict)


class Exercise:
    """Base class of every exercise.

    Subclasses set the class attributes and implement :meth:`forward`. Optionally they add
    :meth:`extra_checks` (e.g. a training run that uses the student's gradients).
    """

    #: Stable id ``pack/name`` used in URLs, the API and the database.
    id: ClassVar[str]
    title: ClassVar[str]
    #: Bump when forward, cases or tolerances change, so stored results say what graded them.
    version: ClassVar[int] = 1
    #: Markdown shown on the exercise page and by ``backprop exercises --long``.
    description: ClassVar[str] = ""
    #: The starter file handed to students.
    starter: ClassVar[str] = ""
    #: Graded tensors in backward (forward-reverse) order.
    graded: ClassVar[tuple[Graded, ...]]
    #: Names placed into the student's ``t`` (tensors, plus ints such as ``n``).
    inputs: ClassVar[tuple[str, ...]]
    #: Public case first, then hidden cases.
    case_specs: ClassVar[tuple[CaseSpec, ...]] = (CaseSpec(n=32),)
    rtol: ClassVar[float] = DEFAULT_RTOL
    atol: ClassVar[float] = DEFAULT_ATOL
    #: The float dtype of ``t``'s tensors and of the gradients the student returns. float64
    #: for numerically delicate exercises, where float32 rounding would blur a verdict
    #: (tolerances then can be far tighter); the description should say so.
    dtype: ClassVar[torch.dtype] = torch.float32
    limits: ClassVar[Limits] = Limits()

    def forward(self, case: Case) -> dict[str, Any]:
        """Build the forward pass of ``case`` with autograd.

        :param case: the case to build (seed and sizes).
        :return: every named tensor (intermediates with ``retain_grad()``), the python ints
            the student may read (``n``), and ``loss``: the scalar whose gradient is graded.
        """
        raise NotImplementedError

    # -- derived behaviour, shared by every exercise -------------------------------------

    @property
    def max_score(self) -> float:
        """Return the points of all graded tensors plus those of the extra checks."""
        return sum(g.points for g in self.graded) + sum(self.check_points().values())

    def check_points(self) -> dict[str, float]:
        """Return the points of each extra check by name (none by default)."""
        return {}

    def tolerances(self, graded: Graded) -> tuple[float, float]:
        """Return ``(rtol, atol)`` for one graded tensor, applying per-tensor overrides."""
        return (graded.rtol if graded.rtol is not None else self.rtol,
                graded.atol if graded.atol is not None else self.atol)

    def cases(self, student: str, secret: bytes) -> list[Case]:
        """Return the public case (seeded per student) and the hidden ones (seeded by secret).

        The public seed is derived from the student and exercise only, so a student sees the
        same public case every time. Hidden seeds are an HMAC under the server secret: nothing
        a submission can read lets it predict them.
        """
        cases = []
        for i, spec in enumerate(self.case_specs):
            if i == 0:
                seed = _seed(b"public", f"{self.id}:{student}")
                cases.append(Case("public", seed, spec.n, False, dict(spec.params)))
            else:
                seed = _seed(secret, f"{self.id}:{student}:{i}")
                cases.append(Case(f"hidden-{i}", seed, spec.n, True, dict(spec.params)))
        return cases

    def student_inputs(self, fwd: Mapping[str, Any]) -> dict[str, Any]:
        """Pick the names that go into ``t``: fresh detached copies (floats in the exercise's
        :attr:`dtype`) and python ints."""
        out: dict[str, Any] = {}
        for name in self.inputs:
            value = fwd[name]
            if isinstance(value, torch.Tensor):
                value = value.detach().clone()
                if value.is_floating_point():
                    value = value.to(self.dtype)
            out[name] = value
        return out

    def reference(self, fwd: Mapping[str, Any]) -> dict[str, torch.Tensor]:
        """Return autograd's gradient of ``fwd['loss']`` for every graded tensor.

        Runs in the trusted process only; these tensors never enter the sandbox.
        """
        names = [g.name for g in self.graded]
        grads = torch.autograd.grad(fwd["loss"], [fwd[n] for n in names], retain_graph=True,
                                    allow_unused=True)
        return {n: (g if g is not None else torch.zeros_like(fwd[n])).detach()
                for n, g in zip(names, grads, strict=True)}

    def extra_checks(self, case: Case, ask: Callable[[dict[str, Any]], Any]) \
            -> list[CheckResult]:
        """Run checks beyond per-tensor comparison (none by default).

        :param case: the public case, for sizes and seed.
        :param ask: sends a ``t`` to the student's ``backward`` in the sandbox and returns the
            per-name reply (see :class:`grader.grade.Reply`); the check drives it as often as
            it needs, e.g. once per training step.
        """
        return []

    def __repr__(self) -> str:
        return f"<Exercise {self.id} v{self.version}: {len(self.graded)} tensors>"


def _seed(key: bytes, message: str) -> int:
    """Derive a 63-bit seed from ``key`` and ``message`` (HMAC-SHA256)."""
    digest = hmac.new(key, message.encode(), hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "big") >> 1

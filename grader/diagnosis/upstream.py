"""Hypotheses inside a fused formula: a mistake at an ungraded intermediate.

In exercises that grade one fused gradient (ex3's ``dhprebn``) or only the parameters (ex4),
the line with the bug computes an intermediate nobody grades. The forward pass still names
those intermediates, so a hypothesis can be planted there and pushed down the reference graph:
"``dW1`` is what you get when ``dhpreact`` uses ``1 − hpreact²``". Each intermediate ``w``
between the tensor and its consumers is tried, nearest first, with the same mistakes the
direct fingerprints test (a constant factor, a lost branch, a local derivative on the
wrong tensor).
Every hypothesis is linear in a change ``Δ`` at ``w``: it holds when
``student ≈ expected + J_{w→v}(Δ)``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from grader.diagnosis.findings import Finding, times
from grader.diagnosis.fingerprints import Evidence, close, fit_factor, wrong_derivative

if TYPE_CHECKING:
    from grader.diagnosis.case import CaseDiagnosis


def search(case: CaseDiagnosis, ev: Evidence) -> Finding | None:
    """Return the first hypothesis at an ungraded intermediate that explains ``ev``."""
    for name, node, flow in points(case, ev.name):
        grads = flow.entered.get(id(node)) or [None]
        total = grads[0]
        if total is None:
            continue
        found = (_factor(case, ev, name, node, total)
                 or _lost_branch(case, ev, name, node, flow)
                 or _wrong_tensor(case, ev, name, node, flow))
        if found is not None:
            return found
    return None


def points(case: CaseDiagnosis, target: str) -> list[tuple[str, Any, Any]]:
    """Return the ungraded named tensors the consumers' flows passed on the way to ``target``.

    Nearest to ``target`` first: the later a node was replayed, the closer it is.
    """
    seen: set[int] = set()
    out = []
    for consumer in case.graph.consumers(target):
        flow = case.flow(consumer)
        for node in reversed(flow.order):
            name = case.graph.name_of(node)
            if name is None or id(node) in seen or case.graph.is_stop(node) is not None:
                continue
            seen.add(id(node))
            out.append((name, node, flow))
    return out


def _through(case: CaseDiagnosis, node: Any, delta: torch.Tensor, target: str,
             key: str) -> torch.Tensor | None:
    """Return ``J_{w→target}(delta)``: a change at ``node`` as it reaches ``target``.

    ``key`` names the hypothesis: its flow reaches every graded tensor below ``node`` at
    once, so it is replayed once per case and shared (ex4's seven parameters).
    """
    cache_key = (id(node), key)
    if cache_key not in case.hypotheses:
        case.hypotheses[cache_key] = case.graph.flow(node, delta)
    arrival = case.hypotheses[cache_key].arrived.get(target)
    return arrival.grad if arrival is not None else None


def _factor(case: CaseDiagnosis, ev: Evidence, name: str, node: Any,
            total: torch.Tensor) -> Finding | None:
    moved = _through(case, node, total, ev.name, "factor")
    if moved is None:
        return None
    k = fit_factor(ev.student - ev.expected, moved)
    if k is None or abs(k) < 1e-3 or not close(ev.student, ev.expected + k * moved):
        return None
    named = times(1 + k, ev.n)
    if named is None:
        return None
    code, phrase = named
    return Finding(code, f"d{ev.name} is what you get when d{name} is {phrase}", at=name)


def _lost_branch(case: CaseDiagnosis, ev: Evidence, name: str, node: Any,
                 flow: Any) -> Finding | None:
    branches = flow.branches.get(id(node), [])
    if len(branches) < 2:
        return None
    total = sum(g for _, g in branches)
    for i, (_, kept) in enumerate(branches):
        moved = _through(case, node, kept - total, ev.name, f"branch-{i}")
        if moved is not None and close(ev.student, ev.expected + moved):
            return Finding("overwrite_branch", f"d{ev.name} is what you get when d{name} "
                           f"keeps only one of its {len(branches)} contributions (branch "
                           f"{i + 1}): {name} is used {len(branches)} times, so its gradient "
                           "must add them all (+=, not =)", at=name)
    return None


def _wrong_tensor(case: CaseDiagnosis, ev: Evidence, name: str, node: Any,
                  flow: Any) -> Finding | None:
    for source, _ in flow.branches.get(id(node), []):
        upstream = (flow.entered.get(id(source)) or [None])[0] if source is not None else None
        if upstream is None:
            continue
        out = case.graph.name_of(source) or "its output"
        swap = wrong_derivative(source, case.fwd[name].detach(), name, out)
        if swap is None:
            continue
        moved = _through(case, node, swap.delta * upstream, ev.name, f"swap-{id(source)}")
        if moved is not None and close(ev.student, ev.expected + moved):
            return Finding(swap.code, f"d{ev.name} is what you get when d{name} uses "
                           f"{swap.wrong}: {swap.what} is {swap.right}", at=name)
    return None

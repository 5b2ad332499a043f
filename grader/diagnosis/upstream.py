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
from grader.diagnosis.swaps import node_swaps

if TYPE_CHECKING:
    from grader.diagnosis.case import CaseDiagnosis


def search(case: CaseDiagnosis, ev: Evidence) -> Finding | None:
    """Return the first hypothesis at an ungraded intermediate that explains ``ev``."""
    for name, node, slot, flow in points(case, ev.name):
        grads = flow.entered.get(id(node)) or []
        total = grads[slot] if slot < len(grads) else None
        if total is None:
            continue
        found = (_factor(case, ev, name, node, slot, total)
                 or _lost_branch(case, ev, name, node, slot, flow)
                 or _wrong_tensor(case, ev, name, node, slot, flow))
        if found is not None:
            return found
    return None


#: At most this many nodes of one consumer's flow are tried with :func:`swapped` (nearest
#: the tensor first): a fused exercise's flows are long, and the twin of a line's own rule
#: sits near the tensor.
SWAP_NODES = 12


def swapped(case: CaseDiagnosis, ev: Evidence) -> Finding | None:
    """A local derivative's classic twin somewhere between a consumer and the tensor.

    Each node a consumer's flow replayed (nearest the tensor first) is asked for the wrong
    twins of its rule (:mod:`grader.diagnosis.swaps`); a twin's change at the node's input
    is pushed down to the tensor, and explains the student's value when it closes the gap.
    """
    for consumer in case.graph.consumers(ev.name):
        flow = case.flow(consumer)
        for node in list(reversed(flow.order))[:SWAP_NODES]:
            grads = flow.entered.get(id(node)) or [None]
            upstream = grads[0]
            if upstream is None:
                continue
            for edge in range(len(node.next_functions)):
                for swap in node_swaps(node, edge, ev.value, ev.name):
                    change = swap.change(upstream)
                    if change.dim() == 0:
                        continue  # the twin does not apply to these shapes
                    try:
                        moved = case.graph.push(node, edge, change, ev.name)
                    except RuntimeError:
                        continue  # a change the graph's shapes do not take: no hypothesis
                    if moved is None or moved.shape != ev.expected.shape:
                        continue
                    if close(ev.student, ev.expected + moved):
                        step = "" if consumer == case.graph.root else \
                            f" in the step from d{consumer}"
                        return Finding(swap.code, f"d{ev.name} is what you get with "
                                       f"{swap.wrong}{step}: {swap.right} belongs there")
    return None


def points(case: CaseDiagnosis, target: str) -> list[tuple[str, Any, int, Any]]:
    """Return the ungraded named tensors the consumers' flows passed on the way to ``target``,
    as ``(name, node, output slot, flow)``.

    Nearest to ``target`` first: the later a node was replayed, the closer it is.
    """
    seen: set[tuple[int, int]] = set()
    out = []
    for consumer in case.graph.consumers(target):
        flow = case.flow(consumer)
        for node in reversed(flow.order):
            for slot, name in case.graph.names_at(node):
                if (id(node), slot) in seen or case.graph.is_stop(node, slot) is not None:
                    continue
                seen.add((id(node), slot))
                out.append((name, node, slot, flow))
    return out


def _through(case: CaseDiagnosis, node: Any, slot: int, delta: torch.Tensor, target: str,
             key: str) -> torch.Tensor | None:
    """Return ``J_{w→target}(delta)``: a change at ``node`` as it reaches ``target``.

    ``key`` names the hypothesis: its flow reaches every graded tensor below ``node`` at
    once, so it is replayed once per case and shared (ex4's seven parameters).
    """
    cache_key = (id(node), f"{slot}:{key}")
    if cache_key not in case.hypotheses:
        case.hypotheses[cache_key] = case.graph.flow(node, delta, slot)
    arrival = case.hypotheses[cache_key].arrived.get(target)
    return arrival.grad if arrival is not None else None


def _factor(case: CaseDiagnosis, ev: Evidence, name: str, node: Any, slot: int,
            total: torch.Tensor) -> Finding | None:
    moved = _through(case, node, slot, total, ev.name, "factor")
    if moved is None:
        return None
    k = fit_factor(ev.student - ev.expected, moved)
    if k is None or abs(k) < 1e-3 or not close(ev.student, ev.expected + k * moved):
        return None
    named = times(1 + k, ev.sizes)
    if named is None:
        return None
    code, phrase = named
    return Finding(code, f"d{ev.name} is what you get when d{name} is {phrase}", at=name)


def _lost_branch(case: CaseDiagnosis, ev: Evidence, name: str, node: Any, slot: int,
                 flow: Any) -> Finding | None:
    branches = flow.branches_of(node, slot)
    if len(branches) < 2:
        return None
    total = sum(g for _, g in branches)
    for i, (_, kept) in enumerate(branches):
        moved = _through(case, node, slot, kept - total, ev.name, f"branch-{i}")
        if moved is not None and close(ev.student, ev.expected + moved):
            return Finding("overwrite_branch", f"d{ev.name} is what you get when d{name} "
                           f"keeps only one of its {len(branches)} contributions (branch "
                           f"{i + 1}): {name} is used {len(branches)} times, so its gradient "
                           "must add them all (+=, not =)", at=name)
    return None


def _wrong_tensor(case: CaseDiagnosis, ev: Evidence, name: str, node: Any, slot: int,
                  flow: Any) -> Finding | None:
    for source, _ in flow.branches_of(node, slot):
        upstream = (flow.entered.get(id(source)) or [None])[0] if source is not None else None
        if upstream is None:
            continue
        out = case.graph.name_of(source) or "its output"
        swap = wrong_derivative(source, case.fwd[name].detach(), name, out)
        if swap is None:
            continue
        moved = _through(case, node, slot, swap.delta * upstream, ev.name, f"swap-{id(source)}")
        if moved is not None and close(ev.student, ev.expected + moved):
            return Finding(swap.code, f"d{ev.name} is what you get when d{name} uses "
                           f"{swap.wrong}: {swap.what} is {swap.right}", at=name)
    return None

"""The exercise's autograd graph, seen as named tensors, and one-edge gradient flows through it.

Autograd's engine answers "the gradient of the loss"; diagnosis needs a narrower question: what
gradient reaches tensor ``v`` from one *named consumer* ``u`` alone, fed with the student's own
``du``. That is a vector-Jacobian product through the nodes between ``u`` and ``v`` that must
stop at every other named tensor (their gradients are the student's to get right or wrong).
``torch.autograd.grad`` cannot stop part-way, so :func:`flow` replays the few nodes in
between by calling them, as the engine would: in topological order, summing what reaches a node,
and reducing a broadcast gradient to its input's shape (the engine's ``sum_to``).

Consumers are read off the graph itself — walk ``grad_fn.next_functions`` from each named
tensor until another named tensor is met — so no exercise writes a dependency list.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

Node = Any  # an autograd graph node (torch._C._functions / generated *Backward classes)


def _sum_to(grad: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
    """Reduce a broadcast gradient to ``shape``, as the autograd engine does between nodes."""
    if tuple(grad.shape) == shape:
        return grad
    lead = grad.dim() - len(shape)
    if lead > 0:
        grad = grad.sum(dim=tuple(range(lead)))
    dims = tuple(i for i, size in enumerate(shape) if size == 1 and grad.shape[i] != 1)
    if dims:
        grad = grad.sum(dim=dims, keepdim=True)
    return grad.reshape(shape)


def _input_shape(node: Node, slot: int) -> tuple[int, ...]:
    """Return the shape of the gradient that ``node`` expects in input ``slot``."""
    if type(node).__name__ == "AccumulateGrad":
        return tuple(node.variable.shape)
    return tuple(node._input_metadata[slot].shape)


@dataclass
class Arrival:
    """The gradient one flow delivers to a named tensor.

    ``broadcast`` is the same gradient before it was reduced to the tensor's shape (e.g.
    ``(n, H)`` for a ``(1, H)`` bias): "summed over the wrong dimension" and "forgot to sum"
    are tested against it.
    """

    grad: torch.Tensor
    broadcast: torch.Tensor
    #: The node whose output the tensor is an input of (e.g. ``IndexBackward0`` for ``C``).
    via: Node


@dataclass
class Flow:
    """What one seeded gradient delivered: at named stops, and at every node on the way."""

    arrived: dict[str, Arrival] = field(default_factory=dict)
    #: Total gradient that entered each visited node (its inputs), keyed by ``id(node)``.
    entered: dict[int, list[torch.Tensor | None]] = field(default_factory=dict)
    #: Per visited node: the single contributions summed into it (its branches), each with
    #: the node it came from (None for the seed).
    branches: dict[int, list[tuple[Node | None, torch.Tensor]]] = field(default_factory=dict)
    #: The visited nodes in the order they were replayed (nearest the seed first).
    order: list[Node] = field(default_factory=list)


class NamedGraph:
    """The named tensors of one forward pass and the autograd nodes that produce them.

    :param fwd: the exercise's forward dict (tensors and ints).
    :param names: the named tensors that are *stops* (graded: the student answers for them).
    :param root: the scalar whose gradient is 1 (the loss).
    """

    def __init__(self, fwd: Mapping[str, Any], names: Iterable[str], root: str = "loss"):
        self.fwd = fwd
        self.root = root
        self.stops: dict[int, str] = {}
        #: Every named tensor that takes part in the graph, graded or not.
        self.node_name: dict[int, str] = {}
        self._leaf_name: dict[int, str] = {}
        for name, value in fwd.items():
            if not isinstance(value, torch.Tensor) or not value.requires_grad:
                continue
            if value.grad_fn is not None:
                self.node_name[id(value.grad_fn)] = name
            else:
                self._leaf_name[id(value)] = name
        self.graded = [n for n in names if n in fwd]
        self._acc: dict[str, Node] | None = None
        for name in [*self.graded, root]:
            node = self.node_of(name)
            if node is not None:
                self.stops[id(node)] = name
        self._consumers: dict[str, list[str]] | None = None

    def node_of(self, name: str) -> Node | None:
        """Return the node that receives ``name``'s gradient (grad_fn, or its accumulator)."""
        value = self.fwd[name]
        if value.grad_fn is not None:
            return value.grad_fn
        return self._accumulators().get(name)

    def name_of(self, node: Node) -> str | None:
        """Return the named tensor whose gradient ``node`` receives, if any."""
        if type(node).__name__ == "AccumulateGrad":
            return self._leaf_name.get(id(node.variable))
        return self.node_name.get(id(node))

    def _accumulators(self) -> dict[str, Node]:
        if self._acc is None:
            self._acc = {}
            seen: set[int] = set()
            stack = [self.fwd[self.root].grad_fn]
            while stack:
                node = stack.pop()
                if node is None or id(node) in seen:
                    continue
                seen.add(id(node))
                if type(node).__name__ == "AccumulateGrad":
                    name = self._leaf_name.get(id(node.variable))
                    if name:
                        self._acc[name] = node
                    continue
                stack.extend(nxt for nxt, _ in node.next_functions)
        return self._acc

    def consumers(self, name: str) -> list[str]:
        """Return the graded tensors (or the root) whose gradient flows straight into ``name``.

        "Straight" means without passing another graded tensor: for ``counts`` in the lecture's
        network these are ``probs`` and ``counts_sum``.
        """
        if self._consumers is None:
            self._consumers = {n: [] for n in self.graded}
            for source in [self.root, *self.graded]:
                node = self.node_of(source)
                for target in self._reachable_stops(node) if node is not None else ():
                    if target != source and target in self._consumers:
                        self._consumers[target].append(source)
        return self._consumers.get(name, [])

    def _reachable_stops(self, start: Node) -> set[str]:
        found: set[str] = set()
        seen = {id(start)}
        stack = [nxt for nxt, _ in start.next_functions if nxt is not None]
        while stack:
            node = stack.pop()
            if id(node) in seen:
                continue
            seen.add(id(node))
            stop = self.is_stop(node)
            if stop is not None:
                found.add(stop)
                continue
            stack.extend(nxt for nxt, _ in node.next_functions if nxt is not None)
        return found

    def _stop_leaf(self, node: Node) -> str | None:
        name = self._leaf_name.get(id(node.variable))
        return name if name in self.graded else None

    def is_stop(self, node: Node) -> str | None:
        """Return the graded/root name at which a flow stops on ``node``, if any."""
        stop = self.stops.get(id(node))
        if stop is None and type(node).__name__ == "AccumulateGrad":
            stop = self._stop_leaf(node)
        return stop

    def flow(self, start: Node, grad: torch.Tensor) -> Flow:
        """Push ``grad`` into ``start`` and replay the nodes below it up to the next stops.

        Returns what reached each stop and, for every node on the way, what entered it. Runs
        under ``no_grad``: the replay must not build a graph of its own.
        """
        result = Flow()
        if type(start).__name__ == "AccumulateGrad":
            return result  # a leaf consumes nothing (and calling it would fill .grad)
        region, indegree = self._region(start)
        entered: dict[int, list[torch.Tensor | None]] = {
            id(start): [grad] + [None] * (len(start._input_metadata) - 1)}
        result.branches[id(start)] = [(None, grad)]
        ready = [start]
        with torch.no_grad():
            while ready:
                node = ready.pop()
                inputs = entered.get(id(node), [])
                result.entered[id(node)] = inputs
                result.order.append(node)
                args = [g if g is not None else
                        torch.zeros(tuple(node._input_metadata[i].shape))
                        for i, g in enumerate(inputs)]
                outputs = node(*args)
                if isinstance(outputs, torch.Tensor) or outputs is None:
                    outputs = (outputs,)
                for (nxt, slot), out in zip(node.next_functions, outputs, strict=False):
                    if nxt is None:
                        continue
                    stop = self.is_stop(nxt)
                    if stop is not None:
                        if out is not None:
                            shaped = _sum_to(out, _input_shape(nxt, slot))
                            prev = result.arrived.get(stop)
                            result.arrived[stop] = Arrival(
                                shaped if prev is None else prev.grad + shaped,
                                out if prev is None else prev.broadcast + out, node)
                        continue
                    if id(nxt) not in region:
                        continue  # a leaf nobody grades
                    if out is not None:
                        shaped = _sum_to(out, _input_shape(nxt, slot))
                        slots = entered.setdefault(id(nxt), [None] * len(nxt._input_metadata))
                        slots[slot] = shaped if slots[slot] is None else slots[slot] + shaped
                        result.branches.setdefault(id(nxt), []).append((node, shaped))
                    indegree[id(nxt)] -= 1
                    if indegree[id(nxt)] == 0:
                        ready.append(nxt)
        return result

    def _region(self, start: Node) -> tuple[set[int], dict[int, int]]:
        """Return the nodes below ``start`` up to the stops, and each one's in-degree."""
        region = {id(start)}
        indegree: dict[int, int] = {}
        stack = [start]
        while stack:
            node = stack.pop()
            for nxt, _ in node.next_functions:
                if nxt is None or self.is_stop(nxt) is not None \
                        or type(nxt).__name__ == "AccumulateGrad":
                    continue
                indegree[id(nxt)] = indegree.get(id(nxt), 0) + 1
                if id(nxt) not in region:
                    region.add(id(nxt))
                    stack.append(nxt)
        return region, indegree

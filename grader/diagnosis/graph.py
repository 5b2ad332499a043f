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

A named tensor is one *output slot* of a node, not the node: ``q, k, v = qkv.split(C, 2)``
gives three tensors one ``SplitBackward0``, told apart by ``output_nr``. Stops, names and the
gradients entering a node are kept per slot, so a flow may stop at ``q`` and still pass
through the same node on its way from ``k`` to ``qkv``.
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


#: A node's output slot: ``(id(node), output_nr)``.
Slot = tuple[int, int]


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
    #: Which of ``via``'s inputs the tensor is (its index in ``via.next_functions``).
    edge: int = 0


@dataclass
class Flow:
    """What one seeded gradient delivered: at named stops, and at every node on the way."""

    arrived: dict[str, Arrival] = field(default_factory=dict)
    #: Total gradient that entered each visited node (its inputs), keyed by ``id(node)``.
    entered: dict[int, list[torch.Tensor | None]] = field(default_factory=dict)
    #: Per visited node slot ``(id(node), output_nr)``: the single contributions summed into
    #: it (its branches), each with the node it came from (None for the seed).
    branches: dict[Slot, list[tuple[Node | None, torch.Tensor]]] = field(default_factory=dict)
    #: The visited nodes in the order they were replayed (nearest the seed first).
    order: list[Node] = field(default_factory=list)
    #: Seeded with a gradient of another shape than its tensor's (a student's mis-shaped
    #: one, replayed as their next lines would broadcast it).
    raw: bool = False

    def branches_of(self, node: Node, slot: int = 0) -> list[tuple[Node | None, torch.Tensor]]:
        """Return the contributions that entered ``node``'s output ``slot``."""
        return self.branches.get((id(node), slot), [])


class NamedGraph:
    """The named tensors of one forward pass and the autograd nodes that produce them.

    :param fwd: the exercise's forward dict (tensors and ints).
    :param names: the named tensors that are *stops* (graded: the student answers for them).
    :param root: the scalar whose gradient is 1 (the loss).
    """

    def __init__(self, fwd: Mapping[str, Any], names: Iterable[str], root: str = "loss"):
        self.fwd = fwd
        self.root = root
        self.graded = [n for n in names if n in fwd]
        self.stops: dict[Slot, str] = {}
        #: Every named tensor that takes part in the graph, graded or not, by its slot
        #: (a graded name wins when two names are one tensor).
        self.node_name: dict[Slot, str] = {}
        self._leaf_name: dict[int, str] = {}
        graded = set(self.graded) | {root}
        for name, value in sorted(fwd.items(), key=lambda item: item[0] in graded):
            if not isinstance(value, torch.Tensor) or not value.requires_grad:
                continue
            if value.grad_fn is not None:
                self.node_name[(id(value.grad_fn), value.output_nr)] = name
            else:
                self._leaf_name[id(value)] = name
        self._acc: dict[str, Node] | None = None
        for name in [*self.graded, root]:
            node = self.node_of(name)
            if node is not None:
                self.stops[(id(node), self.slot_of(name))] = name
        self._consumers: dict[str, list[str]] | None = None

    def node_of(self, name: str) -> Node | None:
        """Return the node that receives ``name``'s gradient (grad_fn, or its accumulator)."""
        value = self.fwd[name]
        if value.grad_fn is not None:
            return value.grad_fn
        return self._accumulators().get(name)

    def slot_of(self, name: str) -> int:
        """Return which output of its node ``name`` is (``output_nr``; 0 for a leaf)."""
        value = self.fwd[name]
        return value.output_nr if value.grad_fn is not None else 0

    def name_of(self, node: Node, slot: int = 0) -> str | None:
        """Return the named tensor whose gradient ``node`` receives in ``slot``, if any."""
        if type(node).__name__ == "AccumulateGrad":
            return self._leaf_name.get(id(node.variable))
        return self.node_name.get((id(node), slot))

    def names_at(self, node: Node) -> list[tuple[int, str]]:
        """Return ``(slot, name)`` for every named output of ``node``."""
        if type(node).__name__ == "AccumulateGrad":
            name = self.name_of(node)
            return [(0, name)] if name else []
        slots = len(node._input_metadata)
        return [(s, n) for s in range(slots) if (n := self.node_name.get((id(node), s)))]

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
        expanded = {id(start)}
        stack = [(nxt, slot) for nxt, slot in start.next_functions if nxt is not None]
        while stack:
            node, slot = stack.pop()
            stop = self.is_stop(node, slot)
            if stop is not None:
                found.add(stop)
                continue
            if id(node) in expanded:
                continue
            expanded.add(id(node))
            stack.extend((nxt, s) for nxt, s in node.next_functions if nxt is not None)
        return found

    def _stop_leaf(self, node: Node) -> str | None:
        name = self._leaf_name.get(id(node.variable))
        return name if name in self.graded else None

    def is_stop(self, node: Node, slot: int = 0) -> str | None:
        """Return the graded/root name at which a flow stops on ``node``'s ``slot``, if any."""
        stop = self.stops.get((id(node), slot))
        if stop is None and type(node).__name__ == "AccumulateGrad":
            stop = self._stop_leaf(node)
        return stop

    def flow_from(self, name: str, grad: torch.Tensor) -> Flow:
        """Push ``grad`` in as ``name``'s gradient (see :meth:`flow`)."""
        node = self.node_of(name)
        return self.flow(node, grad, self.slot_of(name)) if node is not None else Flow()

    def flow(self, start: Node, grad: torch.Tensor, slot: int = 0) -> Flow:
        """Push ``grad`` into output ``slot`` of ``start`` and replay the nodes below it up to
        the next stops.

        Returns what reached each stop and, for every node on the way, what entered it. Runs
        under ``no_grad``: the replay must not build a graph of its own. A node's outputs
        that nothing reached get zeros (of their own dtype: float64 graphs stay float64).
        """
        result = Flow()
        if type(start).__name__ == "AccumulateGrad":
            return result  # a leaf consumes nothing (and calling it would fill .grad)
        region, indegree = self._region(start)
        first: list[torch.Tensor | None] = [None] * len(start._input_metadata)
        first[slot] = grad
        entered: dict[int, list[torch.Tensor | None]] = {id(start): first}
        result.branches[(id(start), slot)] = [(None, grad)]
        ready = [start]
        with torch.no_grad():
            while ready:
                node = ready.pop()
                inputs = entered.get(id(node), [])
                result.entered[id(node)] = inputs
                result.order.append(node)
                args = [g if g is not None else _zeros(node._input_metadata[i])
                        for i, g in enumerate(inputs)]
                outputs = node(*args)
                if isinstance(outputs, torch.Tensor) or outputs is None:
                    outputs = (outputs,)
                for edge, ((nxt, slot), out) in enumerate(
                        zip(node.next_functions, outputs, strict=False)):
                    if nxt is None:
                        continue
                    stop = self.is_stop(nxt, slot)
                    if stop is not None:
                        if out is not None:
                            shaped = _sum_to(out, _input_shape(nxt, slot))
                            prev = result.arrived.get(stop)
                            result.arrived[stop] = Arrival(
                                shaped if prev is None else prev.grad + shaped,
                                out if prev is None else prev.broadcast + out, node, edge)
                        continue
                    if id(nxt) not in region:
                        continue  # a leaf nobody grades
                    if out is not None:
                        shaped = _sum_to(out, _input_shape(nxt, slot))
                        slots = entered.setdefault(id(nxt), [None] * len(nxt._input_metadata))
                        slots[slot] = shaped if slots[slot] is None else slots[slot] + shaped
                        result.branches.setdefault((id(nxt), slot), []).append((node, shaped))
                    indegree[id(nxt)] -= 1
                    if indegree[id(nxt)] == 0:
                        ready.append(nxt)
        return result

    def push(self, node: Node, edge: int, grad: torch.Tensor, target: str) \
            -> torch.Tensor | None:
        """Return what a gradient at input ``edge`` of ``node`` delivers to ``target``.

        A hypothesis about one node's local derivative is a change at one of its inputs;
        this carries it on down (through ungraded nodes only) to the graded tensor. None
        when it does not reach ``target``.
        """
        nxt, slot = node.next_functions[edge]
        if nxt is None:
            return None
        shaped = _sum_to(grad, _input_shape(nxt, slot))
        stop = self.is_stop(nxt, slot)
        if stop is not None or type(nxt).__name__ == "AccumulateGrad":
            return shaped if stop == target else None
        arrival = self.flow(nxt, shaped, slot).arrived.get(target)
        return arrival.grad if arrival is not None else None

    def _region(self, start: Node) -> tuple[set[int], dict[int, int]]:
        """Return the nodes below ``start`` up to the stops, and each one's in-degree."""
        region = {id(start)}
        indegree: dict[int, int] = {}
        stack = [start]
        while stack:
            node = stack.pop()
            for nxt, slot in node.next_functions:
                if nxt is None or self.is_stop(nxt, slot) is not None \
                        or type(nxt).__name__ == "AccumulateGrad":
                    continue
                indegree[id(nxt)] = indegree.get(id(nxt), 0) + 1
                if id(nxt) not in region:
                    region.add(id(nxt))
                    stack.append(nxt)
        return region, indegree


def _zeros(meta: Any) -> torch.Tensor:
    """Return the zero gradient of one node output nothing reached (its shape and dtype)."""
    return torch.zeros(tuple(meta.shape), dtype=meta.dtype, device=meta.device)

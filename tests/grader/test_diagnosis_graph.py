"""NamedGraph and its one-edge flows, on the real makemore4 forward and on tiny hand-built graphs.

The claims checked here: consumers are read off the autograd graph (no exercise lists them);
fed with autograd's own upstream gradients, the expected-local gradient of every graded tensor
*is* autograd's gradient (so a correct submission can never look like a root cause); fed with
other upstream gradients it is the one-edge VJP, summed over branches and reduced to the
tensor's shape; and replaying nodes never touches any ``.grad``.
"""

from __future__ import annotations

import pytest
import torch

from exercises.makemore4 import common
from exercises.makemore4.ex1_full_backprop import GRADED as EX1_GRADED
from grader import get_exercise
from grader.diagnosis.case import CaseDiagnosis
from grader.diagnosis.graph import NamedGraph, _sum_to
from grader.exercise import Case

EX1 = get_exercise("makemore4/ex1")

#: The lecture's consumers, by hand from the forward pass (common.forward).
EX1_CONSUMERS = {
    "logprobs": {"loss"}, "probs": {"logprobs"}, "counts_sum_inv": {"probs"},
    "counts_sum": {"counts_sum_inv"}, "counts": {"probs", "counts_sum"},
    "norm_logits": {"counts"}, "logit_maxes": {"norm_logits"},
    "logits": {"norm_logits", "logit_maxes"}, "h": {"logits"}, "W2": {"logits"},
    "b2": {"logits"}, "hpreact": {"h"}, "bngain": {"hpreact"}, "bnbias": {"hpreact"},
    "bnraw": {"hpreact"}, "bnvar_inv": {"bnraw"}, "bnvar": {"bnvar_inv"},
    "bndiff2": {"bnvar"}, "bndiff": {"bnraw", "bndiff2"}, "bnmeani": {"bndiff"},
    "hprebn": {"bndiff", "bnmeani"}, "embcat": {"hprebn"}, "W1": {"hprebn"},
    "b1": {"hprebn"}, "emb": {"embcat"}, "C": {"emb"},
}

SMALL = Case("hidden-x", 0, n=7, hidden=True, params={"n_hidden": 40})


def small_case(seed: int) -> Case:
    return Case(f"hidden-{seed}", seed, n=7, hidden=True, params={"n_hidden": 40})


def assert_matches(got: torch.Tensor, want: torch.Tensor, name: str,
                   rtol: float = 1e-5, atol: float = 1e-9) -> None:
    assert tuple(got.shape) == tuple(want.shape), (name, got.shape, want.shape)
    diff = float((got - want).abs().max())
    scale = float(want.abs().max())
    assert diff <= atol + rtol * scale, f"{name}: diff {diff:.3g} at scale {scale:.3g}"


def reference_of(case: Case, names) -> dict[str, torch.Tensor]:
    """Autograd's gradients from a separate forward of the same case (same seed: same values)."""
    fwd = common.forward_case(case)
    grads = torch.autograd.grad(fwd["loss"], [fwd[n] for n in names])
    return {n: g.detach() for n, g in zip(names, grads, strict=True)}


def tolerances(names) -> dict[str, tuple[float, float]]:
    return {n: (1e-4, 1e-6) for n in names}


# -- makemore4: consumers ------------------------------------------------------------------

def test_consumers_of_the_lecture_network_are_read_off_the_graph() -> None:
    fwd = common.forward_case(SMALL)
    graph = NamedGraph(fwd, EX1_GRADED)
    got = {name: set(graph.consumers(name)) for name in EX1_GRADED}
    assert got == EX1_CONSUMERS
    # Each consumer is listed once (counts feeds probs once, even though probs has 2 inputs).
    assert all(len(graph.consumers(n)) == len(EX1_CONSUMERS[n]) for n in EX1_GRADED)


def test_consumers_depend_on_what_is_graded() -> None:
    """With only the parameters graded (ex4), every path runs straight from the loss."""
    fwd = common.forward_case(SMALL)
    graph = NamedGraph(fwd, common.PARAMETERS)
    assert {p: graph.consumers(p) for p in common.PARAMETERS} == \
        {p: ["loss"] for p in common.PARAMETERS}
    # Grading hprebn too cuts W1, b1 and C off from the loss: they now hang below hprebn.
    graph = NamedGraph(fwd, [*common.PARAMETERS, "hprebn"])
    assert graph.consumers("W1") == ["hprebn"]
    assert graph.consumers("b1") == ["hprebn"]
    assert graph.consumers("C") == ["hprebn"]
    assert graph.consumers("hprebn") == ["loss"]
    assert graph.consumers("bngain") == ["loss"]


def test_node_names() -> None:
    fwd = common.forward_case(SMALL)
    graph = NamedGraph(fwd, EX1_GRADED)
    assert graph.node_of("counts") is fwd["counts"].grad_fn
    assert graph.name_of(fwd["bndiff"].grad_fn) == "bndiff"
    w1 = graph.node_of("W1")
    assert type(w1).__name__ == "AccumulateGrad" and w1.variable is fwd["W1"]
    assert graph.name_of(w1) == "W1"
    assert graph.is_stop(fwd["h"].grad_fn) == "h"
    assert graph.is_stop(fwd["loss"].grad_fn) == "loss"
    # An unnamed node in the middle of a formula is no stop.
    unnamed = fwd["loss"].grad_fn.next_functions[0][0]
    assert graph.name_of(unnamed) is None and graph.is_stop(unnamed) is None


# -- makemore4: expected-local equals autograd given autograd's upstream ------------------

@pytest.mark.parametrize("seed", [1, 2, 3, 12345])
def test_expected_local_with_reference_upstream_is_the_reference(seed: int) -> None:
    case = small_case(seed)
    fwd = common.forward_case(case)
    ref = reference_of(case, EX1_GRADED)
    assert fwd["n"] == 7 and fwd["W1"].shape == (30, 40)
    diag = CaseDiagnosis(tolerances(EX1_GRADED), fwd, ref, dict(ref), {}, case.n)
    for name in EX1_GRADED:
        assert_matches(diag.expected_local(name), ref[name], name)


@pytest.mark.parametrize("graded", [tuple(common.PARAMETERS), ("hprebn",),
                                    ("logits", "hpreact", "C")],
                         ids=["ex4-parameters", "ex3-hprebn", "sparse"])
def test_expected_local_through_long_ungraded_stretches(graded) -> None:
    """Few stops: one flow replays most of the network (branches, broadcasts, max, index)."""
    case = small_case(7)
    fwd = common.forward_case(case)
    ref = reference_of(case, graded)
    diag = CaseDiagnosis(tolerances(graded), fwd, ref, dict(ref), {}, case.n)
    for name in graded:
        assert_matches(diag.expected_local(name), ref[name], name)


def test_expected_local_uses_the_students_upstream() -> None:
    """dcounts given a doubled dprobs: the probs edge doubles, the counts_sum edge does not."""
    fwd = common.forward_case(SMALL)
    ref = reference_of(SMALL, EX1_GRADED)
    student = dict(ref, probs=2 * ref["probs"])
    diag = CaseDiagnosis(tolerances(EX1_GRADED), fwd, ref, student, {}, SMALL.n)
    counts_sum_inv = fwd["counts_sum_inv"].detach()
    want = counts_sum_inv * (2 * ref["probs"]) + ref["counts_sum"].expand_as(fwd["counts"])
    got = diag.expected_local("counts")
    assert_matches(got, want, "counts")
    assert float((got - ref["counts"]).abs().max()) > 1e-3  # and so not the reference
    # A tensor not below probs is untouched by the change.
    assert_matches(diag.expected_local("bnvar"), ref["bnvar"], "bnvar")


def test_missing_student_upstream_falls_back_to_the_reference() -> None:
    fwd = common.forward_case(SMALL)
    ref = reference_of(SMALL, EX1_GRADED)
    student = {k: v for k, v in ref.items() if k not in ("bndiff", "bnmeani")}
    diag = CaseDiagnosis(tolerances(EX1_GRADED), fwd, ref, student, {}, SMALL.n)
    assert_matches(diag.expected_local("hprebn"), ref["hprebn"], "hprebn")


# -- flows do not touch .grad --------------------------------------------------------------

def test_flows_leave_every_grad_alone() -> None:
    fwd = common.forward_case(SMALL)
    ref = reference_of(SMALL, EX1_GRADED)
    sentinel = torch.full_like(fwd["W2"], 7.0)
    fwd["W2"].grad = sentinel.clone()
    student = {k: torch.randn_like(v) for k, v in ref.items()}
    diag = CaseDiagnosis(tolerances(EX1_GRADED), fwd, ref, student, {}, SMALL.n)
    for name in EX1_GRADED:
        got = diag.expected_local(name)
        assert not got.requires_grad and got.grad_fn is None, name
    for name in common.PARAMETERS:
        if name != "W2":
            assert fwd[name].grad is None, name
    assert torch.equal(fwd["W2"].grad, sentinel)
    for name in common.FORWARD_NAMES:
        if name != "loss":
            assert fwd[name].grad is None, name  # retain_grad'ed intermediates stay empty
    # The graph is still whole: autograd can run on it afterwards, with the same answer.
    again = torch.autograd.grad(fwd["loss"], [fwd["W1"], fwd["counts"]])
    assert_matches(again[0], ref["W1"], "W1")
    assert_matches(again[1], ref["counts"], "counts")


def test_flow_is_repeatable() -> None:
    fwd = common.forward_case(SMALL)
    graph = NamedGraph(fwd, EX1_GRADED)
    grad = torch.randn_like(fwd["hpreact"])
    first = graph.flow(graph.node_of("hpreact"), grad).arrived
    second = graph.flow(graph.node_of("hpreact"), grad).arrived
    assert set(first) == {"bngain", "bnbias", "bnraw"}
    for name in first:
        assert torch.equal(first[name].grad, second[name].grad), name


def test_flow_from_a_leaf_is_empty_and_fills_no_grad() -> None:
    fwd = common.forward_case(SMALL)
    graph = NamedGraph(fwd, EX1_GRADED)
    flow = graph.flow(graph.node_of("C"), torch.ones_like(fwd["C"]))
    assert flow.arrived == {} and flow.order == []
    assert fwd["C"].grad is None


# -- tiny hand-built graphs ----------------------------------------------------------------

N, K = 4, 3


def tiny(extra_consumer: bool = False) -> dict:
    """``a = 2x; y = a*b + a; z = y + c`` with b of shape (1, K) and c of shape (K,)."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(N, K, generator=g).requires_grad_()
    b = torch.randn(1, K, generator=g).requires_grad_()
    c = torch.randn(K, generator=g).requires_grad_()
    w = torch.randn(N, K, generator=g)
    a = x * 2
    y = a * b + a
    z = y + c
    loss = (z * w).sum()
    fwd = {"x": x, "b": b, "c": c, "a": a, "y": y, "z": z}
    if extra_consumer:
        q = a.sum(1, keepdim=True)  # (N, 1): a's second named consumer
        loss = loss + (q**2).sum()
        fwd["q"] = q
    fwd["loss"] = loss
    return fwd


def test_tiny_consumers() -> None:
    fwd = tiny(extra_consumer=True)
    graph = NamedGraph(fwd, ["z", "y", "q", "a", "b", "c", "x"])
    assert {n: set(graph.consumers(n)) for n in graph.graded} == {
        "z": {"loss"}, "y": {"z"}, "q": {"loss"}, "a": {"y", "q"}, "b": {"y"},
        "c": {"z"}, "x": {"a"}}


def test_tiny_two_branches_into_one_consumer_are_summed() -> None:
    """a reaches y twice (a*b and + a): the arrival is dy*b + dy."""
    fwd = tiny()
    graph = NamedGraph(fwd, ["z", "y", "a", "b", "c", "x"])
    dy = torch.randn(N, K)
    arrived = graph.flow(graph.node_of("y"), dy).arrived
    assert set(arrived) == {"a", "b"}
    b, a = fwd["b"].detach(), fwd["a"].detach()
    assert_matches(arrived["a"].grad, dy * b + dy, "a")
    # b is (1, K): the (N, K) product is summed over the batch, and the wide one is kept.
    assert_matches(arrived["b"].grad, (dy * a).sum(0, keepdim=True), "b")
    assert tuple(arrived["b"].broadcast.shape) == (N, K)
    assert_matches(arrived["b"].broadcast, dy * a, "b broadcast")
    assert type(arrived["b"].via).__name__ == "MulBackward0"


def test_tiny_sum_to_a_leading_broadcast_dimension() -> None:
    fwd = tiny()
    graph = NamedGraph(fwd, ["z", "y", "a", "b", "c", "x"])
    dz = torch.randn(N, K)
    arrived = graph.flow(graph.node_of("z"), dz).arrived
    assert set(arrived) == {"y", "c"}
    assert_matches(arrived["c"].grad, dz.sum(0), "c")
    assert tuple(arrived["c"].grad.shape) == (K,)
    assert tuple(arrived["c"].broadcast.shape) == (N, K)
    assert type(arrived["c"].via).__name__ == "AddBackward0"
    assert_matches(arrived["y"].grad, dz, "y")


def test_tiny_ungraded_intermediate_is_replayed() -> None:
    """With a not graded, x receives both of a's branches, times the 2 of a = 2x."""
    fwd = tiny()
    graph = NamedGraph(fwd, ["z", "y", "b", "c", "x"])
    assert graph.consumers("x") == ["y"]
    dy = torch.randn(N, K)
    flow = graph.flow(graph.node_of("y"), dy)
    b = fwd["b"].detach()
    assert_matches(flow.arrived["x"].grad, 2 * (dy * b + dy), "x")
    # The intermediate a was visited, and two contributions entered it.
    a_node = fwd["a"].grad_fn
    assert any(node is a_node for node in flow.order)
    assert len(flow.branches_of(a_node)) == 2
    assert_matches(flow.entered[id(a_node)][0], dy * b + dy, "entered a")


def test_tiny_expected_local_sums_over_consumers() -> None:
    """a has two named consumers: y (two branches) and q (a row sum)."""
    fwd = tiny(extra_consumer=True)
    names = ["z", "y", "q", "a", "b", "c", "x"]
    ref_grads = torch.autograd.grad(fwd["loss"], [fwd[n] for n in names], retain_graph=True)
    ref = dict(zip(names, (g.detach() for g in ref_grads), strict=True))
    # With autograd's upstream: autograd's gradients, for every named tensor.
    diag = CaseDiagnosis(tolerances(names), fwd, ref, dict(ref), {}, N)
    for name in names:
        assert_matches(diag.expected_local(name), ref[name], name)
    # With arbitrary upstream: the sum of the two one-edge VJPs.
    g = torch.Generator().manual_seed(1)
    student = {n: torch.randn(ref[n].shape, generator=g) for n in names}
    diag = CaseDiagnosis(tolerances(names), fwd, ref, student, {}, N)
    b = fwd["b"].detach()
    want = student["y"] * b + student["y"] + student["q"].expand(N, K)
    assert_matches(diag.expected_local("a"), want, "a")
    assert_matches(diag.expected_local("x"), 2 * student["a"], "x")
    assert_matches(diag.expected_local("c"), student["z"].sum(0), "c")


@pytest.mark.parametrize(("wide", "shape", "want"), [
    ((4, 3), (1, 3), lambda g: g.sum(0, keepdim=True)),
    ((4, 3), (3,), lambda g: g.sum(0)),
    ((4, 3), (4, 1), lambda g: g.sum(1, keepdim=True)),
    ((4, 3), (1, 1), lambda g: g.sum().reshape(1, 1)),
    ((2, 4, 3), (4, 1), lambda g: g.sum(0).sum(1, keepdim=True)),
    ((4, 3), (4, 3), lambda g: g),
])
def test_sum_to(wide, shape, want) -> None:
    grad = torch.randn(wide)
    got = _sum_to(grad, shape)
    assert tuple(got.shape) == shape
    assert_matches(got, want(grad), f"{wide}->{shape}")


# -- other packs' graphs: multi-output ops, float64, masks, convolutions -------------------

def _leaf(g: torch.Generator, *shape: int, dtype: torch.dtype) -> torch.Tensor:
    return torch.randn(shape, generator=g, dtype=dtype).requires_grad_()


def multihead(dtype: torch.dtype) -> dict:
    """Causal multi-head attention with q, k, v out of one split (a multi-output node)."""
    g = torch.Generator().manual_seed(0)
    B, T, C, nh = 2, 5, 8, 2
    hs = C // nh
    x, Wqkv = _leaf(g, B, T, C, dtype=dtype), _leaf(g, C, 3 * C, dtype=dtype)
    qkv = x @ Wqkv
    q, k, v = qkv.split(C, dim=2)
    qh, kh, vh = (u.view(B, T, nh, hs).transpose(1, 2) for u in (q, k, v))
    att = qh @ kh.transpose(-2, -1) * hs**-0.5
    masked = att.masked_fill(~torch.tril(torch.ones(T, T, dtype=torch.bool)), float("-inf"))
    p = torch.softmax(masked, dim=-1)
    y = (p @ vh).transpose(1, 2).contiguous().view(B, T, C)
    loss = (y * torch.randn(y.shape, generator=g, dtype=dtype)).sum()
    fwd = {"x": x, "Wqkv": Wqkv, "qkv": qkv, "q": q, "k": k, "v": v, "qh": qh, "kh": kh,
           "vh": vh, "att": att, "masked": masked, "p": p, "y": y, "loss": loss}
    for name in ("qkv", "q", "k", "v", "qh", "kh", "vh", "att", "masked", "p", "y"):
        fwd[name].retain_grad()
    return fwd


def conv_pool(dtype: torch.dtype) -> dict:
    g = torch.Generator().manual_seed(1)
    x, w, b = _leaf(g, 3, 2, 11, dtype=dtype), _leaf(g, 4, 2, 3, dtype=dtype), \
        _leaf(g, 4, dtype=dtype)
    h = torch.nn.functional.conv1d(x, w, b, stride=2, padding=1)
    r = torch.relu(h)
    p = torch.nn.functional.max_pool1d(r, 2)
    loss = (p * torch.randn(p.shape, generator=g, dtype=dtype)).sum()
    fwd = {"x": x, "w": w, "b": b, "h": h, "r": r, "p": p, "loss": loss}
    for name in ("h", "r", "p"):
        fwd[name].retain_grad()
    return fwd


GRAPHS = {
    "multihead-all": (multihead, ["y", "p", "masked", "att", "qh", "kh", "vh", "q", "k", "v",
                                  "qkv", "x", "Wqkv"]),
    "multihead-split-only": (multihead, ["y", "q", "k", "v", "x", "Wqkv"]),
    "multihead-one-of-three": (multihead, ["q", "x", "Wqkv"]),
    "conv-pool": (conv_pool, ["p", "r", "h", "x", "w", "b"]),
    "conv-pool-parameters": (conv_pool, ["x", "w", "b"]),
}


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("graph", list(GRAPHS))
def test_expected_local_is_autograd_on_other_graphs(graph: str, dtype: torch.dtype) -> None:
    """Split outputs (one node, three named tensors), views and transposes, a -inf mask, a
    convolution and a max-pool: fed autograd's upstream, every expected-local gradient is
    autograd's, in the graph's own dtype."""
    build, names = GRAPHS[graph]
    fwd = build(dtype)
    grads = torch.autograd.grad(fwd["loss"], [fwd[n] for n in names], retain_graph=True)
    ref = {n: gr.detach() for n, gr in zip(names, grads, strict=True)}
    diag = CaseDiagnosis(tolerances(names), fwd, ref, dict(ref), {}, {"n": 2})
    rtol = 1e-5 if dtype == torch.float32 else 1e-12
    for name in names:
        got = diag.expected_local(name)
        assert got.dtype == dtype, name
        assert_matches(got, ref[name], name, rtol=rtol, atol=1e-12)


def test_split_outputs_are_separate_stops() -> None:
    fwd = multihead(torch.float64)
    graph = NamedGraph(fwd, ["y", "q", "k", "v", "x"])
    assert fwd["q"].grad_fn is fwd["k"].grad_fn  # one node, three named outputs
    assert [graph.slot_of(n) for n in ("q", "k", "v")] == [0, 1, 2]
    assert {n: graph.is_stop(fwd["q"].grad_fn, graph.slot_of(n)) for n in "qkv"} == \
        {"q": "q", "k": "k", "v": "v"}
    assert graph.consumers("x") == ["q", "k", "v"]
    # k's gradient alone, pushed down: x receives k's path only.
    dk = torch.randn(fwd["k"].shape, dtype=torch.float64)
    arrived = graph.flow_from("k", dk).arrived["x"].grad
    assert_matches(arrived, dk @ fwd["Wqkv"].detach()[:, 8:16].T, "x", rtol=1e-12)

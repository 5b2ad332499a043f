"""The mutation operators on tiny sources: what each plants, and what none may touch."""

from __future__ import annotations

import ast
import textwrap

from grader.mutate import OPERATORS, mutants, pragmas


def _bodies(source: str, op: str | None = None, **kw) -> list[str]:
    """Return the mutants' ``backward`` bodies (unparsed, one string per mutant)."""
    out = []
    for m in mutants(textwrap.dedent(source), **kw):
        if op is None or m.op == op:
            fn = next(s for s in ast.parse(m.source).body if isinstance(s, ast.FunctionDef)
                      and s.name == "backward")
            out.append("; ".join(ast.unparse(s) for s in fn.body[:-1] or fn.body))
    return out


def test_sign() -> None:
    src = """
    def backward(t):
        d = t.a - t.b
        return {"a": d}
    """
    assert _bodies(src, "sign") == ["d = -(t.a - t.b)", "d = t.a + t.b"]
    assert _bodies("def backward(t):\n    d = -t.a\n    return {'a': d}\n", "sign") == \
        ["d = t.a"]


def test_drop_term_and_assign() -> None:
    src = """
    def backward(t):
        d = t.a + t.b
        d += t.c
        return {"a": d}
    """
    assert _bodies(src, "drop_term") == ["d = t.a; d += t.c", "d = t.b; d += t.c",
                                         "d = t.a + t.b; pass"]
    assert _bodies(src, "assign") == ["d = t.a + t.b; d = t.c"]
    assert _bodies("def backward(t):\n    d = t.a - t.b\n    return d\n", "drop_term") == \
        ["d = t.a", "d = -t.b"]


def test_transpose() -> None:
    src = """
    def backward(t):
        dW = t.x.T @ t.dout
        dx = t.dout @ t.W.t()
        dy = t.y.transpose(0, 1)
        return {"W": dW, "x": dx, "y": dy}
    """
    assert _bodies(src, "transpose") == [
        "dW = t.x @ t.dout.T; dx = t.dout @ t.W.t(); dy = t.y.transpose(0, 1)",
        "dW = t.x @ t.dout; dx = t.dout @ t.W.t(); dy = t.y.transpose(0, 1)",
        "dW = t.x.T @ t.dout; dx = t.dout.t() @ t.W; dy = t.y.transpose(0, 1)",
        "dW = t.x.T @ t.dout; dx = t.dout @ t.W; dy = t.y.transpose(0, 1)",
        "dW = t.x.T @ t.dout; dx = t.dout @ t.W.t(); dy = t.y",
    ]


def test_keepdim_and_sum_dim() -> None:
    src = """
    def backward(t):
        d = t.a.sum(1, keepdim=True)
        return {"a": d}
    """
    assert _bodies(src, "keepdim") == ["d = t.a.sum(1)"]
    # t.a is 2-d: sum(-1) is sum(1), so only dim 0 is another dim.
    assert _bodies(src, "sum_dim", sizes={"a": (4, 5)}) == ["d = t.a.sum(0, keepdim=True)"]
    # 3-d: 0 and -1 are other dims than 1.
    assert _bodies(src, "sum_dim", sizes={"a": (4, 5, 6)}) == [
        "d = t.a.sum(0, keepdim=True)", "d = t.a.sum(-1, keepdim=True)"]
    fn = """
    import torch.nn.functional as F
    def backward(t):
        p = F.softmax(t.x, dim=-1)
        m = t.y.mean((0, 1))
        return {"x": p, "y": m}
    """
    assert _bodies(fn, "sum_dim", sizes={"x": (3, 4), "y": (2, 3, 4)}) == [
        "p = F.softmax(t.x, dim=0); m = t.y.mean((0, 1))",
        "p = F.softmax(t.x, dim=-1); m = t.y.mean((1,))",
        "p = F.softmax(t.x, dim=-1); m = t.y.mean((0,))",
    ]


def test_one_over_n() -> None:
    src = """
    def backward(t):
        a = 1.0 / t.n * t.x
        b = t.x * t.s**-1
        c = t.x / t.s
        c /= t.n
        return {"a": a, "b": b, "c": c}
    """
    assert _bodies(src, "one_over_n") == [
        "a = t.x; b = t.x * t.s ** (-1); c = t.x / t.s; c /= t.n",
        "a = 1.0 / t.n * t.x; b = t.x; c = t.x / t.s; c /= t.n",
        "a = 1.0 / t.n * t.x; b = t.x * t.s ** (-1); c = t.x; c /= t.n",
        "a = 1.0 / t.n * t.x; b = t.x * t.s ** (-1); c = t.x / t.s; pass",
    ]


def test_hardcoded_size_uses_the_public_sizes() -> None:
    src = """
    def backward(t):
        n = t.n
        x = t.x
        a = x.shape[1] + t.x.size(0) + len(t.x)
        B, C = t.x.shape
        return {"a": (n, a, B, C)}
    """
    got = _bodies(src, "hardcoded_size", sizes={"n": 32, "x": (32, 27)})
    assert got == [
        "n = 32; x = t.x; a = x.shape[1] + t.x.size(0) + len(t.x); B, C = t.x.shape",
        "n = t.n; x = t.x; a = 27 + t.x.size(0) + len(t.x); B, C = t.x.shape",
        "n = t.n; x = t.x; a = x.shape[1] + 32 + len(t.x); B, C = t.x.shape",
        "n = t.n; x = t.x; a = x.shape[1] + t.x.size(0) + 32; B, C = t.x.shape",
        "n = t.n; x = t.x; a = x.shape[1] + t.x.size(0) + len(t.x); B, C = (32, 27)",
    ]
    assert _bodies(src, "hardcoded_size") == []  # no sizes, no such mutants
    # numel() is a size too (mse's 1/numel): the public count, n·d.
    got = _bodies("def backward(t):\n    return {'d': 2 * t.d / t.d.numel()}\n",
                  "hardcoded_size", sizes={"d": (16, 12)})
    assert got == ["return {'d': 2 * t.d / 192}"]


def test_no_equivalent_mutants_of_dead_code_dims_or_inputs_named_T() -> None:
    src = """
    def backward(t):
        n, T = t.n, t.T
        unused = -t.a
        d = t.a.sum(-1) * T
        return {"a": d}
    """
    found = _bodies(src, sizes={"n": 4, "T": 3, "a": (4, 3)})
    assert all("unused = -t.a" in body for body in found)  # never mutated: nothing reads it
    assert all(body.startswith("n, T = (t.n, ") for body in found)  # n is never read
    assert found == [
        "n, T = (t.n, 3); unused = -t.a; d = t.a.sum(-1) * T",  # T is read
        "n, T = (t.n, t.T); unused = -t.a; d = -(t.a.sum(-1) * T)",
        "n, T = (t.n, t.T); unused = -t.a; d = t.a.sum(0) * T",
    ]  # no `t.T → t` (an input, not a transpose), no `sum(-1) → sum(1)` (the same axis)


def test_pragma_flags_the_line_with_its_reason() -> None:
    src = "def backward(t):\n    d = -t.a  # validate: equivalent — d is ~0 anyway\n" \
          "    e = -t.b\n    return {'a': d, 'b': e}\n"
    assert pragmas(src) == {2: "d is ~0 anyway"}
    assert pragmas('"""Mark a line `# validate: equivalent`."""\n') == {}  # not a comment
    flagged = {(m.line, m.equivalent) for m in mutants(src)}
    assert (2, "d is ~0 anyway") in flagged and (3, None) in flagged


def test_only_backward_and_its_helpers_are_mutated_and_duplicates_go() -> None:
    src = """
    SCALE = 1 - 2

    def helper(x):
        return x - 1

    def unused(x):
        return x - 1

    def backward(t):
        def inner(y):
            return -y
        return {"a": helper(t.a) + inner(t.b)}
    """
    found = mutants(textwrap.dedent(src))
    lines = {m.line for m in found}
    assert lines == {5, 12, 13}  # helper's body, inner's body, backward's return
    texts = [m.source for m in found]
    assert len(texts) == len(set(texts))
    assert textwrap.dedent(src) not in texts
    for m in found:
        ast.parse(m.source)
        assert m.op in OPERATORS
        assert m.description.startswith(f"line {m.line}: ")


def test_broken_or_missing_backward_gives_no_mutants() -> None:
    assert mutants("def backward(t):\n    return {'a': (\n") == []
    assert mutants("def forward(t):\n    return -t.a\n") == []

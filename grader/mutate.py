"""Mutants of a reference solution: the one-line slips a student makes, planted by machine.

``backprop validate`` grades every mutant of an exercise's reference solution through the
sandbox; a mutant that still earns full marks (a *survivor*) names a slip the exercise's
cases cannot see — a size every case shares, an upstream gradient of all ones, a dimension
of length 1. The operators imitate the mistakes of the lecture (and of the test corpus):

========================  ===============================================================
``sign``                  negate an assigned right-hand side; ``a - b`` ↔ ``a + b``; drop a
                          unary minus
``drop_term``             ``a + b`` → ``a`` / ``b``, ``a - b`` → ``a`` / ``-b``; delete an
                          accumulation ``x += e`` (or ``x -= e``)
``transpose``             remove ``.T`` / ``.mT`` / ``.t()`` / ``.transpose(i, j)``; in
                          ``a.T @ b`` move the transpose to the other side (``a @ b.T``)
``keepdim``               remove ``keepdim=True``
``sum_dim``               another dim for sum/mean/max/softmax/cumsum/… (0, 1, -1; a tuple
                          loses one of its dims)
``one_over_n``            drop a division (``x / e`` → ``x``, delete ``x /= e``), drop a
                          ``1/e`` or ``e**-1`` factor of a product
``assign``                ``x += e`` → ``x = e``
``hardcoded_size``        a size read from ``t`` (``t.n``, ``t.X.shape[i]``, ``t.X.size(i)``,
                          ``t.X.numel()``, ``len(t.X)``, ``t.X.shape``) → the public case's
                          literal value
========================  ===============================================================

Only code inside ``def backward(t)`` (its nested helpers, and module-level functions it
calls) is mutated, and none of what is sure to be an equivalent mutant is made: nothing in
an assignment to a name no line reads (``n = t.n`` with ``n`` unused), no sign flip of a
dim or an index (``sum(-1)`` → ``sum(1)`` is one axis of a 2-d tensor: ``sum_dim`` changes
dims, from a guess of the tensor's rank), no "transpose" of ``t.T`` (an input named ``T``),
no negated zero buffer. The mutants of a line that ends with ``# validate: equivalent — why``
come back flagged :attr:`Mutant.equivalent` with the reason: :mod:`grader.validate` counts
such a mutant as equivalent when it survives (and as killed when it does not). Pure standard
library (``ast``): nothing here runs the code it reads.
"""

from __future__ import annotations

import ast
import copy
import io
import re
import tokenize
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

#: The operator codes, stable (reports and JSON use them), in report order.
OPERATORS = ("sign", "drop_term", "transpose", "keepdim", "sum_dim", "one_over_n", "assign",
             "hardcoded_size")

#: ``# validate: equivalent — why`` (an em dash, ``--``, ``-`` or ``:`` before the reason).
PRAGMA = re.compile(r"#\s*validate:\s*equivalent\b\s*(?:(?:—|–|--|-|:)\s*)?(?P<why>.*?)\s*$")

#: Functions and methods whose dim argument ``sum_dim`` changes.
REDUCERS = frozenset({
    "sum", "mean", "max", "min", "amax", "amin", "softmax", "log_softmax", "cumsum",
    "cumprod", "prod", "std", "var", "logsumexp", "argmax", "argmin", "median", "nansum",
    "nanmean", "all", "any", "norm", "count_nonzero", "std_mean", "var_mean",
})
#: Reducers whose first positional argument is not the dim (``x.norm(p, dim)``).
_NO_POSITIONAL_DIM = frozenset({"norm"})
#: Names that mark ``ns.f(x, dim)`` as a function call (dim second), not a method.
_NAMESPACES = frozenset({"torch", "F", "functional", "nn", "fn"})
#: Right-hand sides whose negation changes nothing (a zero tensor about to be filled).
_ZERO_MAKERS = frozenset({"zeros", "zeros_like", "new_zeros", "empty", "empty_like",
                          "new_empty"})
#: Calls that keep their argument's (or receiver's) number of dims.
_SAME_NDIM = frozenset({
    "exp", "log", "tanh", "sigmoid", "relu", "abs", "sqrt", "rsqrt", "clone", "detach",
    "float", "double", "contiguous", "neg", "pow", "clamp", "clip", "to", "type_as",
    "zeros_like", "ones_like", "empty_like", "full_like", "randn_like", "rand_like",
    "softmax", "log_softmax", "masked_fill", "transpose", "t", "swapaxes", "swapdims",
    "sign", "square", "reciprocal", "gelu", "silu", "cumsum", "cumprod", "mul", "add", "sub",
    "div", "where", "maximum", "minimum", "exp_", "mul_", "add_",
})
_TRANSPOSE_CALLS = frozenset({"transpose", "swapaxes", "swapdims"})


class MutateError(ValueError):
    """The solution cannot be mutated (said in words fit for ``backprop validate``)."""


@dataclass(frozen=True)
class Mutant:
    """One mutant of a solution: which operator, where, what changed, the whole new file.

    ``equivalent`` holds the author's reason when the line carries the pragma (the mutant
    cannot change a graded value beyond float noise, the author says): validation still
    grades it, and reports it as equivalent if it survives.
    """

    op: str
    line: int
    description: str
    source: str
    equivalent: str | None = None


def pragmas(source: str) -> dict[int, str]:
    """Return ``{line: reason}`` for every line ending with a ``# validate: equivalent``
    comment (a comment token: the words inside a docstring do not count)."""
    found = {}
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError):
        return {}
    for token in tokens:
        if token.type == tokenize.COMMENT:
            match = PRAGMA.match(token.string)
            if match:
                found[token.start[0]] = match.group("why") or "(no reason given)"
    return found


def mutants(source: str, *, sizes: Mapping[str, int | tuple[int, ...]] | None = None) \
        -> list[Mutant]:
    """Return the mutants of ``source``'s backward pass, deduplicated, in source order.

    :param sizes: the public case's student inputs by name — an int (``n``) or a tensor's
        shape — for ``hardcoded_size``; without it that operator makes none.
    :return: ``[]`` for a file that does not parse or has no ``def backward``.
    :raise MutateError: for a file that parses but that ``ast`` cannot write back.
    """
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    region = _region(tree)
    if region is None:
        return []
    roots, param = region
    try:
        original = ast.unparse(tree)
    except RecursionError:
        raise MutateError("the solution is nested too deeply to mutate (Python's ast cannot "
                          "write it back): split its longest expression over a few "
                          "lines") from None
    slots = _slots(tree)
    inside = {id(n) for root in roots for stmt in root.body for n in ast.walk(stmt)}
    planner = _Planner(roots, param, dict(sizes or {}))
    seen = {original}
    lines = pragmas(source)
    found: list[tuple[int, int, Mutant]] = []
    for node in ast.walk(tree):
        if id(node) not in inside:
            continue
        parent, name, i = slots[id(node)]
        for op, build, before in planner.plans(node):
            # Only the node is copied; its mutation is put in its place for as long as it
            # takes to write the file out, then the original goes back (a copy of the whole
            # tree per mutant made this quadratic: ~12 s for a 200-term sum).
            try:
                replacement = build(copy.deepcopy(node))
                if not hasattr(replacement, "lineno"):  # unparse reads a statement's line
                    ast.copy_location(replacement, node)
                ast.fix_missing_locations(replacement)
                _put(parent, name, i, replacement)
                text = ast.unparse(tree)
                compile(text, "<mutant>", "exec")
            except (SyntaxError, ValueError, RecursionError, MemoryError):
                continue
            finally:
                _put(parent, name, i, node)
            if text in seen:
                continue
            seen.add(text)
            line = getattr(node, "lineno", 0)
            after = "(deleted)" if isinstance(replacement, ast.Pass) else _snippet(replacement)
            description = f"line {line}: {_snippet_text(before)} → {after}"
            found.append((line, getattr(node, "col_offset", 0), Mutant(
                op, line, description, text + "\n", lines.get(line))))
    found.sort(key=lambda item: (item[0], item[1], OPERATORS.index(item[2].op)))
    return [m for _, _, m in found]


# -- where to mutate ----------------------------------------------------------------------


def _region(tree: ast.Module) -> tuple[list[ast.FunctionDef], str] | None:
    """Return ``backward`` plus the module-level functions it calls (transitively), and the
    name of its parameter (``t``)."""
    functions = {s.name: s for s in tree.body if isinstance(s, ast.FunctionDef)}
    backward = functions.get("backward")
    if backward is None:
        return None
    args = backward.args.posonlyargs + backward.args.args
    param = args[0].arg if args else "t"
    chosen, todo = [backward], [backward]
    while todo:
        fn = todo.pop()
        for node in ast.walk(fn):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                helper = functions.get(node.func.id)
                if helper is not None and helper not in chosen:
                    chosen.append(helper)
                    todo.append(helper)
    return chosen, param


def _slots(tree: ast.AST) -> dict[int, tuple[ast.AST, str, int | None]]:
    """Return where each node sits: ``id(node) → (parent, field, index in a list or None)``."""
    out: dict[int, tuple[ast.AST, str, int | None]] = {}
    for parent in ast.walk(tree):
        for name, value in ast.iter_fields(parent):
            if isinstance(value, ast.AST):
                out[id(value)] = (parent, name, None)
            elif isinstance(value, list):
                for i, item in enumerate(value):
                    if isinstance(item, ast.AST):
                        out[id(item)] = (parent, name, i)
    return out


def _put(parent: ast.AST, name: str, i: int | None, node: ast.AST) -> None:
    """Put ``node`` in ``parent``'s field ``name`` (at ``i`` of a list field)."""
    if i is None:
        setattr(parent, name, node)
    else:
        getattr(parent, name)[i] = node


# -- what to mutate -----------------------------------------------------------------------

#: A planned mutation: operator code, a builder applied to the copied node, and the
#: original node (for the description).
Plan = tuple[str, Callable[[ast.AST], ast.AST], ast.AST]


class _Planner:
    """Decide, node by node, which mutations apply (it reads the original tree only)."""

    def __init__(self, roots: list[ast.FunctionDef], param: str,
                 sizes: dict[str, int | tuple[int, ...]]) -> None:
        self.param = param
        self.sizes = sizes
        self.parents: dict[int, ast.AST] = {}
        for root in roots:
            for parent in ast.walk(root):
                for child in ast.iter_child_nodes(parent):
                    self.parents[id(child)] = parent
        self.aliases = _aliases(roots, param)
        self.ndims = _Ndims(roots, param, sizes, self.aliases)
        self.dead = _dead(roots)

    def plans(self, node: ast.AST) -> Iterator[Plan]:
        if id(node) in self.dead:
            return
        if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
            yield from self._statement(node)
        elif isinstance(node, ast.BinOp):
            yield from self._binop(node)
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and \
                not self._index_literal(node):
            yield "sign", lambda n: n.operand, node
        if isinstance(node, ast.Attribute | ast.Call | ast.Subscript):
            yield from self._transpose(node)
            yield from self._hardcoded(node)
        if isinstance(node, ast.Call):
            yield from self._call(node)

    def _index_literal(self, node: ast.UnaryOp) -> bool:
        """Whether ``node`` is a negative int literal outside arithmetic: a dim or an index
        (``sum(-1)``, ``transpose(-2, -1)``, ``x[-1]``), where ``-1 → 1`` is often the same
        axis (``sum_dim`` changes dims, knowing the rank)."""
        if not (isinstance(node.operand, ast.Constant) and type(node.operand.value) is int):
            return False
        return not isinstance(self.parents.get(id(node)), ast.BinOp | ast.UnaryOp)

    def _statement(self, node: ast.Assign | ast.AugAssign | ast.AnnAssign) -> Iterator[Plan]:
        value = node.value
        unpacking = isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Tuple | ast.List) for t in node.targets)
        if value is not None and not unpacking and _negatable(value):
            yield "sign", lambda n: _with_value(n, _negate(n.value)), node
        if isinstance(node, ast.AugAssign):
            if isinstance(node.op, ast.Add | ast.Sub):
                yield "drop_term", lambda n: ast.Pass(), node
            if isinstance(node.op, ast.Add):
                yield "assign", lambda n: ast.Assign(targets=[n.target], value=n.value), node
            if isinstance(node.op, ast.Div):
                yield "one_over_n", lambda n: ast.Pass(), node

    def _binop(self, node: ast.BinOp) -> Iterator[Plan]:
        if isinstance(node.op, ast.Add | ast.Sub):
            swapped = ast.Sub() if isinstance(node.op, ast.Add) else ast.Add()
            yield "sign", lambda n: ast.BinOp(n.left, swapped, n.right), node
            yield "drop_term", lambda n: n.left, node
            if isinstance(node.op, ast.Add):
                yield "drop_term", lambda n: n.right, node
            else:
                yield "drop_term", lambda n: _negate(n.right), node
        elif isinstance(node.op, ast.Div):
            parent = self.parents.get(id(node))
            in_product = isinstance(parent, ast.BinOp) and isinstance(parent.op, ast.Mult)
            if not (_is_one(node.left) and in_product):  # the factor rule below covers it
                yield "one_over_n", lambda n: n.left, node
        elif isinstance(node.op, ast.Mult):
            if _is_reciprocal(node.left):
                yield "one_over_n", lambda n: n.right, node
            if _is_reciprocal(node.right):
                yield "one_over_n", lambda n: n.left, node
        elif isinstance(node.op, ast.MatMult):
            left, right = _transposed(node.left, self.param), \
                _transposed(node.right, self.param)
            if (left is None) != (right is None):
                yield "transpose", lambda n: _move_transpose(n, self.param), node

    def _transpose(self, node: ast.AST) -> Iterator[Plan]:
        if _transposed(node, self.param) is not None:
            yield "transpose", lambda n: _transposed(n, self.param), node

    def _call(self, node: ast.Call) -> Iterator[Plan]:
        for i, kw in enumerate(node.keywords):
            if kw.arg == "keepdim" and isinstance(kw.value, ast.Constant) and \
                    kw.value.value is True:
                yield "keepdim", lambda n, i=i: _without_keyword(n, i), node
        name = _call_name(node)
        if name not in REDUCERS:
            return
        function_form = _is_namespace(node.func)
        for i, kw in enumerate(node.keywords):
            if kw.arg == "dim":
                for dim in self._other_dims(kw.value, node, function_form):
                    yield "sum_dim", lambda n, i=i, d=dim: _with_keyword(n, i, d), node
        position = 1 if function_form else 0
        if name in _NO_POSITIONAL_DIM or len(node.args) <= position:
            return
        for dim in self._other_dims(node.args[position], node, function_form):
            yield "sum_dim", lambda n, p=position, d=dim: _with_arg(n, p, d), node

    def _other_dims(self, value: ast.AST, call: ast.Call, function_form: bool) -> list[ast.AST]:
        """Return the other plausible dims for a literal dim (none for a computed one)."""
        subject = call.args[0] if function_form and call.args else \
            call.func.value if isinstance(call.func, ast.Attribute) else None
        ndim = self.ndims.of(subject) if subject is not None else None
        current = _literal_dims(value)
        if current is None:
            return []
        if isinstance(current, int):
            return [ast.Constant(d) if d >= 0 else _negate(ast.Constant(-d))
                    for d in _dim_choices(current, ndim)]
        out: list[ast.AST] = []
        if len(current) >= 2:  # (0, 1) → (0,) / (1,)
            for drop in range(len(current)):
                kept = current[:drop] + current[drop + 1:]
                out.append(ast.Tuple([_int_node(d) for d in kept], ast.Load()))
        return out

    def _hardcoded(self, node: ast.AST) -> Iterator[Plan]:
        value = self._size_of(node)
        if value is None:
            return
        literal = ast.Tuple([ast.Constant(v) for v in value], ast.Load()) \
            if isinstance(value, tuple) else ast.Constant(value)
        yield "hardcoded_size", lambda n: literal, node

    def _size_of(self, node: ast.AST) -> int | tuple[int, ...] | None:
        """Return the public case's value of a size read from ``t``, or None."""
        if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load):
            if isinstance(node.value, ast.Name) and node.value.id == self.param:
                value = self.sizes.get(node.attr)
                return value if type(value) is int else None
            if node.attr == "shape":
                parent = self.parents.get(id(node))
                if isinstance(parent, ast.Subscript) and parent.value is node:
                    return None  # t.X.shape[i]: the subscript is the size
                return self._shape(node.value)
            return None
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Attribute) and \
                node.value.attr == "shape":
            shape = self._shape(node.value.value)
            i = _literal_dims(node.slice)
            if shape is not None and isinstance(i, int) and -len(shape) <= i < len(shape):
                return shape[i]
            return None
        if isinstance(node, ast.Call):
            if isinstance(node.func, ast.Attribute) and node.func.attr == "size" and \
                    not node.keywords:
                shape = self._shape(node.func.value)
                if shape is None:
                    return None
                if not node.args:
                    return shape
                i = _literal_dims(node.args[0]) if len(node.args) == 1 else None
                if isinstance(i, int) and -len(shape) <= i < len(shape):
                    return shape[i]
            elif isinstance(node.func, ast.Attribute) and node.func.attr == "numel" and \
                    not node.args and not node.keywords:
                shape = self._shape(node.func.value)
                if shape is None:
                    return None
                count = 1
                for d in shape:
                    count *= d
                return count
            elif isinstance(node.func, ast.Name) and node.func.id == "len" and \
                    len(node.args) == 1 and not node.keywords:
                shape = self._shape(node.args[0])
                return shape[0] if shape else None
        return None

    def _shape(self, node: ast.AST) -> tuple[int, ...] | None:
        """Return the public shape of ``t.X`` (or a local alias of it), else None."""
        name = None
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and \
                node.value.id == self.param:
            name = node.attr
        elif isinstance(node, ast.Name):
            name = self.aliases.get(node.id)
        value = self.sizes.get(name) if name else None
        return value if isinstance(value, tuple) else None


def _dead(roots: list[ast.FunctionDef]) -> set[int]:
    """Return the ids of nodes whose value is never read: the right-hand side of an
    assignment to names no line reads (``n = t.n`` when ``n`` is unused), element by
    element for ``a, b = x, y``. Their mutants would all be equivalent."""
    loaded = {n.id for root in roots for n in ast.walk(root)
              if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Store)}
    dead: set[int] = set()

    def unused(target: ast.AST) -> bool:
        return isinstance(target, ast.Name) and target.id not in loaded

    for root in roots:
        for node in ast.walk(root):
            if not isinstance(node, ast.Assign) or len(node.targets) != 1:
                continue
            target, value = node.targets[0], node.value
            if unused(target):
                dead.update(id(n) for n in ast.walk(node))
            elif isinstance(target, ast.Tuple) and isinstance(value, ast.Tuple) and \
                    len(target.elts) == len(value.elts):
                for name, part in zip(target.elts, value.elts, strict=True):
                    if unused(name):
                        dead.update(id(n) for n in ast.walk(part))
    return dead


def _aliases(roots: list[ast.FunctionDef], param: str) -> dict[str, str]:
    """Return local names bound once, to ``t.X`` (``logits = t.logits``): name → X."""
    bound: dict[str, list[ast.AST]] = {}
    for root in roots:
        for node in ast.walk(root):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                bound.setdefault(node.id, []).append(node)
            elif isinstance(node, ast.Assign) and len(node.targets) == 1 and \
                    isinstance(node.targets[0], ast.Name):
                bound.setdefault(node.targets[0].id, []).append(node.value)
    out = {}
    for name, values in bound.items():
        rhs = [v for v in values if not isinstance(v, ast.Name)]
        if len(values) == 2 and len(rhs) == 1 and isinstance(rhs[0], ast.Attribute) and \
                isinstance(rhs[0].value, ast.Name) and rhs[0].value.id == param:
            out[name] = rhs[0].attr
    return out


class _Ndims:
    """A small static guess of each local tensor's number of dims, so ``sum_dim`` does not
    offer ``sum(-1)`` for ``sum(1)`` on a 2-d tensor (the same reduction: an equivalent
    mutant, not a weak test). None wherever it cannot tell."""

    def __init__(self, roots: list[ast.FunctionDef], param: str,
                 sizes: Mapping[str, int | tuple[int, ...]], aliases: Mapping[str, str]) \
            -> None:
        self.param, self.sizes = param, sizes
        self.env: dict[str, int | None] = {}
        for name, attr in aliases.items():
            self.env[name] = self._t(attr)
        for root in roots:
            for node in ast.walk(root):  # statements in a reasonable order (first binding)
                if isinstance(node, ast.Assign) and len(node.targets) == 1 and \
                        isinstance(node.targets[0], ast.Name):
                    name = node.targets[0].id
                    guess = self.of(node.value)
                    if name in self.env and self.env[name] != guess:
                        self.env[name] = None  # rebound to another rank: do not guess
                    else:
                        self.env[name] = guess

    def _t(self, attr: str) -> int | None:
        value = self.sizes.get(attr)
        if isinstance(value, tuple):
            return len(value)
        return 0 if type(value) is int else None

    def of(self, node: ast.AST | None) -> int | None:
        if node is None:
            return None
        if isinstance(node, ast.Constant):
            return 0 if isinstance(node.value, int | float) else None
        if isinstance(node, ast.Name):
            return self.env.get(node.id)
        if isinstance(node, ast.Attribute):
            if isinstance(node.value, ast.Name) and node.value.id == self.param:
                return self._t(node.attr)
            if node.attr in ("T", "mT", "values", "indices"):
                return self.of(node.value)
            return None
        if isinstance(node, ast.UnaryOp):
            return self.of(node.operand)
        if isinstance(node, ast.BinOp):
            left, right = self.of(node.left), self.of(node.right)
            if left is None or right is None:
                return None
            if isinstance(node.op, ast.MatMult):
                return 2 if left == right == 2 else None
            return max(left, right)
        if isinstance(node, ast.Call):
            return self._call(node)
        return None

    def _call(self, node: ast.Call) -> int | None:
        name = _call_name(node)
        function_form = _is_namespace(node.func)
        if function_form:
            subject = node.args[0] if node.args else None
            rest = node.args[1:]
        else:
            subject = node.func.value if isinstance(node.func, ast.Attribute) else None
            rest = node.args
        base = self.of(subject)
        if name in ("max", "min", "sum", "mean") and not rest and not node.keywords:
            return 0  # a reduction over everything
        if name in _SAME_NDIM:
            return base
        if name in ("view", "reshape", "expand"):
            if len(rest) == 1 and isinstance(rest[0], ast.Tuple | ast.List):
                return len(rest[0].elts)
            if len(rest) == 1:
                return self._shape_rank(rest[0])
            return len(rest) or None
        if name in REDUCERS:
            keep = any(k.arg == "keepdim" and isinstance(k.value, ast.Constant) and
                       k.value.value is True for k in node.keywords)
            if name in ("softmax", "log_softmax", "cumsum", "cumprod"):
                return base
            dims = [k.value for k in node.keywords if k.arg == "dim"] or rest[:1]
            if base is None:
                return None
            if keep:
                return base
            if not dims:
                return 0
            dim = _literal_dims(dims[0])
            if isinstance(dim, int):
                return base - 1
            if isinstance(dim, tuple):
                return base - len(dim)
        if name == "one_hot":
            return None if base is None else base + 1
        return None

    def _shape_rank(self, node: ast.AST) -> int | None:
        if isinstance(node, ast.Attribute) and node.attr == "shape":
            return self.of(node.value)
        return None


# -- small AST helpers --------------------------------------------------------------------


def _negate(node: ast.AST) -> ast.AST:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return node.operand
    return ast.UnaryOp(ast.USub(), node)


def _negatable(value: ast.AST) -> bool:
    """Whether ``-value`` is a plausible slip (not a zero buffer, a container or text)."""
    if isinstance(value, ast.Dict | ast.List | ast.Tuple | ast.Set | ast.Compare | ast.BoolOp |
                  ast.JoinedStr | ast.Lambda | ast.ListComp | ast.DictComp | ast.SetComp |
                  ast.GeneratorExp):
        return False
    if isinstance(value, ast.Constant):
        return isinstance(value.value, int | float) and not isinstance(value.value, bool) \
            and value.value != 0
    if isinstance(value, ast.Call):
        name = _call_name(value)
        if name in _ZERO_MAKERS or name in ("range", "len", "list", "dict", "tuple", "int"):
            return False
    return True


def _with_value(stmt: ast.AST, value: ast.AST) -> ast.AST:
    stmt.value = value
    return stmt


def _is_one(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and not isinstance(node.value, bool) and \
        isinstance(node.value, int | float) and node.value == 1


def _is_reciprocal(node: ast.AST) -> bool:
    """``1/e`` or ``e**-1``."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
        return _is_one(node.left)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
        return _literal_dims(node.right) == -1
    return False


def _call_name(node: ast.Call) -> str | None:
    if isinstance(node.func, ast.Attribute):
        return node.func.attr
    if isinstance(node.func, ast.Name):
        return node.func.id
    return None


def _is_namespace(func: ast.AST) -> bool:
    """Whether ``func`` is ``torch.f`` / ``F.f`` / ``torch.nn.functional.f`` (dim second)."""
    if not isinstance(func, ast.Attribute):
        return isinstance(func, ast.Name)  # a bare imported function: f(x, dim)
    value = func.value
    while isinstance(value, ast.Attribute):
        if value.attr in _NAMESPACES:
            return True
        value = value.value
    return isinstance(value, ast.Name) and value.id in _NAMESPACES


def _transposed(node: ast.AST, param: str = "t") -> ast.AST | None:
    """Return what ``node`` transposes (``a`` of ``a.T``, ``a.t()``, ``a.transpose(0, 1)``,
    ``torch.transpose(a, 0, 1)``), or None when it is no transpose.

    ``t.T`` itself is no transpose: it reads the input named ``T`` (a sequence length).
    """
    if isinstance(node, ast.Attribute) and node.attr in ("T", "mT") and \
            isinstance(node.ctx, ast.Load):
        if isinstance(node.value, ast.Name) and node.value.id == param:
            return None
        return node.value
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        name = node.func.attr
        if _is_namespace(node.func):
            if name in _TRANSPOSE_CALLS | {"t"} and node.args:
                return node.args[0]
        elif (name == "t" and not node.args and not node.keywords) or \
                (name in _TRANSPOSE_CALLS and len(node.args) == 2):
            return node.func.value
    return None


def _move_transpose(node: ast.BinOp, param: str) -> ast.BinOp:
    """``a.T @ b`` → ``a @ b.T`` (and the mirror), keeping the transpose's own spelling."""
    def wrap(wrapper: ast.AST, inner: ast.AST) -> ast.AST:
        wrapper = copy.deepcopy(wrapper)
        if isinstance(wrapper, ast.Attribute):
            wrapper.value = inner
        elif _is_namespace(wrapper.func):
            wrapper.args[0] = inner
        else:
            wrapper.func.value = inner
        return wrapper

    left = _transposed(node.left, param)
    if left is not None:
        return ast.BinOp(left, ast.MatMult(), wrap(node.left, node.right))
    return ast.BinOp(wrap(node.right, node.left), ast.MatMult(),
                     _transposed(node.right, param))


def _without_keyword(call: ast.Call, i: int) -> ast.Call:
    del call.keywords[i]
    return call


def _with_keyword(call: ast.Call, i: int, value: ast.AST) -> ast.Call:
    call.keywords[i].value = copy.deepcopy(value)
    return call


def _with_arg(call: ast.Call, i: int, value: ast.AST) -> ast.Call:
    call.args[i] = copy.deepcopy(value)
    return call


def _literal_dims(node: ast.AST) -> int | tuple[int, ...] | None:
    """Return a literal int (``1``, ``-1``) or tuple of ints, else None."""
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and \
            isinstance(node.operand, ast.Constant) and type(node.operand.value) is int:
        return -node.operand.value
    if isinstance(node, ast.Tuple | ast.List):
        items = [_literal_dims(e) for e in node.elts]
        if items and all(isinstance(i, int) for i in items):
            return tuple(items)
    return None


def _int_node(d: int) -> ast.AST:
    return ast.Constant(d) if d >= 0 else ast.UnaryOp(ast.USub(), ast.Constant(-d))


def _dim_choices(current: int, ndim: int | None) -> list[int]:
    """Return the other dims to try for a reduction over ``current``.

    With a known rank: 0, 1 and -1, each kept only if it names another axis than
    ``current`` and than the ones kept before it. With an unknown rank the tensor is taken
    to be 2-d (the common case), so ``1`` and ``-1`` count as the same axis.
    """
    rank = ndim if ndim is not None and ndim > 0 else 2
    if ndim is None:
        rank = max(rank, current + 1, -current)
        if current >= 2 or current <= -3:
            rank = max(rank, 3)  # at least 3-d: do not fold -1 onto 1
    if ndim is not None and ndim <= 1:
        return []
    taken = {current % rank}
    out = []
    for d in (0, 1, -1):
        axis = d % rank
        if axis not in taken and d < rank:
            taken.add(axis)
            out.append(d)
    return out


def _snippet(node: ast.AST, limit: int = 60) -> str:
    try:
        text = ast.unparse(node)
    except Exception:  # an incomplete node: describe it by kind
        text = type(node).__name__
    return _clip(text.splitlines()[0] if text else text, limit)


def _snippet_text(node: ast.AST) -> str:
    return _snippet(node)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"

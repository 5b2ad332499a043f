"""Turn a function object from a notebook (or a module) into one self-contained submission.

The sandbox runs a *module* that defines ``backward``; a notebook only has live objects spread
over cells. We rebuild the smallest module that behaves the same: walk the global names the
function really loads (``LOAD_GLOBAL``/``LOAD_NAME`` in its bytecode and in every nested code
object: comprehensions, inner functions, lambdas — never ``co_names``, which also holds
attribute names, so ``t.h`` is not mistaken for a notebook's tensor ``h``), and emit for each

- a module → an ``import x`` / ``import x.y as z`` line;
- an object importable by name from a module (``one_hot``, ``sqrt``) → ``from m import n as a``;
- a function or class written in the notebook (or the function's own module) → its source,
  walked recursively in turn;
- a plain constant (numbers, strings, bytes, None, bools and containers of them) → a literal;

and refuse anything else (a tensor, an array, an open file) by name, with the reason: the
grader gives the student's function its own ``t``, and sending live data would hide a
dependence on the notebook's state that the hidden cases then break.
"""

from __future__ import annotations

import ast
import builtins
import dis
import inspect
import math
import os
import re
import site
import sys
import textwrap
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

#: The name the grader calls (the submitted module must define it).
ENTRY = "backward"
#: A constant bigger than this is surely data, not a setting: refuse it.
MAX_CONSTANT_CHARS = 16 * 1024
_LOADS = frozenset({"LOAD_GLOBAL", "LOAD_NAME", "STORE_GLOBAL", "DELETE_GLOBAL"})
_SIMPLE = (type(None), bool, int, float, complex, str, bytes)


class SourceError(Exception):
    """The function cannot be sent as it is; the message says which name and why."""


@dataclass
class Bundle:
    """The module to send, and what went into it (for the report's "code sent" section)."""

    code: str
    imports: list[str] = field(default_factory=list)
    constants: list[str] = field(default_factory=list)
    helpers: list[str] = field(default_factory=list)


def build(func: Callable[..., Any]) -> Bundle:
    """Return the self-contained module for ``func``, renamed to ``backward`` if needed.

    :raises SourceError: ``func`` is not a plain Python function, its source is not
        available, or it uses a name that cannot be sent (the message names it).
    """
    func = inspect.unwrap(func) if isinstance(func, types.FunctionType) else func
    if not isinstance(func, types.FunctionType):
        raise SourceError(f"check() needs the function itself (a `def backward(t): …`), "
                          f"not a {type(func).__name__}")
    if func.__name__ == "<lambda>":
        raise SourceError("check() needs a function written with `def`, not a lambda")
    walker = _Walker(func)
    main = walker.function_source(func, rename=ENTRY)
    walker.walk(func, func.__name__)
    parts = ["# Sent by backprop_grader: your function and what it uses.",
             "from __future__ import annotations", ""]
    if walker.imports:  # `import x` lines first, then `from x import y`, each sorted
        parts += [*sorted(walker.imports, key=lambda i: (i.startswith("from"), i)), ""]
    if walker.constants:
        parts += [*walker.constants, ""]
    for helper in walker.helpers.values():
        parts += ["", helper, ""]
    parts += ["", main]
    if func.__name__ != ENTRY and func.__name__ in walker.self_refs:
        parts += ["", f"{func.__name__} = {ENTRY}  # your function's own name, for recursion"]
    code = "\n".join(parts).rstrip() + "\n"
    return Bundle(code=code, imports=list(walker.imports), constants=list(walker.constants),
                  helpers=list(walker.helpers))


class _Walker:
    """Collects the imports, constants and helpers reachable from the submitted function."""

    def __init__(self, root: types.FunctionType) -> None:
        self.root = root
        self.imports: list[str] = []
        self.constants: list[str] = []
        #: Helper name → its source, in the order they were found.
        self.helpers: dict[str, str] = {}
        #: Names already resolved (sent or known to be builtins).
        self.seen: set[str] = {ENTRY}
        #: Places the root function's own name is used (recursion through its old name).
        self.self_refs: set[str] = set()

    # -- what a function needs -------------------------------------------------------------

    def walk(self, func: types.FunctionType, shown_as: str) -> None:
        """Resolve every global and free name ``func`` loads, recursively."""
        scope = dict(func.__globals__)
        if func.__closure__:
            scope.update({name: _cell(cell) for name, cell in
                          zip(func.__code__.co_freevars, func.__closure__, strict=True)})
        needed = list(dict.fromkeys([*_global_loads(func.__code__),
                                     *func.__code__.co_freevars, *_def_time_names(func)]))
        for name in needed:
            self.resolve(name, scope, shown_as)

    def resolve(self, name: str, scope: dict[str, Any], used_by: str) -> None:
        """Emit what it takes to define ``name`` in the submitted module."""
        if name == self.root.__name__ and scope.get(name) is self.root:
            self.self_refs.add(name)
            return
        if name in self.seen:
            return
        self.seen.add(name)
        if name not in scope:
            return  # a builtin, or a NameError the grader will report at its line
        value = scope[name]
        if value is getattr(builtins, name, _MISSING):
            return
        if isinstance(value, types.ModuleType):
            self.imports.append(_import_line(name, value))
        elif (line := _from_import(name, value, self.root)) is not None:
            self.imports.append(line)
        elif isinstance(value, types.FunctionType):
            if name == ENTRY:
                raise SourceError(f"your helper function is called `{ENTRY}`, the name the "
                                  "grader calls: rename the helper")
            self.helpers[name] = self.function_source(value, rename=name)
            self.walk(value, name)
        elif isinstance(value, type) and _defined_here(value, self.root):
            self.helpers[name] = self.class_source(value, name)
        elif (literal := _bounded_literal(value)) is not None:
            if len(literal) > MAX_CONSTANT_CHARS:
                raise SourceError(f"cannot send `{name}` (used by `{used_by}`): a constant of "
                                  f"more than {MAX_CONSTANT_CHARS:,} characters is data, not "
                                  "a setting; compute it inside your function from `t`")
            self.constants.append(f"{name} = {literal}")
        else:
            raise SourceError(_refusal(name, value, used_by))

    # -- sources ---------------------------------------------------------------------------

    def function_source(self, func: types.FunctionType, *, rename: str) -> str:
        """Return ``func``'s source (decorators included), its ``def`` named ``rename``."""
        text = _source_of(func, func.__name__)
        tree = _parse(text, func.__name__)
        node = tree.body[0] if tree.body else None
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Lambda):
            if func.__name__ != "<lambda>" or rename == ENTRY:
                raise SourceError(f"cannot send `{rename}`: write it with `def`")
            return text
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            raise SourceError(f"cannot read the source of `{func.__name__}`: define it at "
                              "the top level of a cell (or module) with `def`")
        if node.name == rename:
            return text
        # Rename on the `def` line only, so comments and line layout stay the student's own.
        lines = text.splitlines()
        row = node.lineno - 1
        lines[row] = re.sub(rf"^(\s*(?:async\s+)?def\s+){re.escape(node.name)}\b",
                            rf"\g<1>{rename}", lines[row], count=1)
        return "\n".join(lines)

    def class_source(self, cls: type, name: str) -> str:
        """Return the source of a class written in the notebook or module."""
        text = _source_of(cls, name)
        tree = _parse(text, name)
        if not (tree.body and isinstance(tree.body[0], ast.ClassDef)):
            raise SourceError(f"cannot read the source of class `{name}`")
        for sub in tree.body[0].body:
            for node in ast.walk(sub):
                if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
                    scope = sys.modules[cls.__module__].__dict__ \
                        if cls.__module__ in sys.modules else {}
                    self.resolve(node.id, dict(scope), name)
        return text


_MISSING = object()


def _cell(cell: types.CellType) -> Any:
    try:
        return cell.cell_contents
    except ValueError:  # an empty cell: the enclosing function had not bound it yet
        return _MISSING


def _global_loads(code: types.CodeType) -> Iterator[str]:
    """Yield the global names ``code`` (and every code object nested in it) loads."""
    for ins in dis.get_instructions(code):
        if ins.opname in _LOADS:
            yield ins.argval
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _global_loads(const)


def _def_time_names(func: types.FunctionType) -> list[str]:
    """Names evaluated when the ``def`` runs: decorators and default values.

    They live in the enclosing scope, not in the function's bytecode, so the walk would miss
    them (annotations need nothing: the module starts with ``from __future__ import
    annotations``).
    """
    try:
        tree = _parse(_source_of(func, func.__name__), func.__name__)
    except SourceError:
        return []
    node = tree.body[0] if tree.body else None
    if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        return []
    roots = [*node.decorator_list, *node.args.defaults,
             *[d for d in node.args.kw_defaults if d is not None]]
    return [n.id for r in roots for n in ast.walk(r)
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)]


def _source_of(obj: Any, name: str) -> str:
    """Return the dedented source of ``obj`` (notebook cells are found through linecache)."""
    try:
        return textwrap.dedent(inspect.getsource(obj)).rstrip()
    except (OSError, TypeError):
        raise SourceError(f"cannot read the source of `{name}`: define it in a notebook cell "
                          "or a .py file (not with exec or in the interactive prompt)") from None


def _parse(text: str, name: str) -> ast.Module:
    try:
        return ast.parse(text)
    except SyntaxError:
        raise SourceError(f"cannot read the source of `{name}`: define it at the top level "
                          "of a cell with `def`") from None


def _import_line(name: str, module: types.ModuleType) -> str:
    real = getattr(module, "__name__", None)
    if not isinstance(real, str) or real == "__main__" or not _importable(real):
        raise SourceError(f"cannot send `{name}`: the module it names cannot be imported "
                          "by name")
    if not _installed(real):
        raise SourceError(f"cannot send `{name}`: `{real}` is a module of your own, which "
                          "the grader cannot import; copy what you use from it into the "
                          "notebook")
    return f"import {real}" if real == name else f"import {real} as {name}"


def _importable(dotted: str) -> bool:
    return all(part.isidentifier() for part in dotted.split("."))


def _installed(dotted: str) -> bool:
    """Whether the grader can import ``dotted`` too: built in, or under this Python's prefix.

    A module next to the notebook (``utils.py``) is not: the sandbox runs elsewhere.
    """
    top = sys.modules.get(dotted.partition(".")[0])
    path = getattr(top, "__file__", None)
    if top is None or not path:
        return top is not None  # built in (sys, math) or a namespace package
    roots = {sys.prefix, sys.base_prefix, *site.getsitepackages(), site.getusersitepackages()}
    where = os.path.realpath(path)
    return any(where.startswith(os.path.realpath(r) + os.sep) for r in roots)


def _defined_here(obj: Any, root: types.FunctionType) -> bool:
    """Whether ``obj`` was written next to the function (notebook or same module)."""
    return getattr(obj, "__module__", None) in ("__main__", root.__module__)


def _from_import(name: str, value: Any, root: types.FunctionType) -> str | None:
    """Return ``from m import q as name`` when ``value`` is reachable that way, else None."""
    if isinstance(value, _SIMPLE) or _defined_here(value, root):
        return None
    module, qual = getattr(value, "__module__", None), getattr(value, "__qualname__", None)
    if not isinstance(module, str) or not isinstance(qual, str) or "." in qual \
            or module not in sys.modules or not _importable(module):
        return None
    if getattr(sys.modules[module], qual, _MISSING) is not value or not _installed(module):
        return None  # not importable by that name: its source is sent if it is a function
    return f"from {module} import {qual}" + ("" if qual == name else f" as {name}")


class _TooLong(Exception):
    """A literal grew past :data:`MAX_CONSTANT_CHARS`: building it stopped there."""


def _bounded_literal(value: Any) -> str | None:
    """:func:`_literal`, but a constant over the limit costs no more than the limit to find.

    Why: a notebook global can be ``list(range(10**7))``, a 1 GB string, or a list that holds
    itself ten times over (``x = [x] * 10`` in a loop: 10**20 items to print); building its
    whole literal only to refuse it hung ``check()``. Past the limit, a string of limit + 1
    characters stands for "too long".
    """
    budget = [MAX_CONSTANT_CHARS]
    try:
        return _literal(value, budget=budget)
    except _TooLong:
        return "#" * (MAX_CONSTANT_CHARS + 1)


def _spend(budget: list[int] | None, chars: int) -> None:
    if budget is not None:
        budget[0] -= chars
        if budget[0] < 0:
            raise _TooLong


def _literal(value: Any, depth: int = 0, budget: list[int] | None = None) -> str | None:
    """Return a Python literal that rebuilds ``value`` exactly, or None if there is none.

    ``budget`` (characters left, shared by the whole walk) stops the walk with
    :class:`_TooLong` before a huge value is turned into text.
    """
    if depth > 20:
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return f"float({str(value)!r})"
    if type(value) in (str, bytes) and budget is not None and len(value) > budget[0]:
        raise _TooLong  # checked before repr() copies it
    if type(value) in (list, tuple, set, frozenset, dict):
        _spend(budget, len(value))  # the ", " after each item: as long as the items' text
    if type(value) is int and value.bit_length() > 4 * MAX_CONSTANT_CHARS:
        raise _TooLong  # more hex digits than the limit allows
    if type(value) is int and value.bit_length() > 13_000:  # about 4000 decimal digits
        # str() of an int over 4300 digits raises ValueError since Python 3.11; hex is exact
        text = hex(value)
        _spend(budget, len(text))
        return text
    if type(value) in _SIMPLE:
        text = repr(value)
        _spend(budget, len(text))
        return text
    if type(value) in (list, tuple, set, frozenset):
        items = [_literal(v, depth + 1, budget) for v in value]
        if any(i is None for i in items):
            return None
        if type(value) is tuple:
            return f"({items[0]},)" if len(items) == 1 else "(" + ", ".join(items) + ")"
        if type(value) is list:
            return "[" + ", ".join(items) + "]"
        body = ", ".join(items)
        return (f"{{{body}}}" if items else "set()") if type(value) is set \
            else f"frozenset({{{body}}})"
    if type(value) is dict:
        pairs = [(_literal(k, depth + 1, budget), _literal(v, depth + 1, budget))
                 for k, v in value.items()]
        if any(k is None or v is None for k, v in pairs):
            return None
        return "{" + ", ".join(f"{k}: {v}" for k, v in pairs) + "}"
    return None


def _refusal(name: str, value: Any, used_by: str) -> str:
    kind = type(value)
    what = f"{kind.__module__}.{kind.__qualname__}" if kind.__module__ != "builtins" \
        else kind.__qualname__
    hint = ""
    if what.startswith("torch.") or what.startswith("numpy."):
        hint = (f"; inside backward use `t.{name}` (or compute it from `t`): the grader "
                "runs your function on its own cases")
    return (f"cannot send `{name}` (used by `{used_by}`): it is a {what} in your notebook, not "
            f"an import, a function or a plain constant{hint}")

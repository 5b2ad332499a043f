"""Autograd is off limits: close every road into the autograd engine inside the child.

API used by :mod:`grader.sandbox.child`: ``check = install()`` once, before any student code
runs; after the import and after every ``backward`` call, ``check(returned)`` lists (and
reports) what was detected; ``scan_source(source)`` gives hints (never a verdict on its own).
The kernel walls around the child (one thread, one process, Landlock) are in ``seccomp.py``
and ``landlock.py``; this module is the Python layer inside them.

How it works
------------
The child never needs autograd, so instead of watching every tensor operation (a
TorchFunctionMode costs a Python call per op, and can be popped or disabled) the guards make
autograd *impossible* and report any attempt the moment it happens:

1. **State.** Grad mode and forward-mode AD are switched off for good, anomaly mode on. Anomaly
   mode makes PyTorch's C++ call ``torch.fx.traceback.format_stack`` whenever an autograd graph
   node is created, whatever built it (Python, TorchScript, ``torch.ops``, another thread,
   ``autograd.Function``); that name answers with a *sensor* that reports a violation. The
   per-thread graph-node counter is checked again after every call; the child has one
   thread (seccomp), so it counts every node, whatever the sensor's ``sys.modules`` entry
   says.
2. **Dead ends.** Every entry point into the engine and every switch that could turn autograd
   back on is replaced by a guard that reports and raises and *keeps no reference to the
   original*: the grad-mode setter (``torch.enable_grad``/``set_grad_enabled(True)`` end
   there), ``inference_mode(False)``, the engine object ``Variable._execution_engine`` (behind
   ``Tensor.backward``, ``torch.autograd.grad/backward``, ``torch.func``), forward AD (dual
   levels, the forward-grad switch), the functorch transform layers, the anomaly-mode switch,
   and the operators that run autograd natively (``torch.ops.aten.grad``,
   ``aten::set_grad_enabled``…), and what *produces* a derivative: TorchScript graphs and their
   passes (``_jit_differentiate``), PyTorch's Python backward decompositions (rewritten in
   place), torch.distributed's natives. The originals are replaced in every module namespace and
   module-level container that referred to them, so nothing hands them back. Public spellings
   (``torch.autograd.grad``, ``torch.func.grad``, ``torch.autograd.functional.jacobian``,
   ``torch.autograd.forward_ad.make_dual``…) are dead ends too, so messages name what the
   submission wrote; the first function it called and its line are added.
3. **Intent flags.** ``requires_grad_()``, ``requires_grad = True``, ``requires_grad=True`` on
   a factory, ``nn.Parameter``, ``Variable(..., requires_grad=True)`` and the obvious spellings
   of PyTorch's own backward kernels (``torch._softmax_backward_data``…) are reported too.
4. **Immediate report.** A guard that trips writes the ``violation`` frame to the parent
   straight away and ends the child: catching the exception, clearing module state or
   patching the harness cannot undo it.
5. **Audit hooks** (they cannot be removed). The policy hook reports what could dig the
   originals up or rewrite memory: ``ctypes``, ``gc.get_objects/get_referrers/get_referents``,
   ``sys.settrace/setprofile``, rewriting ``__code__``/``__defaults__`` of grader or torch
   functions (judged by the code's file), swapping the sensor module's class, re-running the
   code of a loaded grader or torch module (``importlib.reload``), sub-interpreters, writing
   under ``/proc`` or to a ``mem`` file (judged by what the path resolves to), importing or
   reading sympy/mpmath. It refuses (no violation) what would run code outside the guards: new
   processes, and — as dead ends elsewhere — threads (they start with grad mode on), new
   compiled extension modules (re-creating a loaded one would restore its original
   functions), TorchScript and ``torch.compile``'s frame-evaluation hooks. A second hook, the
   *vault*, is the only holder of the real ``torch.ops`` resolvers and hands out every operator
   but the autograd ones; the resolvers sit in its code's constants, and reading that code is
   a violation.
6. **After each call** the check :func:`install` returned re-checks that every guard is still
   the installed object, that grad mode and forward AD are still off and anomaly mode on, that
   no graph node was created, that the process has one thread, and that no returned tensor
   carries a ``grad_fn`` or ``requires_grad``. It binds everything it uses as positional
   defaults (see :func:`_make_check`): nothing the submission can reach disarms it.

Cost: the plan (what to replace where) is computed when the zygote imports the harness, and
the replacements are applied there too (:func:`prepare`), so a child inherits them through
``fork()``; ``install()`` in the child only arms it. ``bench/guard_bench.py`` measures it.
"""

from __future__ import annotations

import gc
import linecache
import operator
import os
import re
import select
import stat
import struct
import sys
import types
from typing import Any

import torch

from grader.sandbox import seccomp

#: What the child calls its submission (see :data:`grader.sandbox.child.FILENAME`).
SUBMISSION = "submission.py"
#: The job socket's fd in the child (the zygote dup2()s it to 3).
JOB_FD = 3

_C = torch._C
_TensorBase = _C.TensorBase
#: The dispatch keys of autograd's kernels (every backend's): excluded on the child's thread,
#: so that no operator records a graph node, whatever grad mode says (see _apply).
_AUTOGRAD_KEYS = tuple(getattr(_C.DispatchKey, k) for k in (
    "AutogradFunctionality", "AutogradOther", "AutogradNestedTensor",
    # with autograd's, as inference mode does: views and version counters only serve
    # autograd, and excluding autograd's keys alone sends every operator down a slow path
    # (+60% on ex1's backward; with this one, 20% faster than plain no_grad)
    "ADInplaceOrView",
    # the Python dispatcher calls an operator at whatever key an OpOverload's (writable)
    # dispatch cache names, past the exclusion above: it is excluded too
    "PythonDispatcher", "PreDispatch")
    if hasattr(_C.DispatchKey, k))
_ModuleType = types.ModuleType
_FunctionType = types.FunctionType
_CodeType = types.CodeType

#: Every violation seen in this process, in order (survives the student catching errors).
_VIOLATIONS: list[str] = []
#: (owner, attribute, guard) for every installed guard, re-checked by :func:`problems`.
_INSTALLED: list[tuple[Any, str, Any]] = []
_STATE: dict[str, Any] = {"applied": False, "installed": False, "reported": False,
                         "source": "", "seq": 0}


# ---------------------------------------------------------------------------------------
# source hints


_HINTS = (
    (r"\.backward\s*\(", ".backward("),
    (r"autograd", "autograd"),
    (r"torch\s*\.\s*func\b|from\s+torch\s+import\s+func\b", "torch.func"),
    (r"functorch", "functorch"),
    (r"requires_grad", "requires_grad"),
    (r"enable_grad", "enable_grad"),
    (r"set_grad_enabled", "set_grad_enabled"),
    (r"inference_mode", "inference_mode"),
    (r"forward_ad|make_dual|dual_level", "forward_ad"),
    (r"\bParameter\b", "Parameter"),
    (r"_execution_engine|ImperativeEngine|run_backward", "_execution_engine"),
    (r"\bgrad_fn\b", "grad_fn"),
    (r"\w_backward\w*\s*\(", "*_backward kernel"),
    (r"torch\s*\.\s*ops\b", "torch.ops"),
    (r"torch\s*\.\s*jit\b", "torch.jit"),
    (r"__subclasses__", "__subclasses__"),
    (r"__closure__|cell_contents", "__closure__"),
    (r"__globals__|__code__|__defaults__", "__globals__/__code__"),
    (r"\bimportlib\b|__import__", "importlib"),
    (r"\bgetattr\s*\(", "getattr("),
    (r"\b(?:eval|exec|compile)\s*\(", "eval/exec"),
    (r"\bvars\s*\(|__dict__", "vars()/__dict__"),
    (r"\bctypes\b", "ctypes"),
    (r"\bgc\s*\.", "gc"),
    (r"sys\s*\.\s*(?:settrace|setprofile|modules|_getframe)", "sys internals"),
    (r"\bsympy\b|\bmpmath\b", "sympy/mpmath"),
    (r"torch\s*\.\s*distributed\b|\brpc\b", "torch.distributed"),
    (r"_jit_|\bGraph\s*\(", "TorchScript graph"),
)
_HINT_RES = tuple((re.compile(p), label) for p, label in _HINTS)


def scan_source(source: str, _res=_HINT_RES, _str=str, _type=type) -> list[str]:
    """Return hints from a source scan (names that suggest autograd); never a verdict alone.

    Comments are ignored, so ``# now do the backward pass`` is no hint.
    """
    if _type(source) is not _str or not source:
        return []
    code = "\n".join(line.split("#", 1)[0] for line in source[:300_000].splitlines())
    return [label for rx, label in _res if rx.search(code)]


# ---------------------------------------------------------------------------------------
# reporting


def _ascii_json_str(text: str, _ctrl: tuple[str, ...] = tuple(map(chr, range(32))),
                    _str=str) -> str:
    """Return ``text`` as a JSON string literal using only C-level ``str`` methods."""
    s = _str(text).encode("ascii", "replace").decode("ascii")
    s = s.replace("\\", "\\\\").replace('"', '\\"')
    for c in _ctrl:
        if c in s:
            s = s.replace(c, " ")
    return '"' + s + '"'


def _violation_frame(message: str, hints: list[str], _quote=_ascii_json_str,
                     _pack=struct.pack, _len=len) -> bytes:
    raw = ('{"type":"violation","message":' + _quote(message[:2000])
           + ',"hints":[' + ",".join(_quote(h[:200]) for h in hints[:10])
           + '],"tensors":[]}').encode("ascii")
    return _pack("!I", _len(raw)) + raw


def _channel(ident: tuple[int, int] | None, _fstat=os.fstat, _is_socket=stat.S_ISSOCK,
             _fd: int = JOB_FD, _range=range) -> int | None:
    """Return an fd of the result channel: fd 3, or — if the submission moved it (a dup
    elsewhere, ``/dev/null`` on 3) — whichever fd is still that socket, found by its
    device and inode. ``ident`` None (not armed yet): fd 3 if it is a socket."""
    if ident is None:
        try:
            return _fd if _is_socket(_fstat(_fd).st_mode) else None
        except OSError:
            return None
    for fd in (_fd, *_range(1024)):
        try:
            st = _fstat(fd)
        except OSError:
            continue
        if (st.st_dev, st.st_ino) == ident:
            return fd
    return None


def _deliver(message: str, ident: tuple[int, int] | None = None, _write=os.write,
             _exit=os._exit, _select=select.select, _streams=(sys.stdout, sys.stderr),
             _type=type, _frame=_violation_frame, _hints=scan_source, _state=_STATE,
             _memoryview=memoryview, _channel=_channel) -> None:
    """Send the violation to the parent at once and end the process.

    Everything it uses is bound at definition time, as positional defaults (an immutable
    tuple; rewriting ``__defaults__`` of a grader function is refused by the audit hook),
    so rebinding this module's globals changes nothing here. The result channel is found by
    its identity (``ident``, bound in the after-call check when the child is armed), not by
    its fd number: moving it and leaving ``/dev/null`` on fd 3 silences nothing. The streams
    flushed first are the process's own (bound when the zygote imported this module),
    flushed through their type so that nothing the submission replaced runs. Returns only
    if no fd of the channel is left, in which case the harness cannot answer either.
    """
    if ident is None:
        ident = _state.get("channel")
    fd = _channel(ident)
    if fd is None:
        return  # not a sandboxed child (or the channel is gone): nothing can be graded
    for stream in _streams:  # what the submission printed so far, before the child ends
        try:
            _type(stream).flush(stream)
        except BaseException:  # noqa: BLE001 — e.g. a closed stream
            pass
    try:
        hints = _hints(_state["source"])
    except Exception:  # noqa: BLE001
        hints = []
    try:
        frame = _frame(message, hints)
    except Exception:  # noqa: BLE001
        frame = _frame("autograd use", [])
    try:
        view = _memoryview(frame)
        while view:
            try:
                n = _write(fd, view)
            except BlockingIOError:
                _select([], [fd], [], 1.0)
                continue
            view = view[n:]
    except OSError:
        return
    _state["reported"] = True
    _exit(0)


def _where(_getframe=sys._getframe, _str=str, _type=type) -> tuple[int | None, str | None]:
    """Return the submission's line that led here and the first function it called."""
    try:
        frame = _getframe(2)
        callee = None
        while frame is not None:
            code = frame.f_code
            if code.co_filename == SUBMISSION:
                via = None
                if callee is not None:
                    mod = callee.f_globals.get("__name__")
                    cfile = callee.f_code.co_filename
                    if _type(mod) is _str and mod != __name__ and not cfile.startswith("<"):
                        qual = callee.f_code.co_qualname.split(".<locals>")[0]
                        via = f"{mod}.{qual}"
                return frame.f_lineno, via
            callee = frame
            frame = frame.f_back
    except Exception:  # noqa: BLE001 — best effort only
        pass
    return None, None


def _trip(what: str, _where=_where, _violations=_VIOLATIONS, _state=_STATE,
          _deliver=_deliver) -> None:
    """Record a violation, report it to the parent at once and end the child.

    When there is no job socket (tests, or the student closed fd 3) it returns and the
    caller raises; the after-call check reports the recorded violation.
    """
    line, via = _where()
    message = what
    if via and via.split(".")[-1] not in what:
        message += f", called through {via}"
    if line is not None:
        message += f" (line {line})"
    _violations.append(message)
    if _state["installed"] and not _state["reported"]:
        _deliver(message)


class AutogradForbidden(RuntimeError):
    """Raised by a guard (only seen when the violation could not be reported at once)."""


def _dead(label: str, name: str = "guard"):
    """Return a dead end: calling it reports ``label`` and raises."""
    trip = _trip

    def guard(*args: Any, **kwargs: Any) -> Any:
        trip(label)
        raise AutogradForbidden(f"autograd is off limits in this exercise: {label}")

    guard.__name__ = guard.__qualname__ = name
    return guard


def _refused(label: str, name: str = "refused", exc: type[Exception] = RuntimeError):
    """Return a dead end that refuses a feature the sandbox does not offer (no violation)."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise exc(f"{label} is not available in the grading sandbox")

    refuse.__name__ = refuse.__qualname__ = name
    return refuse


# ---------------------------------------------------------------------------------------
# guards that keep behaviour for the harmless direction


def _make_grad_mode_guard(is_enabled):
    trip = _trip

    def _set_grad_enabled(mode: Any) -> None:
        if mode is not False:
            trip("re-enabling grad mode (torch.enable_grad / torch.set_grad_enabled(True))")
            raise AutogradForbidden("autograd is off limits: grad mode stays disabled")
        if is_enabled():  # grad mode is off for good; if it is on, something turned it on
            trip("grad mode was switched on behind the guards' back")
            raise AutogradForbidden("autograd is off limits: grad mode stays disabled")

    return _set_grad_enabled


def _make_fwd_grad_guard(is_enabled):
    trip = _trip

    def _set_fwd_grad_enabled(mode: Any) -> None:
        if mode is not False or is_enabled():
            trip("forward-mode AD (torch.autograd.forward_ad / torch.func.jvp)")
            raise AutogradForbidden("autograd is off limits: forward AD stays disabled")

    return _set_fwd_grad_enabled


def _make_anomaly_guard(is_enabled):
    trip = _trip

    def set_anomaly_enabled(enabled: Any, check_nan: Any = True) -> None:
        if enabled is not True or not is_enabled():
            trip("the autograd guards were tampered with (anomaly mode switched off)")
            raise AutogradForbidden("the autograd guards must stay in place")

    return set_anomaly_enabled


class _InferenceModeGuard:
    """Stands in for ``torch._C._InferenceMode`` (what ``torch.inference_mode`` enters).

    ``inference_mode(True)`` becomes a no-op (grad mode is off anyway); ``inference_mode(False)``
    would switch grad mode on, so it is a violation. The real class keeps no constructor.
    """

    def __init__(self, mode: Any = True) -> None:
        if mode is not True:
            _trip("re-enabling grad mode (torch.inference_mode(False))")
            raise AutogradForbidden("autograd is off limits: grad mode stays disabled")

    def __enter__(self) -> None:
        return None

    def __exit__(self, *args: Any) -> None:
        return None


class _EngineGuard:
    """Stands in for ``Variable._execution_engine``: every method is a dead end."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        return _dead(f"the autograd engine (Variable._execution_engine.{name})", name)

    def __repr__(self) -> str:
        return "<autograd engine: disabled in the grading sandbox>"


class _ImperativeEngineGuard:
    """Stands in for ``torch._C._ImperativeEngine``: creating an engine is a violation."""

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        _trip("the autograd engine (torch._C._ImperativeEngine)")
        raise AutogradForbidden("autograd is off limits in this exercise")


def _requires_grad_guards() -> dict[str, Any]:
    """Return the ``torch.Tensor`` attribute overrides that flag ``requires_grad``."""
    base_rg = _TensorBase.requires_grad
    base_rg_ = _TensorBase.requires_grad_
    base_make_subclass = _TensorBase._make_subclass
    base_wrapper = _TensorBase._make_wrapper_subclass
    trip = _trip

    def requires_grad_(self, requires_grad=True):
        if requires_grad is not False:
            trip("requires_grad_() on a tensor (building an autograd graph)")
            raise AutogradForbidden("autograd is off limits in this exercise")
        return base_rg_(self, False)

    def _get(self):
        return base_rg.__get__(self)

    def _set(self, value):
        if value is not False:
            trip("setting requires_grad = True on a tensor (building an autograd graph)")
            raise AutogradForbidden("autograd is off limits in this exercise")
        base_rg.__set__(self, value)

    def _make_subclass(cls, data, require_grad=False, *args, **kwargs):
        if require_grad is not False:
            trip("a tensor that requires grad (torch.nn.Parameter / "
                 "Tensor._make_subclass(..., requires_grad=True))")
            raise AutogradForbidden("autograd is off limits in this exercise")
        return base_make_subclass(cls, data, False, *args, **kwargs)

    def _make_wrapper_subclass(cls, *args, **kwargs):
        if kwargs.get("requires_grad", False) is not False:
            trip("a tensor that requires grad (Tensor._make_wrapper_subclass(..., "
                 "requires_grad=True))")
            raise AutogradForbidden("autograd is off limits in this exercise")
        return base_wrapper(cls, *args, **kwargs)

    out: dict[str, Any] = {
        "requires_grad_": requires_grad_,
        "requires_grad": property(_get, _set, doc=base_rg.__doc__),
        "_make_subclass": staticmethod(_make_subclass),
        "_make_wrapper_subclass": staticmethod(_make_wrapper_subclass),
        "backward": _dead("Tensor.backward()", "backward"),
    }
    for name in ("new_empty", "new_empty_strided", "new_full", "new_ones", "new_tensor",
                 "new_zeros"):
        out[name] = _factory_guard(getattr(_TensorBase, name), f"Tensor.{name}")
    return out


def _factory_guard(orig, label: str):
    """Wrap a factory so that ``requires_grad=True`` is reported (the original is public)."""
    trip = _trip

    def factory(*args: Any, **kwargs: Any) -> Any:
        if "requires_grad" in kwargs and kwargs["requires_grad"] is not False:
            trip(f"{label}(..., requires_grad=True) (building an autograd graph)")
            raise AutogradForbidden("autograd is off limits in this exercise")
        return orig(*args, **kwargs)

    factory.__name__ = factory.__qualname__ = getattr(orig, "__name__", label)
    factory.__doc__ = getattr(orig, "__doc__", None)
    return factory


def _variable_new_guard():
    base_new = _C._LegacyVariableBase.__new__

    def __new__(cls, *args, **kwargs):
        if (len(args) > 1 and args[1] is not False) or len(args) > 3 \
                or kwargs.get("requires_grad", False) is not False \
                or kwargs.get("_grad_fn") is not None:
            _trip("torch.autograd.Variable(..., requires_grad=True)")
            raise AutogradForbidden("autograd is off limits in this exercise")
        return base_new(cls, *args, **kwargs)

    return staticmethod(__new__)


# ---------------------------------------------------------------------------------------
# the sensor: anomaly mode reports every graph node through torch.fx.traceback.format_stack


def _sensor(*args: Any, **kwargs: Any) -> Any:
    _trip("an autograd graph was built (an operation recorded a grad_fn, e.g. after "
          "re-enabling grad mode, or torch.autograd.Function.apply)")
    raise AutogradForbidden("autograd is off limits in this exercise")


class _SensorModule(_ModuleType):
    """Module class for ``torch.fx.traceback``: ``format_stack`` is always the sensor."""

    def __getattribute__(self, name: str, _get=_ModuleType.__getattribute__,
                         _sensor=_sensor) -> Any:
        if name == "format_stack":
            return _sensor
        return _get(self, name)

    def __setattr__(self, name: str, value: Any, _set=_ModuleType.__setattr__) -> None:
        if name == "format_stack":
            _trip("the autograd guards were tampered with "
                  "(torch.fx.traceback.format_stack replaced)")
            raise AutogradForbidden("the autograd guards must stay in place")
        _set(self, name, value)

    def __delattr__(self, name: str, _del=_ModuleType.__delattr__) -> None:
        if name == "format_stack":
            _trip("the autograd guards were tampered with "
                  "(torch.fx.traceback.format_stack deleted)")
            raise AutogradForbidden("the autograd guards must stay in place")
        _del(self, name)


class _Unavailable(_ModuleType):
    """Stands in for ``torch.distributed`` (and each of its modules) inside the child.

    ``is_available()`` and ``is_initialized()`` answer False, so torch's own code that
    checks them goes on as on a build without distributed support; any other name is
    refused (torch.compile's import path touches a few, so reaching the module is not by
    itself a violation). Its native functions, which start RPC threads and run distributed
    autograd, are dead ends wherever they are reached from (:func:`_dead_map`).
    """

    def __getattr__(self, name: str, _get=_ModuleType.__getattribute__) -> Any:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        raise AttributeError(f"{_get(self, '__name__')}.{name}: torch.distributed is not "
                             "available in the grading sandbox")


def _unavailable(name: str) -> _Unavailable:
    """Return the stand-in for the module ``name``."""
    stub = _Unavailable(name, "Not available in the grading sandbox.")
    stub.is_available = stub.is_initialized = _false
    return stub


def _false(*args: Any, **kwargs: Any) -> bool:
    return False


# ---------------------------------------------------------------------------------------
# torch.ops: the real resolvers live only inside an audit hook


_OPS_EVENT = "backprop.guard.ops"
#: Operators that run autograd natively (JIT-registered or dispatcher ops).
_DENIED_OPS = frozenset({
    "aten::set_grad_enabled", "aten::grad", "aten::backward", "aten::_backward",
    "aten::requires_grad_", "aten::_make_dual", "aten::_make_dual_copy", "aten::_unpack_dual",
    "aten::_fw_primal", "aten::_fw_primal_copy", "aten::retain_grad", "aten::get_gradients",
    "prim::grad", "aten::_set_fw_grad",
})


def _op_denied(name: str) -> bool:
    """Return whether ``name`` (``ns::op`` or ``ns.op``) is an autograd operator."""
    qual = name.replace(".", "::", 1) if "::" not in name else name
    return qual.split(".")[0] in _DENIED_OPS


#: The vault's code. Every object it needs (the real resolvers, the deny list, even ``type``
#: and ``len``) is reached through the constant ``"@K"``, which :func:`_make_ops_vault`
#: replaces by a namespace in the code object's constants: nothing secret is ever a local,
#: a default, a closure cell or a global of its frame, and no builtin can be swapped under it.
_VAULT_SOURCE = """
def vault(event, args):
    if event != "backprop.guard.ops":
        return
    try:
        if "@K".type(args) is not "@K".tuple or "@K".len(args) != 3:
            return
        which, call, box = args
        if "@K".type(box) is not "@K".list or "@K".type(which) is not "@K".int \\
                or "@K".type(call) is not "@K".tuple or not call:
            return
        for a in call:
            if "@K".type(a) is not "@K".str:
                box.append(("error", "operator names must be str"))
                return
        name = call[0]
        qual = name if "::" in name else name.replace(".", "::", 1)
        if qual.split(".")[0] in "@K".denied:
            box.append(("denied", name))
            return
        try:
            result = "@K".fns[which](*call)
            if which == 1 and "@K".type(result) is "@K".tuple and "@K".len(result) >= 2:
                result = (result[0], "@K".dead_dk) + result[2:]
            box.append(("ok", result))
        except Exception as exc:
            box.append(("error", "@K".str(exc)))
    except BaseException:
        return
"""


def _make_ops_vault(originals: tuple[Any, ...], dead_dk: Any) -> tuple[Any, dict]:
    """Return an audit hook that is the only holder of the real ``torch.ops`` resolvers, and
    its globals (the policy hook refuses to hand out the code of frames that use them).

    The hook answers one event, hands out every operator but the autograd ones, never calls
    code the submission controls (arguments must be exact ``str``/``int``/``list``) and never
    lets an exception out. The function object is referenced only by the interpreter's hook
    list; its frame, should a traceback ever expose it, holds nothing secret: the resolvers sit
    in the code object's constants, and reading ``f_code``/``__code__`` of this frame or
    function is a violation (see :func:`_make_policy_hook`).
    """
    scratch: dict[str, Any] = {}
    exec(compile(_VAULT_SOURCE, "<autograd guard>", "exec"), scratch)
    code = scratch["vault"].__code__
    keys = types.SimpleNamespace(fns=originals, denied=_DENIED_OPS, type=type, len=len,
                                 str=str, tuple=tuple, list=list, int=int, dead_dk=dead_dk)
    code = code.replace(co_consts=tuple(keys if c == "@K" else c for c in code.co_consts))
    globals_: dict[str, Any] = {"__builtins__": {}}
    return types.FunctionType(code, globals_, "vault"), globals_


def _ops_resolver(which: int, label: str):
    audit = sys.audit

    def resolver(*names: Any) -> Any:
        box: list[Any] = []
        audit(_OPS_EVENT, which, tuple(names), box)
        if not box:
            raise RuntimeError(f"{label} is unavailable")
        kind, value = box[0]
        if kind == "ok":
            return value
        if kind == "denied":
            _trip(f"the autograd operator torch.ops.{str(value).replace('::', '.')}")
            raise AutogradForbidden("autograd is off limits in this exercise")
        raise RuntimeError(value)

    def guarded(*names: Any) -> Any:
        failed = False
        try:
            return resolver(*names)
        except AutogradForbidden:
            raise
        except BaseException as exc:  # noqa: BLE001 — keep no frame of the vault around
            message = f"{type(exc).__name__}: {exc}"
            exc.__traceback__ = None
            failed = True
        if failed:
            raise RuntimeError(message)
        return None

    guarded.__name__ = guarded.__qualname__ = label
    return guarded


# ---------------------------------------------------------------------------------------
# the audit hook


_TRIP_EVENTS = {
    "gc.get_objects": "gc.get_objects() (heap introspection can dig up the autograd originals)",
    "gc.get_referrers": "gc.get_referrers() (heap introspection can dig up the autograd "
                        "originals)",
    "gc.get_referents": "gc.get_referents() (heap introspection can dig up the autograd "
                        "originals)",
    "cpython.PyInterpreterState_New": "a sub-interpreter (it would import a fresh, unguarded "
                                      "torch)",
}
_REFUSED_EVENTS = {
    "os.exec": "running programs", "os.posix_spawn": "running programs",
    "os.spawn": "running programs", "os.system": "running programs",
    "subprocess.Popen": "running programs", "os.startfile": "running programs",
    "os.symlink": "creating symlinks", "os.link": "creating hard links",
}


#: Packages that differentiate symbolically: importing (or reading) them is a violation.
_SYMBOLIC = ("sympy", "mpmath")


def _resolve(path: str, _readlink=os.readlink, _lstat=os.lstat, _islink=stat.S_ISLNK,
             _getcwd=os.getcwd, _str=str) -> str:
    """Return ``path`` with every symlink resolved (``/dev/fd/3`` → ``/proc/7/fd/3`` → …).

    Written with C-level calls bound at definition time: ``os.path.realpath`` is Python
    code whose module the submission could patch. At most 40 links are followed, as the
    kernel does; what cannot be resolved is returned as far as it got.
    """
    if not path.startswith("/"):
        path = _getcwd().rstrip("/") + "/" + path
    todo = [p for p in path.split("/") if p]
    done: list[str] = []
    hops = 0
    while todo:
        part = todo.pop(0)
        if part == ".":
            continue
        if part == "..":
            if done:
                done.pop()
            continue
        here = "/" + "/".join(done + [part])
        try:
            is_link = _islink(_lstat(here).st_mode)
        except OSError:
            done.append(part)
            continue
        if not is_link or hops >= 40:
            done.append(part)
            continue
        hops += 1
        target = _str(_readlink(here))
        if target.startswith("/"):
            done = []
        todo = [p for p in target.split("/") if p] + todo
    return "/" + "/".join(done)


def _make_policy_hook(sensor_module: Any, protected_files: frozenset[str], vault_globals: dict,
                      protected_dirs: tuple[str, ...], protected_modules: frozenset[int]):
    """Return the audit hook that reports escape routes and refuses outside execution.

    Everything it uses is bound as a default at creation: it keeps no closure (its cells
    would be writable) and reads no global of this module.
    """
    write_flags = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND

    def policy(event, args, _type=type, _str=str, _bytes=bytes, _int=int, _tuple=tuple,
               _func=_FunctionType, _code=_CodeType, _trip_events=_TRIP_EVENTS,
               _refused=_REFUSED_EVENTS, _sensor_module=sensor_module,
               _protected=protected_files, _write_flags=write_flags,
               _exc=PermissionError, _len=len, _frame=types.FrameType, _vg=vault_globals,
               _trip=_trip, _dirs=protected_dirs, _modules=protected_modules, _id=id,
               _symbolic=_SYMBOLIC, _resolve=_resolve, _guard_file="<autograd guard>",
               _getattr=getattr, _pseudo=("pipe:[", "socket:[", "anon_inode:")):
        if _type(event) is not _str:
            return
        if event == "builtins.id" or event == "sys._getframe":
            return  # the hot, harmless ones first
        if event == "object.__getattr__":
            if _type(args) is _tuple and _len(args) == 2 \
                    and (args[1] == "f_code" or args[1] == "__code__"):
                obj = args[0]
                if (_type(obj) is _frame and obj.f_globals is _vg) \
                        or (_type(obj) is _func and obj.__globals__ is _vg):
                    _trip("the autograd guards were tampered with (reading the code of the "
                          "torch.ops vault)")
                    raise _exc("the autograd guards must stay in place")
            return
        if event == "import":
            name = args[0] if _type(args) is _tuple and _len(args) >= 1 else None
            if _type(name) is _str:
                top = name.split(".")[0]
                if top in _symbolic:
                    _trip(f"{top} (symbolic differentiation: the exercise is to write each "
                          "derivative by hand)")
                    raise _exc(f"{top} is not available in the grading sandbox")
                if name.startswith(("torch.distributed", "torch._C._distributed")):
                    raise _exc("torch.distributed is not available in the grading sandbox")
            return
        if event.startswith("ctypes."):
            _trip(f"ctypes ({event}: raw memory access can rewrite the autograd guards)")
            raise _exc("ctypes is not available in the grading sandbox")
        what = _trip_events.get(event)
        if what is not None:
            _trip(what)
            raise _exc("not available in the grading sandbox")
        if event == "sys.settrace" or event == "sys.setprofile":
            # raised with no arguments, for None as well: any tracer is refused
            _trip(f"{event}() (a tracer can rewrite the guards' frames)")
            raise _exc("tracing is not available in the grading sandbox")
        if event == "object.__setattr__" or event == "object.__delattr__":
            if _type(args) is not _tuple or _len(args) < 2:
                return
            obj, name = args[0], args[1]
            if name == "__class__" and (obj is _sensor_module or _id(obj) in _modules):
                _trip("the autograd guards were tampered with (the class of "
                      f"{_str(_getattr(obj, '__name__', '?'))[:80]})")
                raise _exc("the autograd guards must stay in place")
            if _type(obj) is _func and (name == "__code__" or name == "__defaults__"
                                        or name == "__kwdefaults__"):
                # judged by where the function's code comes from, not by its __module__
                # (a plain attribute the submission can set first)
                filename = obj.__code__.co_filename
                if _type(filename) is _str and (filename.startswith(_dirs)
                                                or filename in _protected
                                                or filename == _guard_file):
                    _trip(f"the autograd guards were tampered with ({obj.__qualname__}"
                          f".{name} rewritten)")
                    raise _exc("the autograd guards must stay in place")
            return
        if event == "exec":
            if _type(args) is _tuple and _len(args) >= 1 and _type(args[0]) is _code \
                    and args[0].co_filename in _protected:
                _trip("the autograd guards were tampered with (the code of "
                      f"{args[0].co_filename.rsplit('site-packages/', 1)[-1]} was executed "
                      "again, e.g. importlib.reload)")
                raise _exc("the autograd guards must stay in place")
            return
        if event == "open":
            if _type(args) is not _tuple or _len(args) < 3:
                return
            path, mode, flags = args[0], args[1], args[2]
            if _type(path) is _int:
                return  # an fd opened (and checked) earlier
            if _type(path) is _bytes:
                path = path.decode("utf-8", "surrogateescape")
            if _type(path) is not _str:
                # a path-like object can answer differently here and in open() itself
                raise _exc("open() needs a str or bytes path in the grading sandbox")
            writing = (_type(flags) is _int and flags & _write_flags) or (
                _type(mode) is _str and ("w" in mode or "a" in mode or "+" in mode
                                         or "x" in mode))
            # judged by what the path is and by what it resolves to (/dev/fd/N, links)
            real = _resolve(path)
            for candidate in (path, real):
                parts = candidate.split("/")
                for top in _symbolic:
                    if top in parts:
                        _trip(f"reading {top}'s files (symbolic differentiation: the "
                              "exercise is to write each derivative by hand)")
                        raise _exc(f"{top} is not available in the grading sandbox")
            parts = real.split("/")
            # /dev/stdout → /proc/self/fd/1 → "pipe:[…]": the output pipe, not process state
            if writing and ("proc" in parts or parts[-1] == "mem") \
                    and not parts[-1].startswith(_pseudo):
                _trip(f"writing to {path!r} (process memory can rewrite the autograd guards)")
                raise _exc("not available in the grading sandbox")
            return
        what = _refused.get(event)
        if what is not None:
            raise _exc(f"{what} is not available in the grading sandbox")

    return policy


# ---------------------------------------------------------------------------------------
# the plan: what to replace, computed once when the zygote imports this module


#: Extension modules a submission may need; loaded in the zygote because the child cannot
#: load new compiled modules (re-creating a loaded one would hand back unguarded originals).
_PRELOAD = ("math", "cmath", "_bisect", "_heapq", "_random", "_json", "_struct", "_pickle",
            "array", "_statistics", "_datetime", "_decimal", "_contextvars", "_csv", "binascii",
            "zlib", "select", "unicodedata", "_typing", "_opcode", "_queue", "_blake2", "_md5",
            "_sha1", "_sha256", "_sha3", "_sha512", "_bz2", "_lzma", "fcntl", "resource",
            "_socket", "_posixsubprocess", "_uuid", "_zoneinfo", "_hashlib", "_multibytecodec",
            "pyexpat", "_elementtree", "mmap", "_asyncio", "_lsprof",
            "random", "statistics", "fractions", "decimal", "itertools", "functools",
            "collections", "dataclasses", "typing", "string", "heapq", "bisect", "copy",
            "numpy", "numpy.linalg", "numpy.fft", "numpy.random", "torch.func",
            "torch.autograd.functional", "torch.autograd.forward_ad", "torch.fx.traceback",
            "torch.nn.functional", "torch.jit")


def _preload() -> None:
    import importlib

    for name in (*sys.builtin_module_names, *_PRELOAD):
        if name not in sys.modules:
            try:
                importlib.import_module(name)
            except Exception:  # noqa: BLE001 — optional
                pass


#: TorchScript graph builders and evaluators: building or running a graph is how a
#: derivative graph (``_jit_differentiate``) would be produced and evaluated.
_JIT_GRAPH_BUILDERS = frozenset({
    "_jit_differentiate", "parse_ir", "_jit_trace_graph", "_create_graph_by_tracing",
    "_jit_interpret_graph", "_create_function_from_graph", "_jit_decomposition_graph_for_node",
    "_jit_register_decomposition_for_schema", "_jit_shape_compute_graph_for_node",
    "_jit_register_shape_compute_graph_for_node", "_jit_trace_module",
})
#: Modules whose Python functions named ``*backward*`` compute derivatives (decompositions
#: and reference implementations of PyTorch's backward kernels): neutered in place.
_DECOMPOSITION_MODULES = ("torch._decomp", "torch._refs", "torch._prims", "torch._prims_common",
                          "torch._meta_registrations", "torch._native", "torch._higher_order_ops",
                          "torch._functorch")


def _one_thread_only(name: str):
    """``torch.set_num_threads(1)`` is harmless; more threads are refused (the kernel would
    refuse them: OpenMP would abort the process)."""
    refuse = _refused("more than one thread", name)

    def set_threads(n: Any) -> None:
        if n != 1:
            refuse()

    set_threads.__name__ = set_threads.__qualname__ = name
    return set_threads


def _distributed_natives() -> list[Any]:
    """Return torch's native distributed modules (``torch._C._distributed_*``)."""
    return [m for name, m in list(sys.modules.items())
            if name.startswith("torch._C._distributed") and isinstance(m, _ModuleType)]


def _dead_code(fn: Any, label: str) -> Any:
    """Return a code object for ``fn`` that reports ``label`` and raises, whatever it gets.

    It keeps ``fn``'s free variables (so it fits ``fn``'s closure) and reaches the report
    through a code constant, not a global: swapped into ``fn`` itself, it kills every
    reference to ``fn`` at once (tables, wrappers' ``__wrapped__``, closures).
    """
    template = _DEAD_TEMPLATE.__code__
    keys = types.SimpleNamespace(trip=_trip, label=label, exc=AutogradForbidden,
                                 message=f"autograd is off limits in this exercise: {label}")
    code = fn.__code__
    return template.replace(co_consts=tuple(keys if c == "@K" else c
                                            for c in template.co_consts),
                            co_freevars=code.co_freevars, co_name=code.co_name,
                            co_qualname=code.co_qualname)


def _DEAD_TEMPLATE(*args: Any, **kwargs: Any) -> Any:  # noqa: N802 — a template, not an API
    "@K".trip("@K".label)  # type: ignore[attr-defined]  # noqa: B018 — replaced constant
    raise "@K".exc("@K".message)  # type: ignore[attr-defined]


def _backward_decompositions() -> list[Any]:
    """Return torch's Python functions that compute a backward kernel (decompositions,
    reference and meta implementations of ``aten::*_backward*``), wrappers' inner functions
    included: a derivative formula handed out, not written by hand."""
    found: dict[int, Any] = {}

    def consider(fn: Any) -> None:
        while type(fn) is _FunctionType and id(fn) not in found:
            mod = fn.__module__ or ""
            if "backward" not in fn.__name__ or not mod.startswith(_DECOMPOSITION_MODULES):
                return
            found[id(fn)] = fn
            fn = getattr(fn, "__wrapped__", None)

    for name, mod in list(sys.modules.items()):
        if not name.startswith(_DECOMPOSITION_MODULES):
            continue
        for value in list(getattr(mod, "__dict__", {}).values()):
            if type(value) is dict:  # decomposition tables: {OpOverload: fn}
                for key, fn in list(value.items())[:20000]:
                    if "backward" in str(key):
                        consider(fn)
            else:
                consider(value)
    return list(found.values())


def _dead_map() -> dict[str, tuple[Any, Any]]:
    """Return ``{"owner.attr": (owner, guard)}`` for every plain attribute replacement."""
    import torch.autograd.forward_ad as fwAD
    import torch.autograd.functional as AF
    import torch.func as tfunc

    C = _C
    m: dict[str, tuple[Any, Any]] = {}

    def dead(owner: Any, name: str, label: str) -> None:
        if hasattr(owner, name):
            m[f"{getattr(owner, '__name__', owner)}.{name}"] = (owner, _dead(label, name))

    def refuse(owner: Any, name: str, label: str, exc: type[Exception] = RuntimeError) -> None:
        if hasattr(owner, name):
            m[f"{getattr(owner, '__name__', owner)}.{name}"] = (owner, _refused(label, name, exc))

    # grad mode, forward AD, anomaly mode
    m["torch._C._set_grad_enabled"] = (C, _make_grad_mode_guard(C.is_grad_enabled))
    m["torch._C._set_fwd_grad_enabled"] = (C, _make_fwd_grad_guard(C._is_fwd_grad_enabled))
    m["torch._C.set_anomaly_enabled"] = (C, _make_anomaly_guard(C.is_anomaly_enabled))
    m["torch._C._InferenceMode"] = (C, _InferenceModeGuard)
    for name in ("__init__", "__enter__", "__exit__"):  # the real class, for __subclasses__
        m[f"_InferenceMode.{name}"] = (C._InferenceMode, _dead(
            "re-enabling grad mode (the real torch._C._InferenceMode)", name))
    for name in ("_enter_dual_level", "_exit_dual_level"):
        dead(C, name, "forward-mode AD (torch.autograd.forward_ad dual levels)")
    for name in ("_make_dual", "_unpack_dual"):
        dead(torch, name, f"forward-mode AD (torch.{name})")
    for name in ("make_dual", "unpack_dual", "enter_dual_level", "exit_dual_level",
                 "dual_level"):
        dead(fwAD, name, f"forward-mode AD (torch.autograd.forward_ad.{name})")

    # the reverse engine and its public spellings
    m["torch._C._ImperativeEngine"] = (C, _ImperativeEngineGuard)
    for name in ("grad", "backward"):
        dead(torch.autograd, name, f"torch.autograd.{name}()")
    dead(torch.autograd.graph, "_engine_run_backward", "the autograd engine")
    for name in ("vjp", "jvp", "jacobian", "hessian", "vhp", "hvp"):
        dead(AF, name, f"torch.autograd.functional.{name}()")

    # torch.func / functorch
    for name in ("grad", "grad_and_value", "vjp", "jvp", "jacrev", "jacfwd", "hessian",
                 "linearize"):
        dead(tfunc, name, f"torch.func.{name}()")
    F = C._functorch
    for name in ("_grad_increment_nesting", "_grad_decrement_nesting", "_jvp_increment_nesting",
                 "_jvp_decrement_nesting", "_wrap_for_grad", "_unwrap_for_grad",
                 "set_inplace_requires_grad_allowed"):
        dead(F, name, "a torch.func (functorch) autograd transform")
    dead(C._dynamo.compiled_autograd, "set_autograd_compiler", "compiled autograd")

    # PyTorch's own backward kernels: the exercise is to write them by hand
    for name in dir(torch):
        if "backward" in name and callable(getattr(torch, name, None)):
            dead(torch, name, f"PyTorch's built-in backward kernel torch.{name}")

    # TorchScript / JIT: compiled code would run outside the guards
    for name in ("_jit_script_compile", "_jit_script_compile_overload",
                 "_jit_script_class_compile", "_jit_script_interface_compile",
                 "_create_function_from_graph", "_create_function_from_trace",
                 "_create_function_from_trace_with_dict", "_jit_trace_graph", "_jit_trace_module",
                 "_jit_interpret_graph", "import_ir_module", "import_ir_module_from_buffer",
                 "_import_ir_module_from_package", "_load_for_lite_interpreter",
                 "_load_for_lite_interpreter_from_buffer", "_load_jit_module_from_bytes",
                 "_load_jit_module_from_file", "_load_mobile_module_from_bytes",
                 "_load_mobile_module_from_file", "_jit_run_cpp_tests", "parse_ir",
                 "_compile_graph_to_code_table", "fork", "_awaitable", "_create_graph_by_tracing",
                 "_create_module_with_type", "_create_object_with_type", "_freeze_module",
                 "_jit_to_backend", "_jit_to_backend_selective", "_pickle_load_obj",
                 "_run_emit_module_hook", "_jit_to_static_module"):
        if name not in _JIT_GRAPH_BUILDERS:
            refuse(C, name, "TorchScript (torch.jit)")
    # ... but building a TorchScript graph, running a pass on one, or differentiating one
    # symbolically (torch._C._jit_differentiate gives a derivative graph of ordinary ops)
    # is the autograd family: a violation, like the engine's entry points.
    for name in dir(C):
        if name in _JIT_GRAPH_BUILDERS or name.startswith("_jit_pass_"):
            dead(C, name, f"TorchScript symbolic differentiation and graph passes "
                          f"(torch._C.{name})")
    if "__init__" in C.Graph.__dict__:
        m["Graph.__init__"] = (C.Graph, _dead(
            "TorchScript symbolic differentiation (building a torch._C.Graph)", "__init__"))
    for cls, names in ((C.CompilationUnit, ("__init__", "define", "create_function")),
                       (C.ScriptModule, ("_define", "_create_method_from_trace",
                                         "_create_method_from_trace_with_dict"))):
        for name in names:
            if name in cls.__dict__:
                m[f"{cls.__name__}.{name}"] = (cls, _refused("TorchScript (torch.jit)", name))

    # frame evaluation hooks (torch.compile / dynamo) can substitute code for any frame
    ef = C._dynamo.eval_frame
    for name in dir(ef):
        if name.startswith("set_") or name in ("register_breakpoint_code",
                                               "_load_precompile_entry", "reset_code",
                                               "_get_frame_value_stack_with_depth"):
            refuse(ef, name, "torch.compile (frame evaluation hooks)")

    # the Python dispatcher (it dispatches to keys named in Python, see _AUTOGRAD_KEYS)
    for name in ("_EnablePythonDispatcher", "_EnablePreDispatch"):
        cls = getattr(C, name, None)
        if cls is not None:
            label = f"the Python dispatcher (torch._C.{name})"
            m[f"torch._C.{name}"] = (C, _dead(label, name))
            if isinstance(cls, type) and "__init__" in cls.__dict__:
                m[f"{name}.__init__"] = (cls, _dead(label, "__init__"))

    # what could lift the exclusion of autograd's dispatch keys (see _apply)
    dead(C, "_dispatch_tls_set_dispatch_key_excluded",
         "re-enabling autograd dispatch (torch._C._dispatch_tls_set_dispatch_key_excluded)")
    for name in ("_ForceDispatchKeyGuard", "_SetExcludeDispatchKeyGuard"):
        cls = getattr(C, name, None)
        if cls is not None:
            label = f"re-enabling autograd dispatch (torch._C.{name})"
            m[f"torch._C.{name}"] = (C, _dead(label, name))
            if "__init__" in cls.__dict__:
                m[f"{name}.__init__"] = (cls, _dead(label, "__init__"))

    # operators called at a dispatch key of one's choosing skip the exclusion of autograd's
    # kernels (see _apply): every such door is a dead end (OpOverload._op_dk: _apply)
    label = "calling an operator at a chosen dispatch key (past autograd's exclusion)"
    handle = C._DispatchOperatorHandle
    if "redispatch_boxed" in handle.__dict__:
        m["_DispatchOperatorHandle.redispatch_boxed"] = (handle, _dead(label,
                                                                       "redispatch_boxed"))
    kernel = getattr(C, "_SafeKernelFunction", None)
    if kernel is not None and "call_boxed" in kernel.__dict__:
        m["_SafeKernelFunction.call_boxed"] = (kernel, _dead(label, "call_boxed"))
    dead(C, "_dispatch_get_computed_kernel_for_dispatch_key", label)
    m["OpOverload.redispatch"] = (sys.modules["torch._ops"].OpOverload,
                                  _dead(label, "redispatch"))

    # torch.distributed: its RPC agents run Python on their own C++ threads (grad mode on)
    # and it has a distributed autograd engine. The modules themselves are replaced by
    # stand-ins (:class:`_Unavailable`); their native functions and classes die here too,
    # for whoever reaches them through a function's globals or object.__subclasses__().
    for mod in _distributed_natives():
        for name, obj in list(vars(mod).items()):
            if name.startswith("__"):
                continue
            label = f"torch.distributed ({mod.__name__}.{name})"
            if isinstance(obj, type):
                if "__init__" in obj.__dict__:
                    m[f"{mod.__name__}.{name}.__init__"] = (obj, _dead(label, "__init__"))
            elif callable(obj):
                m[f"{mod.__name__}.{name}"] = (mod, _dead(label, name))

    # threads start with grad mode on (the kernel refuses them anyway: seccomp.py)
    m["torch.set_num_threads"] = (torch, _one_thread_only("set_num_threads"))
    m["torch.set_num_interop_threads"] = (torch, _one_thread_only("set_num_interop_threads"))
    # processes and new extension modules run unguarded
    import _imp
    import _posixsubprocess
    import _thread

    for name in ("start_new_thread", "start_new", "start_joinable_thread"):
        refuse(_thread, name, "threads")
    refuse(_posixsubprocess, "fork_exec", "running programs", PermissionError)
    for name in ("create_dynamic", "create_builtin"):
        refuse(_imp, name, "loading a compiled extension module", ImportError)
    return m


def _scan(objs: dict[int, Any], modules: list[Any]) -> list[tuple]:
    """Find every reference to the objects to hide in module dicts and their containers.

    ``objs`` maps the ``id()`` of each original (alive: its namespaces hold it) to its guard.
    Returns fix-ups ``(kind, container, key, id(old), new)`` applied by :func:`install`. They
    name the originals by ``id()`` only: a plan that held them would keep them reachable, and
    dropping thousands of references in the forked child would copy pages for nothing.
    """
    fixes: list[tuple] = []
    containers = (list, dict, set, tuple, frozenset)

    def walk(value: Any, depth: int) -> Any:
        """Return a rebuilt immutable container (or None); queue fixes for mutable ones."""
        t = type(value)
        if depth > 3:
            return None
        if t is list:
            for i, item in enumerate(value):
                new = objs.get(id(item))
                if new is None and type(item) in containers:
                    new = walk(item, depth + 1)
                if new is not None:
                    fixes.append(("item", value, i, id(item), new))
        elif t is dict:
            for k, item in list(value.items()):
                new = objs.get(id(item))
                if new is None and type(item) in containers:
                    new = walk(item, depth + 1)
                if new is not None:
                    fixes.append(("item", value, k, id(item), new))
                if id(k) in objs:
                    fixes.append(("key", value, None, id(k), objs[id(k)]))
        elif t is set:
            for item in list(value):
                if id(item) in objs:
                    fixes.append(("member", value, None, id(item), objs[id(item)]))
        elif t in (tuple, frozenset):
            changed = False
            items = []
            for item in value:
                new = objs.get(id(item))
                if new is None and type(item) in containers:
                    new = walk(item, depth + 1)
                items.append(item if new is None else new)
                changed = changed or new is not None
            if changed:
                return t(items)
        return None

    for mod in modules:
        try:
            d = mod.__dict__
        except Exception:  # noqa: BLE001 — exotic module objects
            continue
        if type(d) is not dict:
            continue
        for k, v in list(d.items()):
            new = objs.get(id(v))
            if new is None and type(v) in containers:
                new = walk(v, 1)
            if new is not None:
                fixes.append(("attr", mod, k, id(v), new))
    return fixes


class _Plan:
    """Everything :func:`install` applies, prepared at import time (in the zygote)."""

    def __init__(self) -> None:
        _preload()
        import torch.fx.traceback  # noqa: F401 — the sensor's module

        self.dead = _dead_map()
        # the engine's class is an immutable C type, reachable through
        # object.__subclasses__(): its methods are replaced in its own namespace (_apply)
        engine_type = type(torch.autograd.variable.Variable.__dict__["_execution_engine"])
        self.static_dead = [
            (engine_type, name, _dead(f"the autograd engine ({engine_type.__name__}.{name})",
                                      name))
            for name in ("run_backward", "queue_callback") if name in vars(engine_type)]
        self.tensor_attrs = _requires_grad_guards()
        self.factories: dict[str, Any] = {}
        for name in dir(torch):
            obj = getattr(torch, name, None)
            doc = getattr(obj, "__doc__", None)
            if type(obj).__name__ == "builtin_function_or_method" and (
                    (isinstance(doc, str) and "requires_grad" in doc)
                    or name in ("scalar_tensor", "tril_indices", "triu_indices", "normal",
                                "from_file", "empty_quantized", "sparse_compressed_tensor")):
                self.factories[name] = _factory_guard(obj, f"torch.{name}")
        self.variable_new = _variable_new_guard()
        self.engine = _EngineGuard()
        self.resolvers = {"_jit_get_operation": _ops_resolver(0, "_jit_get_operation"),
                          "_get_operation_overload": _ops_resolver(1, "_get_operation_overload"),
                          "_dispatch_find_schema_or_throw":
                              _ops_resolver(2, "_dispatch_find_schema_or_throw")}
        # hide the originals everywhere: every module namespace and container that holds one
        objs: dict[int, Any] = {}
        for key, (owner, guard) in self.dead.items():
            name = key.rsplit(".", 1)[1]
            orig = owner.__dict__.get(name) if isinstance(owner, type) else getattr(owner, name)
            if orig is not None and not isinstance(orig, (bool, int, str)):
                objs[id(orig)] = guard
        for name, guard in self.resolvers.items():
            objs[id(getattr(_C, name))] = guard
        objs[id(torch.autograd.variable.Variable.__dict__["_execution_engine"])] = self.engine
        del orig
        # torch.distributed and its native modules: stand-ins, wherever they are referenced
        self.stubs: dict[str, _Unavailable] = {}
        for name, mod in list(sys.modules.items()):
            if name == "torch.distributed" or name.startswith(("torch.distributed.",
                                                               "torch._C._distributed")):
                self.stubs[name] = stub = _unavailable(name)
                if mod is not None:
                    objs[id(mod)] = stub
        # the guard's own classes: the after-call check verifies their methods too
        self.class_guards = tuple(
            (cls, name, value) for cls in (_SensorModule, _EngineGuard, _InferenceModeGuard,
                                           _ImperativeEngineGuard, _Unavailable)
            for name, value in vars(cls).items() if callable(value) or isinstance(
                value, staticmethod | classmethod | property))
        self.op_cache: list[tuple[dict, str]] = []
        for ns in list(torch.ops.__dict__.values()):
            d = getattr(ns, "__dict__", None)
            if type(d) is dict and type(ns).__name__ == "_OpNamespace":
                self.op_cache += [(d, n) for n in d if _op_denied(f"{ns.name}::{n}")]
        # every OpOverload made so far: its _op_dk calls the operator at a chosen dispatch
        # key, past autograd's exclusion (new ones get a dead one from the vault)
        self.dead_dk = _dead("calling an operator at a chosen dispatch key (past autograd's "
                             "exclusion)", "op_dk")
        self.overloads = [ov for ns in list(torch.ops.__dict__.values())
                          if type(ns).__name__ == "_OpNamespace"
                          for packet in list(vars(ns).values())
                          if type(packet).__name__ == "OpOverloadPacket"
                          for ov in list(vars(packet).values())
                          if type(ov).__name__ == "OpOverload"]
        self.seen_modules = set(sys.modules)
        self.fixes = _scan(objs, list(sys.modules.values()))
        self.objs = objs
        # re-running the code of an already loaded grader or torch module (importlib.reload,
        # exec of its code object) would rebuild what the guards replaced
        self.protected_files = frozenset(
            f for name, m in list(sys.modules.items())
            if name.split(".")[0] in ("grader", "torch", "functorch")
            and isinstance(f := getattr(m, "__file__", None), str) and f.endswith(".py"))
        # rewriting the code or defaults of a function from these trees is tampering
        self.protected_dirs = tuple(
            os.path.dirname(os.path.abspath(m.__file__)) + os.sep
            for m in (torch, sys.modules["grader"], sys.modules.get("functorch"))
            if m is not None and getattr(m, "__file__", None))


_PLAN: _Plan | None = None


def _in_zygote() -> bool:
    """Return whether the zygote's ``main()`` is importing this module (see zygote.PRELOAD)."""
    frame = sys._getframe(1)
    while frame is not None:
        code = frame.f_code
        if code.co_name == "main" and code.co_filename.endswith(
                os.path.join("grader", "sandbox", "zygote.py")):
            return True
        frame = frame.f_back
    return False


def prepare() -> None:
    """Compute the plan (idempotent); the zygote pays this when it imports the child.

    In the zygote it also applies the replacements (:func:`_apply`): every child inherits
    them through ``fork()`` for free, where applying them in the child would copy every page
    they touch. Nothing in the zygote uses autograd. Anywhere else (the grader, tests) only
    the plan is made; :func:`install` applies it.
    """
    global _PLAN
    if _PLAN is None and not _STATE["applied"]:
        _PLAN = _Plan()
        if _in_zygote():
            _apply()


# ---------------------------------------------------------------------------------------
# install / problems


def _set(owner: Any, name: str, value: Any) -> None:
    setattr(owner, name, value)
    _INSTALLED.append((owner, name, value))


def _force_set(cls: type, name: str, value: Any) -> None:
    """Set an attribute of an immutable (C, static) type — in trusted setup only.

    ``setattr`` refuses it, so the type's own namespace dict (what its mapping proxy wraps)
    is changed and the type's method cache invalidated, as ``type.__setattr__`` would do.
    The zygote does this before any student code exists; the after-call check then verifies
    it like any other guard.
    """
    import ctypes

    proxy = type.__dict__["__dict__"].__get__(cls)
    (namespace,) = [d for d in gc.get_referents(proxy) if type(d) is dict]
    namespace[name] = value
    ctypes.pythonapi.PyType_Modified(ctypes.py_object(cls))
    _INSTALLED.append((cls, name, value))


def _apply_fix(fix: tuple) -> None:
    kind, container, key, old_id, new = fix
    if kind == "attr":
        if id(container.__dict__.get(key)) == old_id:
            setattr(container, key, new)
    elif kind == "item":
        if id(container[key]) == old_id:
            container[key] = new
    elif kind == "key":
        for k in [k for k in container if id(k) == old_id]:
            container[new] = container.pop(k)
    elif kind == "member":
        for m in [m for m in container if id(m) == old_id]:
            container.discard(m)
            container.add(new)


def _apply() -> None:
    """Stage 1: switch autograd off and replace every entry point (no audit policy yet)."""
    if _STATE["applied"]:
        return
    plan = _PLAN
    assert plan is not None
    C = _C

    # state: grad mode and forward AD off for good (grad mode is per thread: fork() keeps the
    # calling thread's); anomaly mode on, so that every graph node calls the sensor
    C._set_grad_enabled(False)
    C._set_fwd_grad_enabled(False)
    C.set_anomaly_enabled(True, False)
    # Below grad mode, a second wall: autograd's kernels are excluded from dispatch on this
    # thread (what inference mode does), so even where grad mode is on — inside the engine's
    # hooks when it runs with create_graph=True — no operator records a graph node. fork()
    # copies the thread, and its exclusions, into every child; the engine carries them into
    # the graph tasks it runs; the setters that could lift them are dead ends (_dead_map).
    for key in _AUTOGRAD_KEYS:
        C._dispatch_tls_set_dispatch_key_excluded(key, True)
    # the only holder of the real torch.ops resolvers: an audit hook that answers our own
    # event and nothing else (harmless in the zygote too)
    vault, _STATE["vault_globals"] = _make_ops_vault(
        tuple(getattr(C, n) for n in plan.resolvers), plan.dead_dk)
    sys.addaudithook(vault)
    del vault

    # dead ends, everywhere the originals were referenced. Modules imported since the plan
    # was made are scanned first (while every original is still alive, so ids are unique);
    # only torch's own can have bound an original by name (``from torch._C import ...``).
    new_names = [n for n in sys.modules.keys() - plan.seen_modules
                 if n.split(".")[0] in ("torch", "functorch")]
    fixes = plan.fixes
    if new_names:
        fixes = fixes + _scan(plan.objs, [sys.modules[n] for n in new_names])
    for fix in fixes:
        try:
            _apply_fix(fix)
        except Exception:  # noqa: BLE001 — a container changed since the plan was made
            pass
    for key, (owner, guard) in plan.dead.items():
        _set(owner, key.rsplit(".", 1)[1], guard)
    for name, guard in plan.resolvers.items():
        _set(C, name, guard)
    _set(torch.autograd.variable.Variable, "_execution_engine", plan.engine)
    _set(torch.autograd.variable.Variable, "__new__", plan.variable_new)
    for name, value in plan.tensor_attrs.items():
        _set(torch.Tensor, name, value)
    for cls, name, guard in plan.static_dead:
        _force_set(cls, name, guard)
    for name, value in plan.factories.items():
        _set(torch, name, value)
    for d, name in plan.op_cache:  # cached OpOverloadPackets of denied operators
        d.pop(name, None)
    for overload in plan.overloads:  # each overload's call-at-a-key door (see _dead_map)
        overload._op_dk = plan.dead_dk
    for name, stub in plan.stubs.items():  # torch.distributed: stand-ins in sys.modules
        sys.modules[name] = stub
        _INSTALLED.append((sys.modules, name, stub))
    for fn in _backward_decompositions():  # derivative formulas: dead, every reference
        try:
            fn.__code__ = _dead_code(fn, "PyTorch's built-in backward kernel "
                                         f"{fn.__module__}.{fn.__qualname__}")
        except (ValueError, TypeError):  # an exotic code object: leave it (residual risk)
            pass

    # the sensor module: format_stack is always the sensor
    sensor_module = sys.modules["torch.fx.traceback"]
    sensor_module.__class__ = _SensorModule
    _INSTALLED.append((sys.modules, "torch.fx.traceback", sensor_module))
    _STATE["sensor_module"] = sensor_module
    _STATE["groups"] = _group(tuple(_INSTALLED) + plan.class_guards)
    _STATE["applied"] = True
    _STATE["applied_in"] = os.getpid()


def install():
    """Install the guards (called once in the child, before the submission is compiled).

    Applies the replacements unless the zygote already did, then arms the child: the audit
    policy, the baseline of the graph-node counter, immediate reporting. Returns the
    after-call check (see :func:`_make_check`): the harness keeps it in a local variable,
    where nothing the submission can reach can replace it.
    """
    if _STATE["installed"]:
        return _STATE["check"]
    prepare()
    _apply()
    plan = _PLAN
    assert plan is not None
    # Everything inherited from the zygote stays alive for the child's short life: keep the
    # garbage collector off it, or a collection walks (and copies) every page fork() shared.
    gc.freeze()
    entry = linecache.cache.get(SUBMISSION)
    if entry and len(entry) >= 3:
        _STATE["source"] = "".join(entry[2])
    _STATE["seq"] = _C._autograd._get_sequence_nr()
    try:
        st = os.fstat(JOB_FD)
        if stat.S_ISSOCK(st.st_mode):
            _STATE["channel"] = (st.st_dev, st.st_ino)
    except OSError:
        pass
    check = _make_check(_STATE["groups"], _STATE["seq"], _STATE["sensor_module"],
                        _STATE.get("channel"))
    _STATE["check"] = check
    _STATE["installed"] = True
    sys.addaudithook(_make_policy_hook(
        _STATE["sensor_module"], plan.protected_files, _STATE["vault_globals"],
        plan.protected_dirs, frozenset(id(stub) for stub in plan.stubs.values())))
    return check


def _check_tensor(value: Any, where: str,
                  _disable=_C.DisableTorchFunctionSubclass,
                  _grad_fn=_TensorBase.grad_fn.__get__,
                  _requires_grad=_TensorBase.requires_grad.__get__,
                  _issubclass=issubclass, _type=type, _base=_TensorBase) -> str | None:
    if not _issubclass(_type(value), _base):
        return None
    try:
        with _disable():
            grad_fn = _grad_fn(value)
            requires_grad = _requires_grad(value)
    except Exception:  # noqa: BLE001
        return None
    if grad_fn is not None:
        return f"{where} carries an autograd graph (grad_fn={_type(grad_fn).__name__})"
    if requires_grad:
        return f"{where} requires grad"
    return None


def _group(expected: tuple, _modules=sys.modules) -> tuple:
    """Flatten ``(owner, name, guard)`` triples for a fast check: ``(gets, names, guards,
    labels)``, where ``gets[i](names[i])`` reads what the owner holds now.

    Each getter is the ``get`` of the owner's own namespace, bound here, in the zygote: a
    module's ``__dict__``, a type's mapping proxy (both stay the live namespace for good and
    read it in C, so a patched ``__getattribute__`` runs no code) or ``sys.modules``. The check
    then compares every guard by identity in C (``map(operator.call …)``, ~50 ns a guard,
    where a Python loop costs ~1 µs), and a child pays neither the grouping nor its
    allocations.
    """
    type_dict = type.__dict__["__dict__"].__get__
    module_dict = _ModuleType.__dict__["__dict__"].__get__
    gets: dict[int, Any] = {}
    out: tuple[list, list, list, list] = ([], [], [], [])
    for owner, name, guard in expected:
        if id(owner) not in gets:
            if owner is _modules:
                gets[id(owner)] = (_modules.get, "sys.modules")
            elif isinstance(owner, type):
                gets[id(owner)] = (type_dict(owner).get, getattr(owner, "__qualname__", "?"))
            elif isinstance(owner, _ModuleType):
                gets[id(owner)] = (module_dict(owner).get, getattr(owner, "__name__", "?"))
            else:
                continue
        get, label = gets[id(owner)]
        for column, value in zip(out, (get, name, guard, label), strict=True):
            column.append(value)
    return tuple(tuple(column) for column in out)


def _replaced(groups: tuple, _all=all, _map=map, _is=operator.is_, _call=operator.call,
              _zip=zip) -> list[str]:
    """Return ``owner.name`` for every guard that is no longer the installed object."""
    gets, names, guards, labels = groups
    if _all(_map(_is, _map(_call, gets, names), guards)):
        return []
    return [f"{label}.{name}" for get, name, guard, label in _zip(gets, names, guards, labels)
            if get(name) is not guard]


def warm() -> None:
    """Touch what the after-call check reads, in a spare before its job arrives: the first
    read in a forked process pays copy-on-write page faults (reference counts are writes)."""
    groups = _STATE.get("groups")
    if groups:
        _replaced(groups)


def _returned(returned: Any, _type=type, _dict=dict, _list=list, _str=str, _items=dict.items,
              _check_tensor=_check_tensor) -> list[str]:
    """Return what is wrong with the tensors in ``returned``: a dict of them, or one."""
    pairs = _list(_items(returned))[:1000] if _type(returned) is _dict else [(None, returned)]
    found = []
    for key, value in pairs:
        where = f"the returned tensor {_str(key)[:80]!r}" if _type(key) is _str \
            else "the returned tensor"
        msg = _check_tensor(value, where)
        if msg:
            found.append(msg)
    return found


def _all_excluded(keys: tuple, excluded: Any, _all=all, _map=map) -> bool:
    """Return whether every autograd dispatch key is still excluded on this thread."""
    return _all(_map(excluded, keys))


def _make_check(groups: tuple, seq0: int, sensor_module: Any,
                channel: tuple[int, int] | None = None):
    """Return the after-call check, armed with everything it needs as bound defaults.

    The submission can reach the harness's objects (``sys._getframe(1).f_locals``), rebind
    this module's globals and mutate any mutable object, but it cannot change a running
    frame's local variables, a function's code or its ``__defaults__`` tuple (rewriting a
    grader function's code or defaults is refused by the audit hook; in-place mutation of
    ``__kwdefaults__`` is not audited, hence positional defaults only). So the check the
    harness holds keeps its behaviour whatever the submission does; what it finds is sent
    to the parent at once (:func:`_deliver`).
    """

    threads = seccomp.thread_counter()

    def check(returned: Any = None, _groups=groups, _seq0=seq0,
              _sensor=sensor_module, _sensor_class=_SensorModule, _modules=sys.modules,
              _violations=_VIOLATIONS, _is_grad=_C.is_grad_enabled,
              _is_fwd=_C._is_fwd_grad_enabled, _is_anomaly=_C.is_anomaly_enabled,
              _seq=_C._autograd._get_sequence_nr, _threads=threads,
              _returned=_returned, _deliver=_deliver, _list=list, _type=type,
              _replaced=_replaced, _channel=channel, _find=_channel, _fd=JOB_FD,
              _excluded=_C._dispatch_tls_is_dispatch_key_excluded,
              _autograd_keys=_AUTOGRAD_KEYS, _all_excluded=_all_excluded) -> list[str]:
        found = _list(_violations)
        replaced = _replaced(_groups)
        if _type(_sensor) is not _sensor_class:
            replaced.append("torch.fx.traceback")
        if replaced:
            found.append("the autograd guards were tampered with ("
                         + ", ".join(replaced[:5]) + " replaced)")
        if _is_grad():
            found.append("grad mode was re-enabled")
        if _is_fwd():
            found.append("forward-mode AD was re-enabled")
        if not _is_anomaly():
            found.append("the autograd guards were tampered with (anomaly mode switched off)")
        if _seq() != _seq0:
            found.append("an autograd graph was built")
        if not _all_excluded(_autograd_keys, _excluded):
            found.append("the autograd guards were tampered with (autograd dispatch "
                         "re-enabled)")
        if _channel is not None and _find(_channel) != _fd:
            found.append("the autograd guards were tampered with (the result channel was "
                         "moved off its descriptor)")
        threads = _threads()
        if threads < 0:
            found.append("the autograd guards were tampered with (the thread counter's "
                         "file was closed or replaced)")
        elif threads != 1:
            found.append(f"the process gained threads ({threads}): a thread starts with "
                         "grad mode on, outside the guards")
        found += _returned(returned)
        if found:
            _deliver("; ".join(found), _channel)
        return found

    return check


def problems(returned: Any = None) -> list[str]:
    """Return the violations seen so far in this process (tampering included once installed),
    and graph-carrying tensors in ``returned``; for in-process use (tests, the harness before
    installation). The sandboxed harness uses the check :func:`install` returns."""
    check = _STATE.get("check")
    if check is not None:
        return check(returned)
    return list(_VIOLATIONS) + _returned(returned)

prepare()

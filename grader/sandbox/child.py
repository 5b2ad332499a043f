"""The harness inside the sandboxed child: load the submission, answer ``backward`` requests.

Runs in a process forked from the zygote, after isolation is applied. It speaks the wire
protocol on one socket and never sees a reference gradient or a hidden seed: it receives the
``t`` of a case, calls the student's ``backward(t)`` and sends back what it returned, as
raw tensor bytes. Everything it sends is treated as hostile by the parent; the harness is
here to be helpful to honest submissions (clear messages, line numbers), not to be trusted.
"""

from __future__ import annotations

import builtins
import contextlib
import linecache
import os
import socket
import sys
import time
import traceback
from collections.abc import Mapping
from typing import Any, NoReturn

import torch

from grader.sandbox import guard, wire

#: The file name submissions are compiled under, so tracebacks and line numbers name it.
FILENAME = "submission.py"
MAX_MESSAGE = 2000
MAX_TRACEBACK = 8000


class Namespace:
    """The read-only ``t`` of spec §1: attribute and item access to one case's forward pass."""

    __slots__ = ("_values",)

    def __init__(self, values: Mapping[str, Any]) -> None:
        object.__setattr__(self, "_values", dict(values))

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(
                f"t has no {name!r}; it has: {', '.join(sorted(self._values))}") from None

    def __getitem__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise KeyError(f"t has no {name!r}; it has: {', '.join(sorted(self._values))}") \
                from None

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("t is read-only: keep your gradients in local variables")

    __setitem__ = __setattr__

    def __contains__(self, name: object) -> bool:
        return name in self._values

    def __iter__(self):
        return iter(self._values)

    def keys(self):
        """Return the names in ``t``."""
        return self._values.keys()

    def __dir__(self) -> list[str]:
        return sorted(self._values)

    def __repr__(self) -> str:
        return f"t({', '.join(sorted(self._values))})"


def describe_exception(exc: BaseException) -> dict[str, Any]:
    """Return kind, message, the submission's line and a traceback limited to its frames."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == FILENAME]
    line = frames[-1].lineno if frames else None
    kind = "exception"
    if isinstance(exc, MemoryError) or (isinstance(exc, RuntimeError)
                                        and "can't allocate memory" in str(exc)):
        kind = "memory"
    elif isinstance(exc, SystemExit):
        kind = "exit"
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    if isinstance(exc, SystemExit):
        text = f"the submission called sys.exit({exc.code!r})"
    tb = "".join(traceback.format_list(frames)) + f"{text}\n" if frames else text
    return {"kind": kind, "message": text[:MAX_MESSAGE], "line": line,
            "traceback": tb[-MAX_TRACEBACK:]}


def describe_syntax_error(exc: SyntaxError) -> dict[str, Any]:
    """Return a syntax error as a message naming the line, the way Python prints it."""
    where = f" (line {exc.lineno})" if exc.lineno else ""
    snippet = f"\n    {exc.text.rstrip()}" if exc.text else ""
    return {"kind": "syntax", "message": f"SyntaxError: {exc.msg}{where}{snippet}"[:MAX_MESSAGE],
            "line": exc.lineno, "traceback": ""}


def snapshot(value: Any, _type=type, _dict=dict, _str=str, _items=dict.items,
             _list=list, _isinstance=isinstance, _len=len) -> tuple[Any, int]:
    """Return what ``backward`` returned, fixed once: a plain dict of its ``str`` keys.

    A dict subclass could answer the check and the encoder differently (``items()`` hiding
    a tensor that ``__getitem__`` hands out); its real storage is read once here, through
    ``dict.items``, and everything after works on this copy. Keys that are not exactly
    ``str`` (with their own ``__eq__``/``__hash__``) are dropped and counted. The builtins
    it uses are bound at definition: a submission may replace ``builtins.isinstance``.
    """
    if not _isinstance(value, _dict):
        return value, 0
    pairs = _list(_items(value))
    kept = {k: v for k, v in pairs if _type(k) is _str}
    return kept, _len(pairs) - _len(kept)


def encode_return(value: Any, expect: Mapping[str, list[int]], extra_keys: int = 0,
                  want: torch.dtype = torch.float32, misshaped_bytes: float = float("inf"),
                  _type=type, _dict=dict, _issubclass=issubclass) \
        -> tuple[dict[str, Any], dict[str, memoryview]]:
    """Describe a ``backward`` return value; attach payloads only for well-formed tensors.

    ``value`` is a :func:`snapshot`. A payload is sent only for a ``want`` tensor (the
    exercise's float dtype) of the expected shape, or of a wrong shape within
    :func:`wire.misshaped_ok`'s bound while the wrong ones fit ``misshaped_bytes`` together
    (:func:`wire.misshaped_budget`, the parent's same rule): everything else is described
    (type, dtype, shape) without its bytes, so a 1 GiB tensor never crosses the channel.
    Tensors are read through the C-level ``TensorBase`` with ``__torch_function__``
    disabled, so no method of a tensor subclass runs here.
    """
    if _type(value) is not _dict:  # a snapshot is a plain dict, or not a dict at all
        return {"type": "reply", "ok": True, "not_dict": _type(value).__name__}, {}
    entries: list[dict[str, Any]] = []
    payloads: dict[str, memoryview] = {}
    storages: dict[int, list[str]] = {}
    spent = 0
    with _NO_TORCH_FUNCTION():
        for name in expect:
            if name not in value:
                continue
            v = value[name]
            if v is None:
                entries.append({"name": name, "kind": "none"})
            elif _issubclass(_type(v), _TensorBase):
                # type(), not isinstance(): an object can fake __class__ to pass isinstance.
                try:
                    entry, payload = _describe_tensor(name, v, expect[name], want,
                                                      misshaped_bytes - spent)
                except Exception as exc:  # noqa: BLE001 — nested, a broken subclass, …
                    entry, payload = {"name": name, "kind": "other", "type": (
                        f"{_type_name(v)} whose values cannot be read "
                        f"({_type_name(exc)})")}, None
                entries.append(entry)
                if payload is not None:
                    payloads[name] = payload
                    if entry["shape"] != list(expect[name]):
                        spent += len(payload)
                if entry["kind"] == "tensor":
                    ptr = _storage_ptr(v)
                    if ptr:
                        storages.setdefault(ptr, []).append(name)
            else:
                entries.append({"name": name, "kind": "other", "type": _type_name(v)})
    extra = sorted(str(k)[:100] for k in value if k not in expect)[:50]
    if extra_keys:
        extra.append(f"({extra_keys} keys that are not str)")
    # Gradients that share memory (`dhprebn = dbndiff` without .clone()): an in-place op on
    # one changed the other, which diagnosis can then say instead of blaming a line.
    shares = [names for names in storages.values() if len(names) > 1]
    return {"type": "reply", "ok": True, "tensors": entries, "extra": extra,
            "shares": shares}, payloads


def _describe_tensor(name: str, v: Any, expected: list[int], want: torch.dtype,
                     room: float) -> tuple[dict[str, Any], memoryview | None]:
    """Return one tensor's entry and its bytes (None: described only).

    A tensor whose bytes a plain strided CPU tensor cannot give — sparse, on the meta
    device, a dtype the wire does not carry (complex, float8) — is described, never read,
    so it is the student's mistake to name, not "backward raised".
    """
    layout = _layout(v)
    if layout != torch.strided:
        kind = str(layout).removeprefix("torch.")
        return {"name": name, "kind": "other",
                "type": f"{_type_name(v)} in {kind} layout (use .to_dense())"}, None
    device = _device(v)
    if device.type != "cpu":
        return {"name": name, "kind": "other",
                "type": f"{_type_name(v)} on the {device.type} device"}, None
    dtype_obj, shape = _dtype(v), [int(s) for s in _shape(v)]
    dtype = wire.DTYPE_NAMES.get(dtype_obj, str(dtype_obj).replace("torch.", ""))
    # A wrong shape still travels (bounded) so diagnosis can name the mistake.
    ok = dtype_obj == want and (
        shape == list(expected)
        or (wire.misshaped_ok(shape, expected)
            and wire.nbytes(dtype, shape) <= room))
    payload = wire.tensor_bytes(_detach(v)) if ok else None
    return {"name": name, "kind": "tensor", "dtype": dtype, "shape": shape,
            "payload": ok}, payload


def _storage_ptr(v: Any) -> int:
    """Return the address of a tensor's storage (0 when it has none or cannot say)."""
    try:
        return int(_untyped_storage(v).data_ptr())
    except Exception:  # noqa: BLE001 — a storage that cannot be read is no alias
        return 0


def inputs_before(tensors: Mapping[str, Any]) -> dict[str, Any]:
    """Copy ``t``'s tensors before a call, to tell afterwards which ones it changed.

    A copy, not the version counter: an in-place op through ``.data`` does not bump it.
    """
    with _NO_TORCH_FUNCTION():
        return {k: _clone(v) for k, v in tensors.items() if _issubclass_tensor(v)}


def changed_inputs(tensors: Mapping[str, Any], before: Mapping[str, Any]) -> list[str]:
    """Return the names of ``t``'s tensors that ``backward`` changed in place."""
    changed = []
    with _NO_TORCH_FUNCTION():
        for k, old in before.items():
            try:
                if not _equal(tensors[k], old):
                    changed.append(k)
            except Exception:  # noqa: BLE001 — e.g. resized in place: changed, too
                changed.append(k)
    return changed


def _issubclass_tensor(v: Any) -> bool:
    return issubclass(type(v), _TensorBase)


_TensorBase = torch._C.TensorBase
_NO_TORCH_FUNCTION = torch._C.DisableTorchFunctionSubclass
_layout = _TensorBase.layout.__get__
_device = _TensorBase.device.__get__
_dtype = _TensorBase.dtype.__get__
_shape = _TensorBase.shape.__get__
_detach = _TensorBase.detach
_untyped_storage = _TensorBase.untyped_storage
_clone = _TensorBase.clone
_equal = _TensorBase.equal


def _type_name(value: Any) -> str:
    cls = type(value)
    mod = cls.__module__
    return cls.__qualname__ if mod == "builtins" else f"{mod}.{cls.__qualname__}"


def _send_reply(sock: socket.socket, header: dict[str, Any],
                payloads: Mapping[str, memoryview] = ()) -> None:
    if _state["forked"]:
        os._exit(0)  # a process the submission forked: it has no result channel
    _flush()
    # payload entries were already described in header["tensors"]; append their bytes
    for part in (*wire.encode(header, {}), *dict(payloads).values()):
        sock.sendall(part)


#: Set in a process the submission forked (os.register_at_fork), which must stay silent.
_state = {"forked": False}


def _after_fork_in_child(fd: int) -> None:
    _state["forked"] = True
    with contextlib.suppress(OSError):
        os.close(fd)


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # the student may have replaced or closed them
            pass


_thread_time = time.thread_time


def serve(sock: socket.socket) -> NoReturn:
    """Run one job: compile the submission, then answer requests until told to close."""
    sock.setblocking(True)
    # A process the submission forks must not speak on the result channel.
    fd = sock.fileno()
    os.register_at_fork(after_in_child=lambda: _after_fork_in_child(fd))
    reader = wire.Reader(sock)
    # The Reader makes the socket non-blocking (the parent needs that for its deadlines);
    # here a reply bigger than the socket buffer must block in sendall, not fail half-sent.
    sock.setblocking(True)
    try:
        job, _ = reader.trusted_frame()
        # Tell the parent the sandbox is up: anything that fails before this frame is the
        # sandbox's failure, not the submission's (host.Session._end).
        _send_reply(sock, {"type": "started"})
        source = job["source"]
        linecache.cache[FILENAME] = (len(source), None, source.splitlines(True), FILENAME)
        namespace: dict[str, Any] = {"__name__": "submission", "__file__": FILENAME,
                                     "__builtins__": builtins}
        try:
            code = compile(source, FILENAME, "exec", dont_inherit=True)
        except (SyntaxError, ValueError) as exc:
            err = describe_syntax_error(exc) if isinstance(exc, SyntaxError) else \
                {"kind": "syntax", "message": f"cannot compile: {exc}", "line": None}
            _send_reply(sock, {"type": "fatal", "error": err})
            os._exit(0)
        except (MemoryError, RecursionError) as exc:
            # Hostile nesting, or constant folding past the memory wall (the web leaves such
            # a file to the sandbox: grader.grade.folding_bytes). Left uncaught, the child
            # died with status 70 and the student was asked whether they called sys.exit().
            why = ("is nested too deeply for Python's compiler (brackets, operators, calls "
                   "or attributes inside one another)" if isinstance(exc, RecursionError) else
                   "makes Python's compiler run out of memory (constant expressions such as "
                   "'a' * 4096 + 'b' * 4096 + … are built while compiling)")
            _send_reply(sock, {"type": "fatal", "error": {
                "kind": "syntax", "message": f"cannot compile: the code {why}", "line": None}})
            os._exit(0)
        # The after-call check, held in a local variable of this frame: the submission can
        # read it (sys._getframe(1).f_locals) and mutate objects, but it cannot rebind a
        # running frame's locals, and the check itself keeps no mutable state (guard.py).
        check = guard.install()
        try:
            with torch.no_grad():
                exec(code, namespace)
        except BaseException as exc:  # noqa: BLE001 — the student's code may raise anything
            check(None)
            err = describe_exception(exc)
            err["message"] = f"while loading the file: {err['message']}"
            _send_reply(sock, {"type": "fatal", "error": err})
            os._exit(0)
        check(None)
        backward = namespace.get("backward")
        if not callable(backward):
            _send_reply(sock, {"type": "fatal", "error": {
                "kind": "no_backward", "line": None,
                "message": "the file defines no function `backward(t)`"}})
            os._exit(0)
        _send_reply(sock, {"type": "ready"})
        while True:
            request, tensors = reader.trusted_frame()
            if request.get("type") != "case":
                break
            t = Namespace({**tensors, **request.get("scalars", {})})
            before = inputs_before(tensors)
            cpu = _thread_time()
            try:
                with torch.no_grad():
                    value = backward(t)
            except BaseException as exc:  # noqa: BLE001
                check(None)
                _send_reply(sock, {"type": "reply", "ok": False,
                                   "error": describe_exception(exc)})
                continue
            cpu = _thread_time() - cpu
            # Fix what came back once, encode it (no submission code runs while encoding),
            # then check it, then send: the check sees exactly what is sent.
            try:
                value, dropped = snapshot(value)
                want = wire.DTYPES[request.get("dtype", "float32")] \
                    if request.get("dtype") in wire.GRADIENT_DTYPES else torch.float32
                room = request.get("misshaped_bytes")
                room = room if type(room) in (int, float) else float("inf")
                header, payloads = encode_return(value, request["expect"], dropped, want,
                                                 room)
            except Exception as exc:  # e.g. a tensor whose storage cannot be read
                check(None)
                _send_reply(sock, {"type": "reply", "ok": False,
                                   "error": describe_exception(exc)})
                continue
            check(value)
            header["cpu_ms"] = round(cpu * 1000, 3)
            header["changed_inputs"] = changed_inputs(tensors, before)
            _send_reply(sock, header, payloads)
    except (wire.WireError, OSError):
        pass
    finally:
        _flush()
    os._exit(0)

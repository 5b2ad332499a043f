"""The wire format between the grader and the sandboxed child: JSON headers + raw tensor bytes.

Never pickle: unpickling runs code chosen by the sender. A frame is

    u32 header length | header (UTF-8 JSON object) | raw bytes of each tensor, in header order

Each tensor entry in the header declares ``name``, ``dtype`` and ``shape``; its byte count is
computed by the receiver from those, never read from the sender. The parent accepts a payload
only for a tensor whose dtype and shape are exactly what it expects, so it knows every size
before it allocates anything (see :func:`read_reply`).
"""

from __future__ import annotations

import json
import math
import re
import selectors
import socket
import struct
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from grader.text import visible

#: dtypes allowed on the wire, by name.
DTYPES: dict[str, torch.dtype] = {
    "float32": torch.float32, "float64": torch.float64, "float16": torch.float16,
    "bfloat16": torch.bfloat16, "int64": torch.int64, "int32": torch.int32,
    "int16": torch.int16, "int8": torch.int8, "uint8": torch.uint8, "bool": torch.bool,
}
DTYPE_NAMES = {v: k for k, v in DTYPES.items()}
MAX_HEADER = 1024 * 1024
#: Deepest nesting and most values a header may hold: ours need 4 levels and a few thousand.
MAX_DEPTH = 8
MAX_NODES = 200_000
#: Longest integer literal accepted (19 digits: every int64).
MAX_INT_DIGITS = 19
_LEN = struct.Struct("!I")


_SURROGATES = re.compile("[\ud800-\udfff]")


def clean_text(text: Any, limit: int) -> str:
    """Return text from the child fit to store and to show: the one road for every string the
    child sends (output, messages, tracebacks, type names, keys).

    Lone surrogates (a JSON ``"\\ud800"``) cannot be encoded and would crash the database
    driver; NUL is refused by PostgreSQL; control characters and bidi overrides would act in
    an instructor's terminal or reorder what a reviewer reads (:func:`grader.text.visible`
    shows them instead); and decoding binary output with replacement characters can triple
    its size, so the result is capped at ``limit`` UTF-8 bytes.
    """
    text = visible(_SURROGATES.sub("\ufffd", text if isinstance(text, str) else str(text)))
    raw = text.encode("utf-8")
    return raw[:limit].decode("utf-8", errors="ignore") if len(raw) > limit else text


class WireError(Exception):
    """The peer sent something that is not a valid frame (or nothing, in time)."""


class PeerClosed(WireError):
    """The peer closed the connection (for the child: it exited or was killed)."""


class Deadline(WireError):
    """The wall-clock deadline passed while waiting for the peer."""


def tensor_entry(name: str, value: torch.Tensor) -> dict[str, Any]:
    """Return the header entry describing ``value``."""
    return {"name": name, "kind": "tensor", "dtype": DTYPE_NAMES[value.dtype],
            "shape": list(value.shape), "payload": True}


def tensor_bytes(value: torch.Tensor) -> memoryview:
    """Return the raw little-endian bytes of a tensor (C order)."""
    flat = value.detach().contiguous().reshape(-1)
    if flat.dtype == torch.bfloat16:  # numpy has no bfloat16; reinterpret as int16
        flat = flat.view(torch.int16)
    return memoryview(flat.numpy()).cast("B")


def nbytes(dtype: str, shape: list[int]) -> int:
    """Return the byte size of a tensor of ``dtype`` and ``shape``."""
    return math.prod(shape) * DTYPES[dtype].itemsize


def encode(header: Mapping[str, Any], tensors: Mapping[str, torch.Tensor] = ()) -> list[bytes]:
    """Encode a frame: ``header`` gains a ``tensors`` list describing ``tensors``."""
    entries = list(header.get("tensors", []))
    blobs = []
    for name, value in dict(tensors).items():
        entries.append(tensor_entry(name, value))
        blobs.append(tensor_bytes(value))
    raw = json.dumps({**header, "tensors": entries}, separators=(",", ":")).encode()
    return [_LEN.pack(len(raw)), raw, *blobs]


def send(sock: socket.socket, header: Mapping[str, Any],
         tensors: Mapping[str, torch.Tensor] = ()) -> None:
    """Send one frame (blocking, or under the socket's timeout) in one call."""
    sock.sendall(b"".join(encode(header, tensors)))


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise ValueError(f"an integer of {len(text)} digits")
    return int(text)


def parse_header(raw: bytes | bytearray) -> dict[str, Any]:
    """Parse one header from a hostile peer: a JSON object of bounded shape, or WireError.

    Every way the bytes can fail to parse — invalid UTF-8 or JSON, a 5000-digit integer
    (``ValueError``), 100,000 nested brackets (``RecursionError``), a structure deeper or
    larger than a header ever needs — is the sender's error, never the reader's.
    """
    try:
        header = json.loads(raw, parse_int=_bounded_int)
    except (ValueError, RecursionError, MemoryError) as exc:  # JSONDecodeError, Unicode…
        raise WireError(f"header is not JSON ({type(exc).__name__}: "
                        f"{str(exc)[:120]})") from None
    if not isinstance(header, dict):
        raise WireError("header is not a JSON object")
    # level by level, containers only: a reply of 26 tensors costs ~30 µs, not ~0.7 ms
    level: list[Any] = [header]
    nodes = 0
    for _ in range(MAX_DEPTH):
        below: list[Any] = []
        for value in level:
            items = value.values() if type(value) is dict else value
            nodes += len(items)
            below += [v for v in items if type(v) is dict or type(v) is list]
        if nodes > MAX_NODES:
            raise WireError("header nested too deep or too large")
        if not below:
            return header
        level = below
    raise WireError("header nested too deep or too large")


class Reader:
    """Reads frames from a socket under a deadline, calling ``idle`` while it waits.

    ``idle`` lets the parent drain the child's output pipe while it waits for a reply, so a
    child that prints a lot can never deadlock against a parent that is not reading.
    """

    def __init__(self, sock: socket.socket, deadline: float = math.inf,
                 extra: Mapping[int, Callable[[], None]] | None = None) -> None:
        self.sock = sock
        self.deadline = deadline
        self.sel = selectors.DefaultSelector()
        self.sel.register(sock, selectors.EVENT_READ, None)
        for fd, callback in (extra or {}).items():
            self.sel.register(fd, selectors.EVENT_READ, callback)
        sock.setblocking(False)

    def close(self) -> None:
        """Release the selector (the socket stays open)."""
        self.sel.close()

    def forget(self, fd: int) -> None:
        """Stop watching an extra fd (e.g. an output pipe at EOF)."""
        try:
            self.sel.unregister(fd)
        except (KeyError, ValueError):
            pass

    def _wait(self) -> None:
        while True:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise Deadline("deadline passed")
            for key, _ in self.sel.select(min(left, 1.0)):
                if key.data is None:
                    return
                key.data()

    def read_into(self, view: memoryview) -> None:
        """Fill ``view`` completely from the socket."""
        got = 0
        while got < len(view):
            try:
                n = self.sock.recv_into(view[got:])
            except BlockingIOError:
                self._wait()
                continue
            except ConnectionError:
                raise PeerClosed("connection reset") from None
            if n == 0:
                raise PeerClosed("connection closed")
            got += n

    def skip(self, count: int) -> None:
        """Read and discard ``count`` bytes in small chunks."""
        chunk = memoryview(bytearray(min(count, 1 << 16)))
        while count > 0:
            part = chunk[: min(count, len(chunk))]
            self.read_into(part)
            count -= len(part)

    def header(self) -> dict[str, Any]:
        """Read one frame header (a JSON object), validating its size and form."""
        head = bytearray(_LEN.size)
        self.read_into(memoryview(head))
        (size,) = _LEN.unpack(head)
        if size > MAX_HEADER:
            raise WireError(f"header of {size} bytes exceeds {MAX_HEADER}")
        raw = bytearray(size)
        self.read_into(memoryview(raw))
        return parse_header(raw)

    def trusted_frame(self) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
        """Read a frame from a trusted peer (the child reading the parent's requests)."""
        header = self.header()
        tensors = {}
        for entry in header.get("tensors", []):
            buf = bytearray(nbytes(entry["dtype"], entry["shape"]))
            self.read_into(memoryview(buf))
            tensors[entry["name"]] = _from_bytes(buf, entry["dtype"], entry["shape"])
        return header, tensors


@dataclass(frozen=True)
class Returned:
    """What the child says it returned for one name, before the parent trusts any of it."""

    name: str
    kind: str  # tensor | none | other
    type_name: str
    dtype: str | None
    shape: tuple[int, ...] | None
    payload: bool


def parse_entries(header: Mapping[str, Any], max_entries: int = 4096) -> list[Returned]:
    """Validate the ``tensors`` list of an untrusted header."""
    entries = header.get("tensors", [])
    if not isinstance(entries, list) or len(entries) > max_entries:
        raise WireError("malformed tensor list")
    out = []
    for e in entries:
        if not isinstance(e, dict) or not isinstance(e.get("name"), str) \
                or len(e["name"]) > 200:
            raise WireError("malformed tensor entry")
        kind = e.get("kind")
        if kind not in ("tensor", "none", "other"):
            raise WireError("malformed tensor kind")
        dtype, shape = e.get("dtype"), e.get("shape")
        payload = bool(e.get("payload")) and kind == "tensor"
        if kind == "tensor":
            # A payload's dtype sizes the bytes that follow: one of ours. A tensor described
            # without its bytes may be of any dtype (complex128, uint16, float8_e4m3fn: a
            # student's mistake to name, not a broken channel); its name is only shown.
            if not isinstance(dtype, str) or (payload and dtype not in DTYPES) or \
                    not isinstance(shape, list) or len(shape) > 16 or \
                    not all(isinstance(s, int) and not isinstance(s, bool) and 0 <= s < 2**62
                            for s in shape):
                raise WireError("malformed tensor dtype or shape")
            dtype, shape = clean_text(dtype, 40), tuple(shape)
        else:
            dtype, shape = None, None
        type_name = clean_text(e.get("type", kind), 100)
        out.append(Returned(e["name"], kind, type_name, dtype, shape, payload))
    return out


def names_in(value: Any, known: Collection[str]) -> list[str]:
    """Return the names of an untrusted list that are in ``known`` (anything else dropped)."""
    if not isinstance(value, list):
        return []
    return sorted({x for x in value[:4096] if isinstance(x, str) and x in known})


def name_groups(value: Any, known: Collection[str]) -> list[tuple[str, ...]]:
    """Validate an untrusted list of name groups: disjoint groups of ≥ 2 ``known`` names."""
    if not isinstance(value, list):
        return []
    out: list[tuple[str, ...]] = []
    seen: set[str] = set()
    for group in value[:4096]:
        names = tuple(n for n in names_in(group, known) if n not in seen)
        if len(names) > 1:
            out.append(names)
            seen.update(names)
    return out


def misshaped_ok(shape: Sequence[int], expected: Sequence[int]) -> bool:
    """Return whether a tensor of the wrong ``shape`` may still cross the channel.

    Diagnosis needs the values of a mis-shaped gradient (a transpose, a sum over the wrong
    dimension, a forgotten sum), but only within a small bound of the expected size, so a
    huge return never costs the parent more than that bound.
    """
    numel = math.prod(shape)
    return len(shape) <= 4 and numel <= max(MISSHAPED_FACTOR * math.prod(expected),
                                            MISSHAPED_MIN)


#: A mis-shaped float32 tensor crosses the channel up to this many times the expected
#: elements (or MISSHAPED_MIN elements): enough for an unsummed (n, H) bias gradient.
MISSHAPED_FACTOR = 64
MISSHAPED_MIN = 4096


#: The dtypes a graded gradient may come back in (an exercise picks one).
GRADIENT_DTYPES = ("float32", "float64")


def misshaped_budget(expected: Mapping[str, Sequence[int]], dtype: str,
                     result_bytes: float) -> float:
    """Return the bytes one reply's mis-shaped payloads may take together.

    ``Limits.result_bytes`` bounds a reply: the expected gradients (sized by the exercise,
    trusted) come first, mis-shaped ones share what is left. Each mis-shaped tensor is
    bounded by :func:`misshaped_ok` in elements, so in bytes it grows with the dtype (8 bytes
    in a float64 exercise); this keeps the sum within the limit whatever the exercise.
    """
    size = DTYPES[dtype].itemsize if dtype in DTYPES else 8
    return max(0.0, result_bytes - sum(math.prod(s) * size for s in expected.values()))


def read_payloads(reader: Reader, entries: list[Returned],
                  expected: Mapping[str, tuple[int, ...]],
                  dtype: str = "float32", misshaped_bytes: float = math.inf) \
        -> dict[str, torch.Tensor]:
    """Read the payloads an untrusted header announced, allowing only expected ones.

    A payload is accepted only for an expected name, in ``dtype`` (the exercise's float
    dtype, one of :data:`GRADIENT_DTYPES`), in the expected shape or
    a bounded wrong one (:func:`misshaped_ok`), the wrong ones within ``misshaped_bytes``
    together (:func:`misshaped_budget`, which the child was told); any other announced
    payload is a protocol violation, raised before any payload is read, so the parent's
    allocation stays bounded.
    """
    if dtype not in GRADIENT_DTYPES:
        raise WireError(f"gradients cannot travel as {dtype}")
    accepted: set[str] = set()
    spent = 0
    for e in entries:
        if not e.payload:
            continue
        if e.name not in expected or e.dtype != dtype or e.name in accepted or (
                e.shape != tuple(expected[e.name])
                and not misshaped_ok(e.shape, expected[e.name])):
            raise WireError(f"unexpected payload for {e.name!r}")
        if e.shape != tuple(expected[e.name]):
            spent += nbytes(dtype, list(e.shape))
            if spent > misshaped_bytes:
                raise WireError(f"mis-shaped payloads over the reply's {misshaped_bytes:.0f} "
                                "bytes")
        accepted.add(e.name)
    out: dict[str, torch.Tensor] = {}
    for e in entries:
        if e.payload:
            buf = bytearray(nbytes(dtype, list(e.shape)))
            reader.read_into(memoryview(buf))
            out[e.name] = _from_bytes(buf, dtype, list(e.shape))
    return out


def _from_bytes(buf: bytearray, dtype: str, shape: list[int]) -> torch.Tensor:
    if not buf:
        return torch.empty(shape, dtype=DTYPES[dtype])
    if dtype == "bfloat16":
        return torch.frombuffer(buf, dtype=torch.int16).view(torch.bfloat16).reshape(shape)
    return torch.frombuffer(buf, dtype=DTYPES[dtype]).reshape(shape)

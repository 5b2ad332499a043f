"""The result channel: raw tensor bytes with declared dtype and shape, never pickle."""

from __future__ import annotations

import json
import socket
import struct

import pytest
import torch

from grader.sandbox import wire


@pytest.fixture
def pair():
    a, b = socket.socketpair()
    yield a, b
    a.close()
    b.close()


def _raw(sock: socket.socket, header: dict, payload: bytes = b"") -> None:
    data = json.dumps(header).encode()
    sock.sendall(struct.pack("!I", len(data)) + data + payload)


def test_round_trip_of_every_dtype(pair) -> None:
    a, b = pair
    tensors = {"f": torch.randn(3, 4), "i": torch.arange(6).view(2, 3), "h": torch.randn(2).half(),
               "bf": torch.randn(5).bfloat16(), "z": torch.zeros(0, 3), "s": torch.tensor(2.5),
               "nc": torch.randn(4, 3).T}
    wire.send(a, {"type": "case"}, tensors)
    header, got = wire.Reader(b, deadline=float("inf")).trusted_frame()
    assert header["type"] == "case"
    for k, v in tensors.items():
        assert got[k].dtype == v.dtype and torch.equal(got[k], v), k


def test_payload_accepted_only_for_expected_float32_shape(pair) -> None:
    a, b = pair
    t = torch.randn(2, 3)
    wire.send(a, {"type": "reply"}, {"x": t})
    reader = wire.Reader(b)
    entries = wire.parse_entries(reader.header())
    assert torch.equal(wire.read_payloads(reader, entries, {"x": (2, 3)})["x"], t)


def test_oversized_payload_is_refused_before_reading(pair) -> None:
    a, b = pair
    # Announces a 1 GiB tensor but sends nothing: the parent must refuse from the header alone.
    _raw(a, {"tensors": [{"name": "x", "kind": "tensor", "dtype": "float32",
                          "shape": [2**28], "payload": True}]})
    reader = wire.Reader(b, deadline=float("inf"))
    entries = wire.parse_entries(reader.header())
    with pytest.raises(wire.WireError, match="unexpected payload"):
        wire.read_payloads(reader, entries, {"x": (32, 27)})


@pytest.mark.parametrize("header", [
    {"tensors": "nope"},
    {"tensors": [{"name": 3, "kind": "tensor"}]},
    {"tensors": [{"name": "x", "kind": "pickle"}]},
    {"tensors": [{"name": "x", "kind": "tensor", "dtype": "object", "shape": [1],
                  "payload": True}]},
    {"tensors": [{"name": "x", "kind": "tensor", "dtype": "float32", "shape": [-1],
                  "payload": True}]},
    {"tensors": [{"name": "x", "kind": "tensor", "dtype": "float32", "shape": [True],
                  "payload": True}]},
])
def test_malformed_entries_are_rejected(pair, header) -> None:
    a, b = pair
    _raw(a, header)
    reader = wire.Reader(b)
    with pytest.raises(wire.WireError):
        wire.parse_entries(reader.header())


def test_garbage_and_oversized_headers(pair) -> None:
    a, b = pair
    a.sendall(struct.pack("!I", 5) + b"\x80abc{")
    with pytest.raises(wire.WireError, match="not JSON"):
        wire.Reader(b).header()
    a.sendall(struct.pack("!I", wire.MAX_HEADER + 1))
    with pytest.raises(wire.WireError, match="exceeds"):
        wire.Reader(b).header()


def test_deadline_and_closed_peer(pair) -> None:
    import time

    a, b = pair
    with pytest.raises(wire.Deadline):
        wire.Reader(b, deadline=time.monotonic() + 0.05).header()
    a.close()
    with pytest.raises(wire.PeerClosed):
        wire.Reader(b, deadline=time.monotonic() + 1).header()


@pytest.mark.parametrize(("raw", "says"), [
    (b'{"a": ' + b"9" * 5000 + b"}", "digits"),  # ValueError in json.loads itself
    (b'{"line": ' + b"9" * 4000 + b"}", "digits"),  # parses in Python; overflows a DB int
    (b"[" * 100_000 + b"]" * 100_000, "RecursionError"),
    (b'{"a":' + b"[" * 9 + b"]" * 9 + b"}", "too deep"),
    (b'{"a": [' + b"0," * 200_001 + b"0]}", "too large"),
    (b"\xff\xfe", "not JSON"),
    (b'"just a string"', "not a JSON object"),
])
def test_hostile_headers_are_wire_errors(raw: bytes, says: str) -> None:
    """Every way a header can fail to parse is the sender's WireError, never a ValueError or
    RecursionError in the reader (the parent grading a hostile submission)."""
    with pytest.raises(wire.WireError, match=says):
        wire.parse_header(raw)


def test_headers_of_the_protocol_still_parse() -> None:
    header = {"type": "reply", "ok": True, "cpu_ms": 1.5, "extra": ["x"],
              "tensors": [{"name": "logits", "kind": "tensor", "dtype": "float32",
                           "shape": [32, 27], "payload": True}],
              "error": {"kind": "exception", "message": "m", "line": 3}}
    import json

    assert wire.parse_header(json.dumps(header).encode()) == header
    assert wire.parse_header(b'{"a": NaN, "b": -9223372036854775808}')["b"] == -2**63


def test_clean_text_makes_child_strings_storable_and_showable() -> None:
    text = wire.clean_text("a\ud800b\x00c\x1b[2J\x9b\u202ed\r\ne", 100)
    text.encode("utf-8")  # no lone surrogate left: a database driver can encode it
    assert "\x00" not in text and "\x1b" not in text and "\u202e" not in text
    assert text == "a\ufffdb␀c␛[2J⟨U+009B⟩⟨U+202E⟩d\ne"
    assert len(wire.clean_text("é" * 100, 11).encode()) <= 11
    assert wire.clean_text(12345, 3) == "123"


def test_alias_and_changed_input_lists_from_the_child_are_validated() -> None:
    """The child's word on shared memory and changed inputs is advice, and hostile: only
    known names survive, groups are disjoint and of two or more, junk is dropped."""
    known = {"a", "b", "c"}
    assert wire.names_in(["b", "a", "zz", 3, None, "a"], known) == ["a", "b"]
    assert wire.names_in("a", known) == [] and wire.names_in(None, known) == []
    groups = wire.name_groups([["a", "b"], ["b", "c"], ["c"], "ab", [["a"]], ["zz", "c"]],
                              known)
    assert groups == [("a", "b")]
    assert wire.name_groups({"a": "b"}, known) == []
    assert wire.name_groups([["a"] * 10_000], known) == []

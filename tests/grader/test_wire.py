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

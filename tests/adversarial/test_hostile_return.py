"""Hostile return values: dict and tensor subclasses whose __eq__, __getitem__, __iter__,
__contains__, __len__, __hash__, __torch_function__ … lie, raise, hang or explode. All of
that runs in the child, which only ever sends plain bytes; the parent compares tensors it
built itself, so no lie survives the trip. At worst the child errs or times out."""

from __future__ import annotations

import pytest

from tests.adversarial.attack_helpers import assert_no_procs, assert_survives, ex2, grade_quick

HEADER = '''
class LyingDict(dict):
    """Claims to hold the right answer but hands out zeros."""
    def __contains__(self, k): return True
    def __getitem__(self, k): return torch.zeros(3, 3)
    def __eq__(self, other): return True
    def __len__(self): return 1
    def keys(self): return ["logits"]

class RaisingDict(dict):
    def __contains__(self, k): raise RuntimeError("contains says no")
    def __getitem__(self, k): raise RuntimeError("getitem says no")

class EndlessDict(dict):
    def __iter__(self):
        i = 0
        while True:
            i += 1
            yield f"key{i}" * 50

class SleepyKey(str):
    def __hash__(self):
        import time
        time.sleep(10**6)
        return 0
    def __str__(self):
        import time
        time.sleep(10**6)
        return "never"

class AlwaysEqualTensor(torch.Tensor):
    """Wrong numbers that claim to equal anything."""
    def __eq__(self, other): return torch.ones(self.shape, dtype=torch.bool)
    def __ne__(self, other): return torch.zeros(self.shape, dtype=torch.bool)
    def __sub__(self, other): return torch.zeros(self.shape)
    def __rsub__(self, other): return torch.zeros(self.shape)
    def abs(self): return torch.zeros(self.shape)
    def __getitem__(self, i): return torch.tensor(0.0)
    def __iter__(self): return iter([])
    def __len__(self): return 0
    def __float__(self): return 0.0

class LyingShape(torch.Tensor):
    """Reports the expected shape but holds 5 elements."""
    @property
    def shape(self): return torch.Size([32, 27])
    def size(self, *a): return torch.Size([32, 27])

class TorchFunctionRaises(torch.Tensor):
    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        raise RuntimeError("no torch functions for you")

class FakeTensor:
    """Not a tensor, but claims to be one through __class__."""
    __class__ = torch.Tensor
    layout = torch.strided
    dtype = torch.float32
    shape = (32, 27)
    def detach(self): return self
    def contiguous(self): return self
    def reshape(self, *a): return self
    def numpy(self): raise RuntimeError("fake")
'''

CASES = {
    # name: (return expression, acceptable overall statuses)
    "lying-dict": ("LyingDict(logits=-d)", {"graded"}),
    # (the correct answer in a dict whose accessors raise: see test_raising_dict_is_read)
    "endless-iter-dict": ("EndlessDict(logits=-d)", {"memory_limit", "timeout", "error",
                                                      "graded"}),
    "sleepy-extra-key": ("{'logits': -d, SleepyKey('x'): 1}", {"timeout", "error"}),
    "always-equal-tensor": ("{'logits': torch.zeros_like(d).as_subclass(AlwaysEqualTensor)}",
                            {"graded"}),
    "lying-shape": ("{'logits': torch.zeros(5).as_subclass(LyingShape)}",
                    {"graded", "error", "timeout"}),
    "torch-function-raises": ("{'logits': (-d).as_subclass(TorchFunctionRaises)}",
                              {"graded", "error"}),
    "fake-tensor": ("{'logits': FakeTensor()}", {"graded", "error"}),
}


@pytest.mark.parametrize("name", list(CASES))
def test_hostile_return_value_earns_nothing(sandbox, name: str) -> None:
    ret, statuses = CASES[name]
    src = ex2(header=HEADER, ret=ret)
    result = grade_quick(sandbox, src, wall_seconds=1, cpu_seconds=2,
                         memory_bytes=256 * 1024**2)
    assert result.status in statuses, (result.status, result.message)
    assert result.score == 0, result.message
    assert not any(t.passed for t in result.tensors)
    if result.status == "graded":
        (tensor,) = result.tensors
        assert tensor.status in ("wrong", "bad_type", "shape_mismatch", "missing"), \
            (tensor.status, tensor.message)
    assert result.message
    assert_no_procs(sandbox.slot.uid)
    assert_survives(sandbox)


def test_always_equal_tensor_is_judged_on_its_bytes(sandbox) -> None:
    """Zeros that claim equality with everything: the parent sees zeros and says wrong."""
    src = ex2(header=HEADER,
              ret="{'logits': torch.zeros_like(d).as_subclass(AlwaysEqualTensor)}")
    result = grade_quick(sandbox, src)
    (tensor,) = result.tensors
    assert tensor.status == "wrong", (tensor.status, tensor.message)
    assert tensor.max_abs_diff and tensor.max_abs_diff > 1e-3


def test_fake_tensor_gets_a_clear_message(sandbox) -> None:
    result = grade_quick(sandbox, ex2(header=HEADER, ret="{'logits': FakeTensor()}"))
    assert "sys.exit" not in result.message and "status 70" not in result.message, \
        result.message
    assert "sandbox setup failed" not in result.stdout


def test_raising_dict_is_read_from_its_storage(sandbox) -> None:
    """A dict subclass whose accessors raise (or lie) cannot show the checks one thing and the
    encoder another: the harness reads the dict's own storage once (``dict.items``), so this
    one is graded on what it really holds — here the correct answer."""
    result = grade_quick(sandbox, ex2(header=HEADER, ret="RaisingDict(logits=d / t.n)"),
                         wall_seconds=5, cpu_seconds=5)
    assert (result.status, result.score) == ("graded", 1.0), result.message


def test_non_str_keys_are_dropped_not_run(sandbox) -> None:
    """A key with its own __eq__/__hash__ would run submission code inside the harness's
    lookups; such keys are dropped before anything compares them."""
    src = ex2(header=HEADER + (
        "class Key(str):\n"
        "    def __eq__(self, other):\n"
        "        import os; os._exit(3)\n"
        "    __hash__ = str.__hash__\n"), ret="{Key('logits'): d / t.n}")
    result = grade_quick(sandbox, src, wall_seconds=5, cpu_seconds=5)
    assert result.status == "graded" and result.score == 0, result.message
    assert result.tensors[0].status == "missing", result.tensors[0]

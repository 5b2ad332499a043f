"""Tampering with the guards: replacing or deleting guarded attributes, digging the originals
out of closures, __subclasses__(), the heap (gc), memory (ctypes, /proc/self/mem), tracing,
re-running module code, swapping the graph sensor. Tampering is itself a violation."""

from __future__ import annotations

import pytest

from tests.adversarial.snippets import FIND_CLASS
from tests.adversarial.test_autograd_helpers import (
    HEAD,
    assert_no_autograd,
    assert_still_grades,
    assert_violation,
    grade_ex2,
)

FALLBACK = ("    d = F.softmax(t.logits, 1)\n    d[range(t.n), t.Yb] -= 1\n"
            "    return {'logits': d / t.n}\n")

#: Tampering that is reported after the call returns (problems() re-checks every guard).
REPLACED = {
    "assign-autograd-grad": ("    torch.autograd.grad = lambda *a, **k: (t.logits,)\n",
                             ["tampered", "torch.autograd.grad replaced"]),
    "delete-guard": ("    del torch.autograd.grad\n", ["tampered", "torch.autograd.grad"]),
    "replace-c-setter": ("    torch._C._set_grad_enabled = lambda mode: None\n",
                         ["tampered", "_set_grad_enabled replaced"]),
    "replace-engine": ("    from torch.autograd.variable import Variable\n"
                       "    Variable._execution_engine = object()\n",
                       ["tampered", "_execution_engine replaced"]),
    "restore-tensor-method": ("    del torch.Tensor.requires_grad_\n",
                              ["tampered", "requires_grad_ replaced"]),
    "type-setattr": ("    type.__setattr__(torch.Tensor, 'backward', lambda self: None)\n",
                     ["tampered", "backward replaced"]),
    "swap-sensor-module": ("    import sys, types\n"
                           "    sys.modules['torch.fx.traceback'] = types.ModuleType('x')\n",
                           ["tampered", "torch.fx.traceback"]),
    "vars-module-dict": ("    vars(torch.autograd)['backward'] = print\n",
                         ["tampered", "torch.autograd.backward replaced"]),
}


@pytest.mark.parametrize("name", list(REPLACED))
def test_replacing_a_guard_is_a_violation(sandbox, name: str) -> None:
    body, words = REPLACED[name]
    assert_violation(sandbox, HEAD + "\ndef backward(t):\n" + body + FALLBACK, *words)


#: Tampering that is refused and reported on the spot.
ON_THE_SPOT = {
    "new-engine-instance": ("    from torch.autograd.variable import Variable\n"
                            "    Variable._execution_engine = torch._C._ImperativeEngine()\n",
                            ["autograd engine"]),
    "replace-guard-code": ("    torch.autograd.grad.__code__ = (lambda *a, **k: None).__code__\n",
                           ["tampered", "__code__"]),
    "replace-guard-defaults": ("    from grader.sandbox import guard\n"
                               "    guard._deliver.__defaults__ = (print,) * 6\n",
                               ["tampered", "__defaults__"]),
    "anomaly-off": ("    torch.autograd.set_detect_anomaly(False)\n",
                    ["tampered", "anomaly mode"]),
    "sensor-setattr": ("    import torch.fx.traceback as tb\n    tb.format_stack = lambda: []\n",
                       ["tampered", "format_stack"]),
    "sensor-class": ("    import torch.fx.traceback as tb, types\n"
                     "    tb.__class__ = types.ModuleType\n", ["tampered", "torch.fx.traceback"]),
    "reload-autograd": ("    import importlib\n    importlib.reload(torch.autograd)\n",
                        ["tampered", "torch/autograd/__init__.py", "executed again"]),
    "reload-guard": ("    import importlib\n    from grader.sandbox import guard\n"
                     "    importlib.reload(guard)\n", ["tampered", "guard.py"]),
    "gc-get-referrers": ("    import gc\n    gc.get_referrers(torch._C._set_grad_enabled)\n",
                         ["gc.get_referrers"]),
    "gc-get-objects": ("    import gc\n"
                       "    [o for o in gc.get_objects() if getattr(o, '__name__', '') == "
                       "'_set_grad_enabled']\n", ["gc.get_objects"]),
    "ctypes-pythonapi": ("    import ctypes\n"
                         "    ctypes.pythonapi.PyEval_GetBuiltins()\n", ["ctypes"]),
    "ctypes-libtorch": ("    import ctypes, os\n"
                        "    lib = ctypes.CDLL(os.path.join(os.path.dirname(torch.__file__),"
                        " 'lib', 'libtorch_cpu.so'))\n", ["ctypes"]),
    "ctypes-memory": ("    import ctypes\n"
                      "    ctypes.c_char.from_address(id(torch._C._set_grad_enabled))\n",
                      ["ctypes"]),
    "settrace": ("    import sys\n    sys.settrace(lambda *a: None)\n", ["sys.settrace"]),
    "setprofile": ("    import sys\n    sys.setprofile(lambda *a: None)\n", ["sys.setprofile"]),
    "proc-self-mem": ("    open('/proc/self/mem', 'r+b')\n", ["/proc/self/mem"]),
    "proc-mem-dir-fd": ("    import os\n    d = os.open('/proc/self', os.O_RDONLY)\n"
                        "    os.open('mem', os.O_RDWR, dir_fd=d)\n", ["'mem'"]),
}


@pytest.mark.parametrize("name", list(ON_THE_SPOT))
def test_tampering_is_reported_on_the_spot(sandbox, name: str) -> None:
    body, words = ON_THE_SPOT[name]
    assert_violation(sandbox, HEAD + "\ndef backward(t):\n" + body + FALLBACK, *words)


def test_subclasses_hunt_for_the_engine(sandbox) -> None:
    """The real engine type can be found with object.__subclasses__(), but there is no graph
    for it to run: building one needs grad mode, and every switch is a dead end."""
    src = HEAD + """
""" + FIND_CLASS + """

def backward(t):
    engine = find("_EngineBase")()
    logits = t.logits.clone()
    torch._C.TensorBase.requires_grad_(logits)   # the base-class method: not a guard
    with torch.enable_grad():
        loss = F.cross_entropy(logits, t.Yb)
    (g,) = engine.run_backward((loss,), (torch.ones(()),), False, False, (logits,), True, False)
    return {"logits": g}
"""
    assert_violation(sandbox, src, "grad mode")


def test_subclasses_hunt_for_inference_mode(sandbox) -> None:
    """The real torch._C._InferenceMode class, found through __subclasses__(), has no working
    constructor left: inference_mode(False) would switch grad mode on."""
    src = HEAD + """
def backward(t):
    base = [c for c in object.__subclasses__() if c.__name__ == "pybind11_object"][0]
    real = [c for c in type.__subclasses__(base) if c.__name__ == "_InferenceMode"][0]
    guard = real(False)
    guard.__enter__()
    logits = t.logits.clone()
    torch._C.TensorBase.requires_grad_(logits)
    F.cross_entropy(logits, t.Yb).backward()
    return {"logits": logits.grad}
"""
    assert_violation(sandbox, src, "grad mode", "_InferenceMode")


def test_closures_and_defaults_hold_no_originals(sandbox) -> None:
    """Every guard's closure, defaults and globals are searched for the real C setter; it is
    not there (the guards keep no reference to what they replaced), so the submission ends up
    calling a guard."""
    src = HEAD + """
import types

SEEN = set()

def originals(fn, depth=0):
    if depth > 3 or id(fn) in SEEN:
        return
    SEEN.add(id(fn))
    cells = [c.cell_contents for c in (getattr(fn, "__closure__", None) or ())]
    for value in [*cells, *(getattr(fn, "__defaults__", None) or ()),
                  *getattr(fn, "__globals__", {}).values()]:
        if type(value).__name__ == "builtin_function_or_method" \\
                and value.__name__ == "_set_grad_enabled":
            yield value
        elif isinstance(value, types.FunctionType) and value is not fn:
            yield from originals(value, depth + 1)

def backward(t):
    found = [f for g in (torch._C._set_grad_enabled, torch.autograd.grad, torch.Tensor.backward,
                         torch._C._jit_get_operation, torch.func.grad)
             for f in originals(g) if f is not torch._C._set_grad_enabled]
    print("FOUND ORIGINAL" if found else "nothing found")
    (found[0] if found else torch._C._set_grad_enabled)(True)
    logits = t.logits.clone().requires_grad_()
    F.cross_entropy(logits, t.Yb).backward()
    return {"logits": logits.grad}
"""
    result = assert_violation(sandbox, src, "grad mode")
    assert "FOUND ORIGINAL" not in result.stdout
    assert "nothing found" in result.stdout


#: Routes the sandbox simply does not offer (no violation: they are not autograd by themselves,
#: but each would run code outside the guards). The submission gets nothing out of them.
REFUSED = {
    "thread": ("    import threading\n    out = {}\n"
               "    def work():\n        x = t.logits.clone().requires_grad_()\n"
               "        F.cross_entropy(x, t.Yb).backward()\n        out['g'] = x.grad\n"
               "    th = threading.Thread(target=work)\n    th.start()\n    th.join()\n"
               "    return {'logits': out['g']}\n", ["threads"]),
    "subprocess": ("    import subprocess, sys\n"
                   "    subprocess.run([sys.executable, '-c', 'import torch'])\n"
                   "    return {'logits': t.logits}\n", ["running programs"]),
    "recreate-torch-c": ("    import importlib.util\n"
                         "    spec = importlib.util.find_spec('torch._C')\n"
                         "    fresh = importlib.util.module_from_spec(spec)\n"
                         "    fresh._set_grad_enabled(True)\n    return {'logits': t.logits}\n",
                         ["compiled extension module"]),
    "subinterpreter": ("    import _xxsubinterpreters as si\n    si.create()\n"
                       "    return {'logits': t.logits}\n", ["compiled extension module"]),
    "torchscript": ("    @torch.jit.script\n    def f(x: torch.Tensor, y: torch.Tensor):\n"
                    "        x.requires_grad_()\n"
                    "        return torch.autograd.grad([F.cross_entropy(x, y)], [x])\n"
                    "    return {'logits': f(t.logits, t.Yb)[0]}\n", ["TorchScript"]),
    "torchscript-cu": ("    cu = torch.jit.CompilationUnit('def f(x):\\n    return x\\n')\n"
                       "    return {'logits': cu.f(t.logits)}\n", ["TorchScript"]),
    "torch-compile": ("    f = torch.compile(lambda x: x * 2)\n"
                      "    return {'logits': f(t.logits)}\n", ["not available"]),
}


@pytest.mark.parametrize("name", list(REFUSED))
def test_refused_routes_give_nothing(sandbox, name: str) -> None:
    body, words = REFUSED[name]
    assert_no_autograd(sandbox, HEAD + "\ndef backward(t):\n" + body, *words)


def test_vault_frame_from_a_recursion_error(sandbox) -> None:
    """A recursion limit tuned so that the torch.ops vault (an audit hook) fails puts frames in
    a traceback. Whatever frame of the guards shows up, its locals hold no resolver (the vault
    keeps them in its code's constants) and reading the vault's code is a violation (see
    test_autograd_unreachable.py for that check in isolation)."""
    src = HEAD + """
import sys

def depth():
    n, f = 0, sys._getframe()
    while f:
        n, f = n + 1, f.f_back
    return n

def backward(t):
    old, d = sys.getrecursionlimit(), depth()
    for limit in range(max(d - 5, 2), d + 40):
        try:
            sys.setrecursionlimit(limit)
        except (RecursionError, ValueError):
            continue
        try:
            sys.audit("backprop.guard.ops", 0, ("aten::set_grad_enabled",), [])
        except RecursionError as exc:
            sys.setrecursionlimit(old)
            tb = exc.__traceback__
            while tb is not None:
                frame = tb.tb_frame
                if any(getattr(v, "__name__", "") in ("_jit_get_operation",
                                                      "_get_operation_overload")
                       for v in frame.f_locals.values()):
                    print("LEAK in f_locals")
                if "__name__" not in frame.f_globals:
                    print("vault frame exposed")
                    frame.f_code.co_consts
                tb = tb.tb_next
        finally:
            sys.setrecursionlimit(old)
    d = F.softmax(t.logits, 1)
    d[range(t.n), t.Yb] -= 1
    return {"logits": d / t.n}
"""
    result = grade_ex2(sandbox, src)
    assert "LEAK" not in result.stdout
    if "vault frame exposed" in result.stdout:
        assert result.status == "violation", result.message
        assert "reading the code of the torch.ops vault" in result.message
    else:
        assert result.status == "graded" and result.score == result.max_score, result.message
    assert_still_grades(sandbox)

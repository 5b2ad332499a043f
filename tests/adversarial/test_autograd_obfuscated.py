"""Obfuscated spellings: the guards sit on the objects themselves, so how a submission reaches
them (getattr with built strings, importlib, __import__, eval/exec, vars(), sys.modules,
base64-encoded source) does not matter."""

from __future__ import annotations

import base64

import pytest

from tests.adversarial.test_autograd_helpers import HEAD, assert_violation

ARGS = "(F.cross_entropy(t.logits, t.Yb), t.logits)"

CASES = {
    "getattr-concat": f"getattr(getattr(torch, 'auto' + 'grad'), 'gr' + 'ad'){ARGS}",
    "importlib": f"__import__('importlib').import_module('torch.' + 'autograd').grad{ARGS}",
    "dunder-import": f"__import__('torch.autograd', fromlist=['grad']).grad{ARGS}",
    "eval": f"eval('torch.autograd.grad'){ARGS}",
    "eval-chr": "eval(''.join(map(chr, [116, 111, 114, 99, 104, 46, 97, 117, 116, 111, 103, "
                f"114, 97, 100, 46, 103, 114, 97, 100]))){ARGS}",
    "vars": f"vars(vars(torch)['autograd'])['grad']{ARGS}",
    "dunder-dict": f"torch.__dict__['autograd'].__dict__['grad']{ARGS}",
    "sys-modules": f"__import__('sys').modules['torch.autograd'].grad{ARGS}",
    "operator-attrgetter": f"__import__('operator').attrgetter('autograd.grad')(torch){ARGS}",
    "reversed-string": f"getattr(torch.autograd, 'darg'[::-1]){ARGS}",
}


@pytest.mark.parametrize("name", list(CASES))
def test_obfuscated_grad_is_a_violation(sandbox, name: str) -> None:
    src = HEAD + f"\ndef backward(t):\n    g = {CASES[name]}[0]\n    return {{'logits': g}}\n"
    assert_violation(sandbox, src, "torch.autograd.grad()")


def test_exec_string(sandbox) -> None:
    src = HEAD + ("\ndef backward(t):\n    ns = {'t': t, 'torch': torch, 'F': F}\n"
                  "    exec('x = t.logits.clone()\\nx.requires_grad_()\\n"
                  "F.cross_entropy(x, t.Yb).backward()\\nout = x.grad', ns)\n"
                  "    return {'logits': ns['out']}\n")
    assert_violation(sandbox, src, "requires_grad_()", "line 6")


def test_base64_encoded_source(sandbox) -> None:
    hidden = base64.b64encode(
        b"import torch\nimport torch.nn.functional as F\n"
        b"def backward(t):\n    x = t.logits.clone()\n"
        b"    with torch.enable_grad():\n        x.requires_grad_()\n"
        b"        F.cross_entropy(x, t.Yb).backward()\n    return {'logits': x.grad}\n").decode()
    src = f"import base64\nexec(base64.b64decode({hidden!r}))\n"
    assert_violation(sandbox, src, "grad mode")


def test_compiled_code_object(sandbox) -> None:
    """A code object built by compile() under another file name is still seen."""
    src = HEAD + ("code = compile('def g(t):\\n    return torch.func.grad(lambda x: "
                  "F.cross_entropy(x, t.Yb))(t.logits)\\n', 'innocent.py', 'exec')\n"
                  "exec(code)\n\ndef backward(t):\n    return {'logits': g(t)}\n")
    assert_violation(sandbox, src, "torch.func.grad()")

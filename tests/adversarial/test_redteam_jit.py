"""Red team: symbolic and traced differentiation inside torch — TorchScript graphs and
``_jit_differentiate``, graph passes, tracing and scripting, PyTorch's Python backward
decompositions (tables, wrappers, ``__wrapped__``), AOT autograd's joint graphs, ``make_fx``
of a grad transform, ``torch.export`` with decompositions — each reached plainly and through
obfuscations (getattr on built strings, module ``__dict__``, a function's ``__globals__``,
``object.__subclasses__()``).

Each attack runs before the correct formula, uncaught: expected a violation (or a refusal),
score 0, the attack's success marker absent, the same zygote grading the correct answer to
full marks afterwards.
"""

from __future__ import annotations

import pytest

from tests.adversarial.attack_helpers import assert_survives, ex2, grade_quick, zygote_pids

HEADER = "import os, sys, re, functools, importlib\n"

IR = ('"graph(%x : Tensor):\\n  %y : Tensor = aten::tanh(%x)\\n  return (%y)\\n"')

SUBCLASSES = """
def find(name):
    # the pybind11 class (torch.fx has a Python class called Graph too)
    seen, todo = set(), [object]
    while todo:
        c = todo.pop()
        if c in seen:
            continue
        seen.add(c)
        if c.__name__ == name and c.__module__ == "torch" \\
                and type(c).__name__ == "pybind11_type":
            return c
        try:
            todo.extend(type.__subclasses__(c))
        except TypeError:
            pass
"""

#: name: (header, attack, statuses, words that must be in the message)
V = ("violation",)
R = ("violation", "error")
ATTACKS = {
    # hand-built TorchScript graphs and symbolic differentiation
    "graph-ctor": ("", "    g = torch._C.Graph()\n    print('JIT_OK')\n", V, ["torch._C.Graph"]),
    "graph-via-subclasses": (SUBCLASSES,
                             "    G = find('Graph')\n    g = G.__new__(G)\n    g.__init__()\n"
                             "    print('JIT_OK')\n", V, ["Graph"]),
    "parse-ir": ("", f"    g = torch._C.parse_ir({IR})\n    print('JIT_OK')\n", V, ["parse_ir"]),
    "parse-ir-getattr": ("", f"    g = getattr(torch._C, 'parse' + '_ir')({IR})\n"
                             "    print('JIT_OK')\n", V, ["parse_ir"]),
    "differentiate": ("", "    torch._C._jit_differentiate(None)\n    print('JIT_OK')\n", V,
                      ["_jit_differentiate"]),
    "differentiate-built-name": ("", "    f = getattr(torch._C, ''.join(['_jit', '_differ', "
                                     "'entiate']))\n    f(None)\n    print('JIT_OK')\n", V,
                                 ["_jit_differentiate"]),
    "differentiate-module-dict": ("", "    vars(torch._C)['_jit_differentiate'](None)\n"
                                      "    print('JIT_OK')\n", V, ["_jit_differentiate"]),
    "differentiate-import-module": ("", "    C = importlib.import_module('torch._C')\n"
                                        "    C.__dict__['_jit_differentiate'](None)\n"
                                        "    print('JIT_OK')\n", V, ["_jit_differentiate"]),
    "differentiate-via-globals": ("",
                                  "    g = torch.jit.script.__globals__\n"
                                  "    C = g['torch']._C\n"
                                  "    C._jit_differentiate(None)\n    print('JIT_OK')\n", V,
                                  ["_jit_differentiate"]),
    "differentiate-via-jit-internals": ("",
                                        "    import torch.jit._script as S\n"
                                        "    S.torch._C._jit_differentiate(None)\n"
                                        "    print('JIT_OK')\n", V, ["_jit_differentiate"]),
    "jit-pass": ("", "    names = sorted(n for n in dir(torch._C) if n.startswith('_jit_pass_'))\n"
                     "    getattr(torch._C, names[0])(None)\n    print('JIT_OK')\n", V,
                 ["_jit_pass_"]),
    "jit-pass-dce": ("", "    torch._C._jit_pass_dce(None)\n    print('JIT_OK')\n", V,
                     ["_jit_pass_dce"]),
    "interpret-graph": ("", "    torch._C._jit_interpret_graph(None, ())\n    print('JIT_OK')\n",
                        V, ["_jit_interpret_graph"]),
    "create-function-from-graph": ("", "    torch._C._create_function_from_graph('f', None)\n"
                                       "    print('JIT_OK')\n", V,
                                   ["_create_function_from_graph"]),
    "trace-graph": ("", "    torch._C._jit_trace_graph(lambda x: x, (t.logits,))\n"
                        "    print('JIT_OK')\n", V, ["_jit_trace_graph"]),
    "jit-trace": ("", "    f = torch.jit.trace(lambda x: torch.tanh(x), (t.logits,))\n"
                      "    print('JIT_OK', f.graph)\n", R, []),
    "jit-script": ("", "    f = torch.jit.script(F.softmax)\n    print('JIT_OK', f.graph)\n",
                   R, []),
    "jit-script-fn": ("def sm(x):\n    return torch.softmax(x, 1)\n",
                      "    f = torch.jit.script(sm)\n    print('JIT_OK', f.graph)\n", R, []),
    "compilation-unit": ("", "    cu = torch._C.CompilationUnit()\n    print('JIT_OK')\n", R, []),
    # PyTorch's Python backward decompositions
    "decomp-table": ("from torch._decomp import decomposition_table\n",
                     "    fn = decomposition_table[torch.ops.aten._softmax_backward_data.default]\n"
                     "    p = F.softmax(t.logits, 1)\n"
                     "    fn(torch.ones_like(p), p, 1, p.dtype)\n    print('DECOMP_OK')\n", V,
                     ["backward"]),
    "decomp-get-decompositions": ("import torch._decomp as D\n",
                                  "    tab = D.get_decompositions("
                                  "[torch.ops.aten._log_softmax_backward_data])\n"
                                  "    fn = list(tab.values())[0]\n"
                                  "    lp = F.log_softmax(t.logits, 1)\n"
                                  "    fn(torch.ones_like(lp), lp, 1, lp.dtype)\n"
                                  "    print('DECOMP_OK')\n", V, ["backward"]),
    "decomp-core-aten": ("import torch._decomp as D\n",
                         "    tab = D.core_aten_decompositions()\n"
                         "    fn = tab[torch.ops.aten._log_softmax_backward_data.default]\n"
                         "    lp = F.log_softmax(t.logits, 1)\n"
                         "    fn(torch.ones_like(lp), lp, 1, lp.dtype)\n"
                         "    print('DECOMP_OK')\n", V, []),
    "decomp-wrapped": ("import torch._decomp.decompositions as DD\n",
                       "    fn = DD._softmax_backward_data\n"
                       "    while hasattr(fn, '__wrapped__'):\n"
                       "        fn = fn.__wrapped__\n"
                       "    p = F.softmax(t.logits, 1)\n"
                       "    fn(torch.ones_like(p), p, 1, p.dtype)\n    print('DECOMP_OK')\n", V,
                       ["backward"]),
    "decomp-closure-cells": ("import torch._decomp.decompositions as DD\n",
                             "    fn = DD._log_softmax_backward_data\n"
                             "    inner = [c.cell_contents for c in (fn.__closure__ or ())\n"
                             "             if callable(c.cell_contents)]\n"
                             "    target = inner[0] if inner else fn\n"
                             "    lp = F.log_softmax(t.logits, 1)\n"
                             "    target(torch.ones_like(lp), lp, 1, lp.dtype)\n"
                             "    print('DECOMP_OK')\n", V, []),
    "decomp-getattr-string": ("",
                              "    m = importlib.import_module('torch._decomp.' "
                              "+ 'decompositions')\n"
                              "    fn = getattr(m, '_log_softmax_' + 'backward_data')\n"
                              "    lp = F.log_softmax(t.logits, 1)\n"
                              "    fn(torch.ones_like(lp), lp, 1, lp.dtype)\n"
                              "    print('DECOMP_OK')\n", V, ["backward"]),
    "decomp-nll-loss-backward": ("import torch._decomp.decompositions as DD\n",
                                 "    lp = F.log_softmax(t.logits, 1)\n"
                                 "    g = DD.nll_loss_backward(torch.tensor(1.0), lp, t.Yb, "
                                 "None, 1, -100,"
                                 " torch.tensor(float(t.n)))\n"
                                 "    print('DECOMP_OK')\n", V, ["backward"]),
    "meta-registration": ("import torch._meta_registrations as M\n",
                          "    fns = [getattr(M, n) for n in dir(M) if 'backward' in n\n"
                          "           and callable(getattr(M, n))]\n"
                          "    fns[0]()\n    print('DECOMP_OK')\n", V, ["backward"]),
    # autograd-based tracing and export
    "aot-function": ("",
                     "    from torch._functorch.aot_autograd import aot_function\n"
                     "    f = aot_function(lambda x: F.cross_entropy(x, t.Yb), "
                     "fw_compiler=lambda g, _: g, bw_compiler=lambda g, _: g)\n"
                     "    x = t.logits.clone()\n"
                     "    torch._C.TensorBase.requires_grad_(x, True)\n"
                     "    f(x)\n    print('AOT_OK')\n", R, []),
    "aot-export-joint": ("",
                         "    from torch._functorch.aot_autograd import aot_export_joint_simple\n"
                         "    x = t.logits.clone()\n"
                         "    torch._C.TensorBase.requires_grad_(x, True)\n"
                         "    aot_export_joint_simple(lambda x: (F.cross_entropy(x, t.Yb),), [x], "
                         "trace_joint=True)\n"
                         "    print('AOT_OK')\n", R, []),
    "make-fx-of-grad": ("",
                        "    from torch.fx.experimental.proxy_tensor import make_fx\n"
                        "    g = torch.func.grad(lambda x: F.cross_entropy(x, t.Yb))\n"
                        "    gm = make_fx(g)(t.logits)\n"
                        "    print('AOT_OK')\n", R, []),
    "make-fx-of-vjp": ("",
                       "    from torch.fx.experimental.proxy_tensor import make_fx\n"
                       "    def f(x):\n"
                       "        _, vjp = torch.func.vjp(lambda y: F.cross_entropy(y, t.Yb), x)\n"
                       "        return vjp(torch.ones(()))[0]\n"
                       "    gm = make_fx(f)(t.logits)\n"
                       "    print('AOT_OK')\n", R, []),
    "export-run-decompositions": ("",
                                  "    class M(torch.nn.Module):\n"
                                  "        def forward(self, x):\n"
                                  "            return F.cross_entropy(x, t.Yb)\n"
                                  "    ep = torch.export.export(M(), (t.logits,))\n"
                                  "    ep.run_decompositions()\n"
                                  "    print('AOT_OK')\n", R, []),
    "functorch-compile": ("",
                          "    from functorch.compile import aot_function, nop\n"
                          "    aot_function(lambda x: x.sum(), nop)(t.logits)\n"
                          "    print('AOT_OK')\n", R, []),
    "torch-compile": ("",
                      "    f = torch.compile(lambda x: F.softmax(x, 1), backend='eager')\n"
                      "    f(t.logits)\n    print('AOT_OK')\n", R, []),
}

MARKERS = ("JIT_OK", "DECOMP_OK", "AOT_OK")


@pytest.mark.parametrize("name", list(ATTACKS))
def test_symbolic_differentiation_inside_torch(sandbox, name: str) -> None:
    header, attack, statuses, words = ATTACKS[name]
    trusted, restarts = zygote_pids(sandbox), sandbox.restarts
    result = grade_quick(sandbox, ex2(header=HEADER + header, before=attack))
    assert result.status in statuses, (result.status, result.message, result.stdout[-300:])
    assert result.score == 0 and all(t.points == 0 for t in result.tensors), result.message
    for word in words:
        assert word.lower() in result.message.lower(), result.message
    for marker in MARKERS:
        assert marker not in result.stdout, (marker, result.stdout[-300:])
    assert sandbox.restarts == restarts
    assert_survives(sandbox, trusted)
    assert sandbox.restarts == restarts


def test_plain_softmax_and_friends_are_graded(sandbox) -> None:
    """Positive control: the ordinary ops those decompositions are made of stay usable."""
    attack = ("    lp = torch.log_softmax(t.logits, 1)\n"
              "    s = torch.exp(lp) * torch.sum(torch.ones_like(lp), 1, keepdim=True)\n"
              "    print('FORWARD_OK', tuple(s.shape))\n")
    result = grade_quick(sandbox, ex2(before=attack))
    assert (result.status, result.score) == ("graded", 1.0), result.message
    assert "FORWARD_OK" in result.stdout


#: PyTorch's own backward decomposition, compiled again from its source file under another
#: file name: the "exec" audit check only protects code objects of loaded torch files, and
#: the neutered function's dead code does not matter to a fresh copy.
REEXEC = """
import re
import torch._decomp.decompositions as DD
PATH = os.path.join(os.path.dirname(torch.__file__), "_decomp", "decompositions.py")
def fresh(name):
    src = open(PATH).read()
    m = re.search(r"^def " + name + r"\\(.*?(?=^(?:@|def |class )\\S*)", src, re.S | re.M)
    ns = dict(vars(DD))
    exec(compile(m.group(0), "notes.py", "exec"), ns)
    return ns[name]
"""


@pytest.mark.xfail(strict=True, reason=(
    "residual risk (docs/security.md): torch/_decomp/decompositions.py read and the "
    "_log_softmax_backward_data def re-compiled under another file name is PyTorch's local "
    "derivative formula, copied — as a student could copy it from the web; no autograd"))
def test_decomposition_recompiled_from_source(sandbox) -> None:
    attack = ("    fn = fresh('_log_softmax_backward_data')\n"
              "    lp = F.log_softmax(t.logits, 1)\n"
              "    dlp = torch.zeros_like(lp)\n"
              "    dlp[range(t.n), t.Yb] = -1.0 / t.n\n"
              "    g = fn(dlp, lp, 1, lp.dtype)\n"
              "    print('DECOMP_OK')\n")
    src = ex2(header=HEADER + REEXEC, before=attack, ret="{'logits': g}")
    trusted, restarts = zygote_pids(sandbox), sandbox.restarts
    result = grade_quick(sandbox, src)
    assert sandbox.restarts == restarts
    assert_survives(sandbox, trusted)
    assert result.status in ("violation", "error") and result.score == 0, \
        (result.status, result.message, result.stdout[-200:])


def test_decomposition_module_executed_again_is_a_violation(sandbox) -> None:
    """Control for the test above: loading the same file as a module (its own file name) is
    caught as re-running a loaded torch module's code."""
    attack = ("    import importlib.util\n"
              "    path = os.path.join(os.path.dirname(torch.__file__), '_decomp', "
              "'decompositions.py')\n"
              "    spec = importlib.util.spec_from_file_location('mydecomp', path)\n"
              "    m = importlib.util.module_from_spec(spec)\n"
              "    spec.loader.exec_module(m)\n"
              "    print('DECOMP_OK')\n")
    trusted = zygote_pids(sandbox)
    result = grade_quick(sandbox, ex2(header=HEADER, before=attack))
    assert result.status == "violation" and result.score == 0, result.message
    assert "executed again" in result.message, result.message
    assert "DECOMP_OK" not in result.stdout
    assert_survives(sandbox, trusted)

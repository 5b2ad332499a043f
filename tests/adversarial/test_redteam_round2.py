"""Red team, round 2: getting a chain-ruled gradient out of PyTorch once every operator's
autograd kernel is excluded on the child's thread.

Building blocks every attack here reuses (all known from round 1):

- ``find("_EngineBase")()`` (``object.__subclasses__()``): the real engine. Run with
  ``create_graph=True`` on a leaf flagged through the raw ``TensorBase.requires_grad_``, its
  tensor hooks run with grad mode ON (``in_hook``).
- ``swap_sensor()``: anomaly mode's per-node callback is looked up in
  ``sys.modules["torch.fx.traceback"]``; a stand-in there silences the immediate report.
- ``serve_from_here()``: the harness takeover (documented residual). ``backward`` never
  returns and answers every case with the harness's own reader/socket/encoder, so the
  after-call check (graph-node counter, sensor module, returned tensors) never runs.

What is new in this round:

1. **Python dispatcher** (``BYPASS``). ``torch._C._EnablePythonDispatcher()`` routes every
   operator through ``OpOverload._get_dispatch``/``OpOverload._dispatch_cache`` (a plain,
   writable dict). When the cached handler is a ``DispatchKey``, C++ calls
   ``op.callBoxedForDispatchKey(key)`` — an operator called at a key of one's choosing,
   whatever the thread's excluded keys say. ``DispatchKey.Autograd`` there runs PyTorch's own
   autograd kernel (derivatives.yaml formulas), which records the graph node. Its redispatch
   below autograd comes back through the Python dispatcher; it is told apart from the outer
   call by a TLS-included key above autograd (``_functorch._set_dynamic_layer_keys_included``)
   and sent to the CPU kernel. Without the takeover it is caught (graph-node counter); with it,
   PyTorch's autograd computes d loss / d logits of ex2's cross-entropy and earns full marks.
2. **Custom ``autograd.Function`` nodes** (``BYPASS``). ``Function.apply`` records its node
   in C++ without the dispatcher, so excluding autograd's dispatch keys does not stop it.
   Wrapping ``_log_softmax``/``nll_loss_forward`` in Functions whose backward is PyTorch's own
   local kernel (``_log_softmax_backward_data``, ``nll_loss_backward``: residuals) lets the
   engine do the chain rule: no derivative is written by hand. Caught without the takeover,
   full marks with it.
3. Walls that held (``NO_NODE``/``ATTEMPT_FAILED`` markers, 0 points even with the takeover):
   TLS *included* keys, ``_IncludeDispatchKeyGuard``, ``_PreserveDispatchKeyGuard``,
   ``_ExcludeDispatchKeyGuard`` exit semantics, ``_RestorePythonTLSSnapshot``, functorch
   vmap/functionalize layers, ``_set_dynamic_layer_keys_included`` alone, a deserialized
   Grad interpreter (``CInterpreter.deserialize`` + ``CGradInterpreterPtr.lift``), the Python
   dispatcher left at its defaults, a ``__torch_dispatch__`` subclass (it does not even run:
   the Python key's dispatch imports torch.distributed, a stand-in), and a ``torch.library``
   op with a CompositeImplicitAutograd kernel.
4. Crashes: a ``_dispatch_cache`` entry pointing at a key with no kernel, or at ``Autograd``
   for both the call and its redispatch, segfaults the *child* (an ``error``); the zygote is
   untouched. The job directory cannot be removed or renamed from inside (Landlock).
"""

from __future__ import annotations

import pytest

from tests.adversarial.attack_helpers import assert_survives, grade_quick, zygote_pids
from tests.adversarial.snippets import FIND_CLASS, HARNESS_FRAME, SWAP_SENSOR, TAKEOVER

HEAD = """\
import os, sys, types
import torch
import torch.nn.functional as F
C = torch._C
DK = C.DispatchKey
aten = torch.ops.aten

""" + FIND_CLASS + """

""" + SWAP_SENSOR + """

def in_hook(fn):
    # run fn inside a tensor hook of the real engine run with create_graph=True: grad mode ON
    engine = find("_EngineBase")()
    box = {}
    leaf = torch.zeros(())
    C.TensorBase.requires_grad_(leaf, True)
    def hook(g):
        print("GRAD_MODE", torch.is_grad_enabled(), flush=True)
        try:
            box["r"] = fn(engine)
        except Exception as exc:
            print("ATTEMPT_FAILED", type(exc).__name__, str(exc)[:200], flush=True)
        return g
    leaf.register_hook(hook)
    engine.run_backward((leaf,), (torch.ones(()),), False, True, (leaf,), True, False)
    return box.get("r")

def attempt(t, build):
    # build(t, x) -> loss, with x a leaf that requires grad; returns {"logits": d loss/d x}
    # if a graph was recorded, zeros otherwise
    def fn(engine):
        x = t.logits.clone()
        C.TensorBase.requires_grad_(x, True)
        loss = build(t, x)
        if loss.grad_fn is None:
            print("NO_NODE", flush=True)
            return None
        print("NODE", type(loss.grad_fn).__name__, flush=True)
        (gx,) = engine.run_backward((loss,), (torch.ones(()),), False, False, (x,), True, False)
        return gx.detach().clone()
    g = in_hook(fn)
    if type(g) is not torch.Tensor:
        g = torch.zeros_like(t.logits)
    return {"logits": g}

""" + HARNESS_FRAME + TAKEOVER

#: ex2's loss from PyTorch's two differentiable primitives (what F.cross_entropy runs).
LOSS = """
def xent(lp_fn, nll_fn, t, x):
    return nll_fn(lp_fn(x), t)
"""

#: Attack 1: operators called at DispatchKey.Autograd through the Python dispatcher.
PYDISPATCH = """
def pd_build(t, x):
    for op in (aten._log_softmax.default, aten.nll_loss_forward.default):
        # the outer call (a TLS-included key above autograd): run the autograd kernel
        op._dispatch_cache[DK.FuncTorchDynamicLayerFrontMode] = DK.Autograd
        # its redispatch below autograd comes back here: the CPU kernel
        op._dispatch_cache[DK.FuncTorchDynamicLayerBackMode] = DK.CPU
    pd = C._EnablePythonDispatcher()
    C._functorch._set_dynamic_layer_keys_included(True)
    try:
        lp = aten._log_softmax.default(x, 1, False)
        return aten.nll_loss_forward.default(lp, t.Yb, None, 1, -100)[0]
    finally:
        C._functorch._set_dynamic_layer_keys_included(False)
        del pd

def pd_answer(t):
    return attempt(t, pd_build)
"""

#: Attack 2: custom Functions whose backward is PyTorch's local kernel; the engine chains them.
FUNCTIONS = """
class LogSoftmax(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        out = aten._log_softmax.default(x, 1, False)
        ctx.save_for_backward(out)
        return out
    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return aten._log_softmax_backward_data.default(g, out, 1, out.dtype)

class NLL(torch.autograd.Function):
    @staticmethod
    def forward(ctx, lp, target):
        out, total = aten.nll_loss_forward.default(lp, target, None, 1, -100)
        ctx.save_for_backward(lp, target, total)
        return out
    @staticmethod
    def backward(ctx, g):
        lp, target, total = ctx.saved_tensors
        return aten.nll_loss_backward.default(g, lp, target, None, 1, -100, total), None

def fn_build(t, x):
    return NLL.apply(LogSoftmax.apply(x), t.Yb)

def fn_answer(t):
    return attempt(t, fn_build)
"""


def _src(body: str, call: str, *, swap: bool = True, takeover: bool = True) -> str:
    lines = "    swap_sensor()\n" if swap else ""
    lines += f"    serve_from_here(t, {call})\n" if takeover else f"    return {call}(t)\n"
    return HEAD + LOSS + body + "\ndef backward(t):\n" + lines


def _grade(sandbox, src: str):
    trusted, restarts = zygote_pids(sandbox), sandbox.restarts
    result = grade_quick(sandbox, src)
    return result, trusted, restarts


def _survives(sandbox, trusted, restarts) -> None:
    assert sandbox.restarts == restarts, "the zygote was restarted"
    assert_survives(sandbox, trusted)
    assert sandbox.restarts == restarts


def _expect_caught(sandbox, src: str) -> None:
    result, trusted, restarts = _grade(sandbox, src)
    assert result.status == "violation", (result.status, result.message, result.stdout[-400:])
    assert result.score == 0 and all(t.points == 0 for t in result.tensors)
    _survives(sandbox, trusted, restarts)


def _expect_no_points(sandbox, src: str, *markers: str) -> None:
    """No autograd gradient earns points; with ``markers``, one of them must be printed (the
    attack ran, with grad mode on, and found the wall), so the 0 is the wall's doing."""
    result, trusted, restarts = _grade(sandbox, src)
    assert result.score == 0 and all(t.points == 0 for t in result.tensors), \
        (result.status, result.message, result.stdout[-600:])
    assert result.status in ("graded", "violation", "error"), result.status
    # Since round 2, the engine's own methods are dead ends (its type is patched in the
    # zygote): the hook that would run with grad mode on is never reached, so the attack
    # stops at the first wall, reported. The second wall (the excluded dispatch keys) is
    # tested under grad mode in tests/grader/test_kernel_walls.py.
    if result.status == "violation" and "autograd engine (_EngineBase" in result.message:
        _survives(sandbox, trusted, restarts)
        return
    if markers:
        assert "NODE " not in result.stdout, result.stdout[-600:]
        assert any(m in result.stdout for m in markers), (result.status, result.message,
                                                         result.stdout[-600:])
        if result.status == "graded":
            assert "GRAD_MODE True" in result.stdout, result.stdout[-600:]
    _survives(sandbox, trusted, restarts)


# ---------------------------------------------------------------------------------------------
# positive control: the takeover machinery answers for real (so a 0 below means the wall held)


def test_positive_control_takeover_with_a_correct_answer_is_graded(sandbox) -> None:
    body = ("\ndef honest(t):\n    d = F.softmax(t.logits, 1)\n"
            "    d[range(t.n), t.Yb] -= 1\n    return {'logits': d / t.n}\n")
    result, trusted, restarts = _grade(sandbox, _src(body, "honest"))
    assert (result.status, result.score) == ("graded", 1.0), result.message
    _survives(sandbox, trusted, restarts)


def test_positive_control_plain_ops_in_the_hook_record_nothing(sandbox) -> None:
    """Grad mode on (engine hook), sensor swapped, takeover: plain operators still record no
    node — the dispatch-key wall alone holds."""
    body = ("\ndef plain(t, x):\n    lp = torch.log_softmax(x, 1)\n"
            "    return F.nll_loss(lp, t.Yb)\n"
            "def plain_answer(t):\n    return attempt(t, plain)\n")
    _expect_no_points(sandbox, _src(body, "plain_answer"), "NO_NODE")


# ---------------------------------------------------------------------------------------------
# 1. the Python dispatcher: an operator called at DispatchKey.Autograd


@pytest.mark.parametrize("swap", [False, True], ids=["sensor-in-place", "sensor-swapped"])
def test_python_dispatcher_autograd_without_takeover_is_caught(sandbox, swap: bool) -> None:
    _expect_caught(sandbox, _src(PYDISPATCH, "pd_answer", swap=swap, takeover=False))


def test_python_dispatcher_autograd_by_taking_over_the_harness(sandbox) -> None:
    """Was a bypass (round 2): the Python dispatcher + OpOverload._dispatch_cache naming the
    Autograd key ran PyTorch's autograd kernels in an engine hook (grad mode on). Closed at
    the root: the engine's methods are dead, the Python dispatcher's keys are excluded and
    its switches dead."""
    result, trusted, restarts = _grade(sandbox, _src(PYDISPATCH, "pd_answer"))
    _survives(sandbox, trusted, restarts)
    assert result.score == 0, (result.status, result.message, result.stdout[-300:])


def test_python_dispatcher_left_at_its_defaults_records_nothing(sandbox) -> None:
    """Control: the Python dispatcher alone resolves to the CPU kernel (the excluded keys are
    honoured); only the forged cache entry is the door."""
    body = ("\ndef pd_plain(t, x):\n    pd = C._EnablePythonDispatcher()\n"
            "    lp = aten._log_softmax.default(x, 1, False)\n"
            "    return aten.nll_loss_forward.default(lp, t.Yb, None, 1, -100)[0]\n"
            "def answer(t):\n    return attempt(t, pd_plain)\n")
    _expect_no_points(sandbox, _src(body, "answer"), "NO_NODE")


#: The cache entry at the only key present: the autograd kernel's redispatch finds the same
#: entry and recurses until the stack overflows; a key with no kernel calls a null kernel.
CRASHES = {
    "autograd-both-ways": "    op._dispatch_cache[DK.CPU] = DK.Autograd\n",
    "key-without-kernel": "    op._dispatch_cache[DK.CPU] = DK.AutogradCPU\n",
}


@pytest.mark.parametrize("name", list(CRASHES))
def test_python_dispatcher_crashes_only_the_child(sandbox, name: str) -> None:
    body = ("\ndef crash(t, x):\n    op = aten.mul.Tensor\n" + CRASHES[name]
            + "    pd = C._EnablePythonDispatcher()\n    y = op(x, x)\n"
            "    return y.sum()\n"
            "def answer(t):\n    return attempt(t, crash)\n")
    result, trusted, restarts = _grade(sandbox, _src(body, "answer"))
    assert result.score == 0 and result.status in ("error", "violation"), \
        (result.status, result.message)
    _survives(sandbox, trusted, restarts)


# ---------------------------------------------------------------------------------------------
# 2. custom autograd.Function nodes, chained by the engine


def test_custom_function_chain_without_takeover_is_caught(sandbox) -> None:
    _expect_caught(sandbox, _src(FUNCTIONS, "fn_answer", takeover=False))


def test_custom_function_chain_by_taking_over_the_harness(sandbox) -> None:
    """Was a bypass (round 2): custom Functions around PyTorch's local kernels, chained by
    the engine in one of its hooks (grad mode on). Closed at the root: the engine's own
    methods are dead ends, so no hook ever runs and grad mode is on nowhere."""
    result, trusted, restarts = _grade(sandbox, _src(FUNCTIONS, "fn_answer"))
    _survives(sandbox, trusted, restarts)
    assert result.score == 0, (result.status, result.message, result.stdout[-300:])


# ---------------------------------------------------------------------------------------------
# 3. walls that held: each attempt runs with grad mode on, the sensor swapped, the harness
#    taken over (the check never runs), and still records no node


BUILD = {
    "tls-included-autograd-keys": """
    for k in (DK.AutogradCPU, DK.AutogradFunctionality, DK.AutogradOther):
        C._dispatch_tls_set_dispatch_key_included(k, True)
    return F.cross_entropy(x, t.Yb)
""",
    "include-guard": """
    with C._IncludeDispatchKeyGuard(DK.AutogradCPU):
        return F.cross_entropy(x, t.Yb)
""",
    "preserve-guard": """
    with C._PreserveDispatchKeyGuard():
        return F.cross_entropy(x, t.Yb)
""",
    "exclude-guard-exit": """
    # the guard removes on exit only the keys it added itself, never the inherited ones
    g = C._ExcludeDispatchKeyGuard(C.DispatchKeySet(DK.AutogradCPU))
    g.__enter__()
    g.__exit__(None, None, None)
    del g
    return F.cross_entropy(x, t.Yb)
""",
    "restore-python-tls-snapshot": """
    snap = C._RestorePythonTLSSnapshot()
    loss = F.cross_entropy(x, t.Yb)
    del snap
    return loss
""",
    "vmap-layer": """
    C._functorch._vmap_increment_nesting(1, "error")
    try:
        return F.cross_entropy(x, t.Yb)
    finally:
        C._functorch._vmap_decrement_nesting()
""",
    "functionalize-layer": """
    C._functorch._func_increment_nesting(True)
    try:
        return F.cross_entropy(x, t.Yb)
    finally:
        C._functorch._func_decrement_nesting()
""",
    "dynamic-layer-keys-alone": """
    C._functorch._set_dynamic_layer_keys_included(True)
    try:
        return F.cross_entropy(x, t.Yb)
    finally:
        C._functorch._set_dynamic_layer_keys_included(False)
""",
    "deserialized-grad-interpreter": """
    ci = C._functorch.CInterpreter.deserialize(
        '{"is_alive":true,"level":1,"meta":{"Grad":{"prevGradMode":true,'
        '"prevInferenceMode":false}},"savedLocalDispatchKeySet":null,"type":2}')
    w = C._functorch.CGradInterpreterPtr(ci).lift(x)
    return F.cross_entropy(w, t.Yb)
""",
    "torch-dispatch-subclass": """
    class Sub(torch.Tensor):
        @staticmethod
        def __new__(cls, elem):
            s = torch.Tensor._make_wrapper_subclass(cls, elem.shape, dtype=elem.dtype)
            s.elem = elem
            return s
        @classmethod
        def __torch_dispatch__(cls, func, types, args=(), kwargs=None):
            un = lambda a: a.elem if type(a) is Sub else a
            return func(*map(un, args), **{k: un(v) for k, v in (kwargs or {}).items()})
    return F.cross_entropy(Sub(x), t.Yb)
""",
    "library-composite-implicit-op": """
    lib = torch.library.Library("rt2", "FRAGMENT")
    lib.define("xent(Tensor x, Tensor y) -> Tensor")
    lib.impl("xent", lambda a, b: F.cross_entropy(a, b), "CompositeImplicitAutograd")
    return torch.ops.rt2.xent(x, t.Yb)
""",
}


@pytest.mark.parametrize("name", list(BUILD))
def test_wall_holds_even_with_the_harness_taken_over(sandbox, name: str) -> None:
    body = "\ndef build(t, x):" + BUILD[name] + "def answer(t):\n    return attempt(t, build)\n"
    _expect_no_points(sandbox, _src(body, "answer"), "NO_NODE", "ATTEMPT_FAILED")


# ---------------------------------------------------------------------------------------------
# 4. the job directory itself


def test_the_job_directory_cannot_be_removed_or_moved(sandbox) -> None:
    """remove_tree() failing on a missing job directory would stop the zygote (restart)."""
    src = ("import os\nimport torch.nn.functional as F\n"
           "def backward(t):\n"
           "    cwd = os.getcwd()\n"
           "    for fn in (lambda: os.rmdir(cwd), lambda: os.rename(cwd, cwd + '-x'),\n"
           "               lambda: os.unlink(cwd), lambda: os.replace(cwd, '/tmp/rt2')):\n"
           "        try:\n"
           "            fn()\n"
           "            print('MOVED', flush=True)\n"
           "        except OSError as exc:\n"
           "            print('REFUSED', exc.errno, flush=True)\n"
           "    d = F.softmax(t.logits, 1)\n"
           "    d[range(t.n), t.Yb] -= 1\n"
           "    return {'logits': d / t.n}\n")
    result, trusted, restarts = _grade(sandbox, src)
    assert "MOVED" not in result.stdout, result.stdout[-300:]
    assert "REFUSED" in result.stdout
    assert (result.status, result.score) == ("graded", 1.0), result.message
    _survives(sandbox, trusted, restarts)

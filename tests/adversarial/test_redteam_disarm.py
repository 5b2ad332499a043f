"""Red team: disarm the after-call check, then hand back what it exists to catch.

Every attack first tries to switch off the harness's after-call check (the ``check`` held in
a local of ``child.serve``) or the guard module it was built from, then returns a gradient
computed by hand but marked with the raw C method ``torch._C.TensorBase.requires_grad_`` (no
guard can replace it). The returned-tensor check must still see it: status ``violation``,
score 0. The positive control returns the same tensor without any disarming.

Earlier bypasses, fixed since and kept here as regression tests: moving the result channel
off fd 3 (``socket.socket.__init__`` on the harness's socket, or rebinding the harness's
``_send_reply``) so that reports went nowhere, ``builtins.isinstance``/``len`` replaced
under the harness and the report, and engine hooks run with ``create_graph=True`` (grad mode
on) to build a graph.

Still open (``xfail(strict=True)``, ``BYPASS`` in the reason): *taking over the harness*.
``backward`` never returns: it answers the current case and every later one itself, with the
harness's own reader, socket, ``encode_return`` and ``_send_reply`` (from the harness frame's
``f_locals``), so the after-call check never runs. With the sensor module swapped (only that
check notices), grad mode from an engine hook (``create_graph=True``) and each operator called
through ``OpOverload.redispatch`` with an explicit ``AutogradCPU`` key set (which ignores the
thread's excluded dispatch keys), real autograd gradients earn full marks.
"""

from __future__ import annotations

import pytest

from tests.adversarial.attack_helpers import assert_survives, grade_quick, zygote_pids
from tests.adversarial.snippets import FIND_CLASS, HARNESS_FRAME, SWAP_SENSOR, TAKEOVER

HEAD = "import os, sys, socket, types, builtins, functools\nimport torch\n" \
       "import torch.nn.functional as F\n"

#: A correct dlogits, marked as requiring grad through the raw C method.
MARKED = """\
    d = F.softmax(t.logits, 1)
    d[range(t.n), t.Yb] -= 1
    d = d / t.n
    torch._C.TensorBase.requires_grad_(d, True)
    print("MARKED", d.requires_grad)
    return {"logits": d}
"""

#: Walks from backward's frame to the harness's frame (the one holding `check`).


def _src(prelude: str, header: str = "") -> str:
    return HEAD + HARNESS_FRAME + header + "\ndef backward(t):\n" + prelude + MARKED


def _expect_violation(sandbox, src: str, *words: str) -> None:
    trusted, restarts = zygote_pids(sandbox), sandbox.restarts
    result = grade_quick(sandbox, src)
    assert result.status == "violation", (result.status, result.message, result.stdout[-500:])
    assert result.score == 0 and all(t.points == 0 for t in result.tensors)
    low = result.message.lower()
    for word in words:
        assert word.lower() in low, result.message
    assert sandbox.restarts == restarts
    assert_survives(sandbox, trusted)
    assert sandbox.restarts == restarts


def test_positive_control_marked_tensor_is_caught(sandbox) -> None:
    """Without any disarming, the returned tensor that requires grad is a violation."""
    _expect_violation(sandbox, _src(""), "requires grad")


def test_positive_control_unmarked_answer_is_graded(sandbox) -> None:
    """The same answer without the mark earns full marks (so the checks above mean it)."""
    src = _src("").replace("    torch._C.TensorBase.requires_grad_(d, True)\n", "")
    result = grade_quick(sandbox, src)
    assert (result.status, result.score) == ("graded", 1.0), result.message


#: Attacks on the check itself or on what it was built from. (prelude, header, words)
DISARM = {
    "partial-setstate": (
        "    c = harness_frame().f_locals['check']\n"
        "    try:\n"
        "        functools.partial.__setstate__(c, (print, (), {}, None))\n"
        "    except TypeError as e:\n"
        "        print('setstate refused', e)\n", "", ["requires grad"]),
    "code-rewrite": (
        "    c = harness_frame().f_locals['check']\n"
        "    c.__code__ = (lambda *a, **k: []).__code__\n", "", ["tampered", "__code__"]),
    "code-replace-consts": (
        "    c = harness_frame().f_locals['check']\n"
        "    consts = tuple(None for _ in c.__code__.co_consts)\n"
        "    c.__code__ = c.__code__.replace(co_consts=consts)\n",
        "", ["tampered", "__code__"]),
    "defaults-rewrite": (
        "    c = harness_frame().f_locals['check']\n"
        "    c.__defaults__ = tuple(print for _ in c.__defaults__)\n", "",
        ["tampered", "__defaults__"]),
    "kwdefaults-rewrite": (
        "    c = harness_frame().f_locals['check']\n"
        "    c.__kwdefaults__ = {'_check_tensor': lambda *a: None}\n", "",
        ["tampered", "__kwdefaults__"]),
    "module-then-code": (
        "    c = harness_frame().f_locals['check']\n"
        "    c.__module__ = 'submission'\n"
        "    c.__qualname__ = 'mine'\n"
        "    c.__code__ = (lambda *a, **k: []).__code__\n", "", ["tampered", "__code__"]),
    "module-then-defaults-of-deliver": (
        "    from grader.sandbox import guard\n"
        "    guard._deliver.__module__ = '__main__'\n"
        "    guard._deliver.__defaults__ = (lambda *a: 0,) * len(guard._deliver.__defaults__)\n",
        "", ["tampered", "__defaults__"]),
    "check-tensor-code": (
        "    from grader.sandbox import guard\n"
        "    guard._check_tensor.__code__ = (lambda *a, **k: None).__code__\n", "",
        ["tampered", "__code__"]),
    "rebind-guard-globals": (
        "    from grader.sandbox import guard\n"
        "    guard._check_tensor = lambda *a, **k: None\n"
        "    guard._deliver = lambda *a, **k: None\n"
        "    guard.problems = lambda *a, **k: []\n"
        "    guard._STATE['installed'] = False\n"
        "    guard._STATE['reported'] = True\n"
        "    guard._VIOLATIONS.clear()\n"
        "    guard._INSTALLED.clear()\n", "", ["requires grad"]),
    "rebind-child-globals": (
        "    import grader.sandbox.child as ch\n"
        "    ch._check_tensor = lambda *a, **k: None\n"
        "    ch.guard = types.SimpleNamespace(problems=lambda *a: [])\n"
        "    ch._TensorBase = type('X', (), {})\n"
        "    ch._deliver = ch._STATE = ch._VIOLATIONS = None\n", "", ["requires grad"]),
    "sys-modules-swap": (
        "    fake = types.ModuleType('grader.sandbox.guard')\n"
        "    fake.problems = lambda *a, **k: []\n"
        "    fake.install = lambda: (lambda *a, **k: [])\n"
        "    sys.modules['grader.sandbox.guard'] = fake\n"
        "    sys.modules['grader.sandbox.seccomp'] = fake\n", "", ["requires grad"]),
    "replace-builtins": (
        "    builtins.type = lambda *a: dict\n"
        "    builtins.getattr = lambda *a: None\n"
        "    builtins.str = lambda *a: ''\n"
        "    builtins.issubclass = lambda *a: False\n", "", ["requires grad"]),
    "mutate-default-containers": (
        "    c = harness_frame().f_locals['check']\n"
        "    for v in c.__defaults__:\n"
        "        if type(v) is list:\n"
        "            v.clear()\n"
        "        if type(v) is dict and v is not sys.modules:\n"
        "            v.clear()\n", "", ["requires grad"]),
    "frame-locals-write": (
        "    f = harness_frame()\n"
        "    f.f_locals['check'] = lambda *a, **k: []\n"
        "    f.f_locals['guard'] = None\n", "", ["requires grad"]),
}


@pytest.mark.parametrize("name", list(DISARM))
def test_disarm_then_return_marked_tensor(sandbox, name: str) -> None:
    prelude, header, words = DISARM[name]
    _expect_violation(sandbox, _src(prelude, header), *words)


#: A dict subclass whose items() hides the marked tensor that its storage holds.
LYING_DICT = """
class Lying(dict):
    def items(self):
        return [("logits", torch.zeros(1))]
    def keys(self):
        return ["logits"]
    def __iter__(self):
        return iter(["logits"])
    def values(self):
        return [torch.zeros(1)]
"""

#: A tensor subclass that denies needing grad, through __torch_function__ and properties.
LYING_TENSOR = """
class Liar(torch.Tensor):
    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        name = getattr(func, "__name__", "")
        if name in ("requires_grad", "grad_fn", "__get__"):
            return None if name == "grad_fn" else False
        return super().__torch_function__(func, types, args, kwargs or {})
    @property
    def requires_grad(self):
        return False
    @property
    def grad_fn(self):
        return None
"""


#: guard._violation_frame sizes the frame with the *global* builtin len: replaced, every
#: report goes out with a length prefix of 0 and the parent sees a broken channel instead.
REPLACE_LEN = "    builtins.len = lambda *a: 0\n"


def test_replace_len_still_earns_nothing(sandbox) -> None:
    trusted, restarts = zygote_pids(sandbox), sandbox.restarts
    result = grade_quick(sandbox, _src(REPLACE_LEN))
    assert result.score == 0 and result.status in ("violation", "error"), result.message
    assert sandbox.restarts == restarts
    assert_survives(sandbox, trusted)


def test_replace_len_is_reported_as_violation(sandbox) -> None:
    _expect_violation(sandbox, _src(REPLACE_LEN), "requires grad")


def test_dict_subclass_hiding_items(sandbox) -> None:
    src = HEAD + LYING_DICT + "\ndef backward(t):\n" + MARKED.replace(
        'return {"logits": d}', 'return Lying(logits=d)')
    _expect_violation(sandbox, src, "requires grad")


def test_tensor_subclass_that_lies(sandbox) -> None:
    # marked after as_subclass: with autograd's dispatch keys excluded, an alias made from a
    # marked tensor does not inherit the mark, so the subclass itself must carry it
    src = HEAD + LYING_TENSOR + "\ndef backward(t):\n" + MARKED.replace(
        'return {"logits": d}',
        'x = d.as_subclass(Liar)\n    torch._C.TensorBase.requires_grad_(x, True)\n'
        '    return {"logits": x}')
    _expect_violation(sandbox, src, "requires")  # the mark itself, or the returned flag


#: Move the harness's result channel off fd 3 and leave /dev/null there: guard._deliver
#: then finds no socket on fd 3 and returns without reporting, while the harness replies
#: through the duplicate.
SILENCE_SOCKET_INIT = """
def silence():
    f = harness_frame()
    sock = f.f_locals["sock"]
    if sock.fileno() == 3:
        socket.socket.__init__(sock, fileno=os.dup(3))
        nul = os.open("/dev/null", os.O_RDONLY)
        os.dup2(nul, 3)
        os.close(nul)
"""

#: The same, without socket.__init__: rebind the harness's module global _send_reply and
#: its Reader's socket attribute.
SILENCE_REBIND = """
import grader.sandbox.child as harness_module
SILENCED = []
def silence():
    if SILENCED:
        return
    f = harness_frame()
    new = socket.socket(fileno=os.dup(3))
    SILENCED.append(new)
    f.f_locals["reader"].sock = new
    send = harness_module._send_reply
    harness_module._send_reply = lambda s, h, p=(): send(new, h, p)
    nul = os.open("/dev/null", os.O_RDONLY)
    os.dup2(nul, 3)
    os.close(nul)
"""


def test_silence_by_moving_the_socket(sandbox) -> None:
    _expect_violation(sandbox, _src("    silence()\n", SILENCE_SOCKET_INIT), "requires grad")


def test_silence_by_rebinding_the_harness(sandbox) -> None:
    _expect_violation(sandbox, _src("    silence()\n", SILENCE_REBIND), "requires grad")


#: snapshot() asks the builtin isinstance whether the value is a dict; answering "no" once
#: keeps the dict subclass, whose items the check then never reads (it is no plain dict),
#: while encode_return (answered "yes") takes the marked tensor from __getitem__.
ISINSTANCE = """
REAL_ISINSTANCE = builtins.isinstance
HELD = []
class Lying(dict):
    def __getitem__(self, key):
        return HELD[0]
    def __contains__(self, key):
        return True
def arm():
    calls = [0]
    def fake(obj, cls):
        if type(obj) is Lying and cls is dict:
            calls[0] += 1
            return calls[0] != 1
        return REAL_ISINSTANCE(obj, cls)
    builtins.isinstance = fake
"""


def test_isinstance_keeps_a_dict_subclass(sandbox) -> None:
    """The marked tensor must not cross unseen: either the check sees it (violation) or the
    harness reads the dict's real storage (no 'logits' there: 0 points)."""
    src = HEAD + ISINSTANCE + "\ndef backward(t):\n" + MARKED.replace(
        'return {"logits": d}', 'HELD[:] = [d]\n    arm()\n    return Lying(x=1)')
    trusted, restarts = zygote_pids(sandbox), sandbox.restarts
    result = grade_quick(sandbox, src)
    assert result.score == 0, (result.status, result.message)
    assert result.status in ("violation", "graded"), result.message
    assert sandbox.restarts == restarts
    assert_survives(sandbox, trusted)


#: The full escalation: with the reports silenced, swap the sensor module (only the
#: after-call check notices), then run the real engine (found through __subclasses__) with
#: create_graph=True on a leaf: its hooks run with grad mode ON, where an ordinary autograd
#: graph is built and differentiated.
AUTOGRAD = """
""" + FIND_CLASS + """

""" + SWAP_SENSOR + """

def autograd_grad(t):
    engine = find("_EngineBase")()
    box = {}
    leaf = torch.zeros(())
    torch._C.TensorBase.requires_grad_(leaf, True)
    def hook(g):
        box["grad_mode"] = torch.is_grad_enabled()
        x = t.logits.clone()
        torch._C.TensorBase.requires_grad_(x, True)
        loss = F.cross_entropy(x, t.Yb)
        (gx,) = engine.run_backward((loss,), (torch.ones(()),), False, False, (x,), True, False)
        box["g"] = gx.detach().clone()
        return g
    leaf.register_hook(hook)
    engine.run_backward((leaf,), (torch.ones(()),), False, True, (leaf,), True, False)
    print("AUTOGRAD_OK grad_mode_in_hook=%s" % box.get("grad_mode"), flush=True)
    return box["g"]
"""


def _autograd_src(prelude: str, silencer: str = "") -> str:
    return (HEAD + HARNESS_FRAME + silencer + AUTOGRAD + "\ndef backward(t):\n" + prelude
            + "    return {'logits': autograd_grad(t)}\n")


def _expect_no_autograd_points(sandbox, src: str) -> None:
    trusted, restarts = zygote_pids(sandbox), sandbox.restarts
    result = grade_quick(sandbox, src)
    assert result.status == "violation", (result.status, result.message, result.stdout[-300:])
    assert result.score == 0
    assert sandbox.restarts == restarts
    assert_survives(sandbox, trusted)


def test_engine_hook_grad_mode_without_silencing_is_caught(sandbox) -> None:
    """Control: the sensor-swap + engine-hook route alone is reported after the call."""
    _expect_no_autograd_points(sandbox, _autograd_src("    swap_sensor()\n"))


def test_engine_hook_grad_mode_without_swap_is_caught(sandbox) -> None:
    """Control: with the sensor in place the graph cannot even be built."""
    _expect_no_autograd_points(sandbox, _autograd_src(""))


def test_autograd_gradient_after_silencing(sandbox) -> None:
    src = _autograd_src("    silence()\n    swap_sensor()\n", SILENCE_SOCKET_INIT)
    _expect_no_autograd_points(sandbox, src)



#: The marked answer of MARKED, as a function for serve_from_here.
MARKED_ANSWER = """
def marked(t):
    d = F.softmax(t.logits, 1)
    d[range(t.n), t.Yb] -= 1
    d = d / t.n
    torch._C.TensorBase.requires_grad_(d, True)
    print("MARKED", d.requires_grad, flush=True)
    return {"logits": d}
"""

#: Operators through OpOverload.redispatch with the tensor's own keys (AutogradCPU among
#: them): the autograd kernel runs whatever keys the thread excludes.
REDISPATCH = """
aten = torch.ops.aten

def keys(x):
    C = torch._C
    return C._dispatch_keys(x).remove(C.DispatchKey.AutocastCPU).remove(
        C.DispatchKey.ADInplaceOrView)

def redispatch_autograd(t):
    engine = find("_EngineBase")()
    box = {}
    leaf = torch.zeros(())
    torch._C.TensorBase.requires_grad_(leaf, True)
    def hook(g):
        x = t.logits.clone()
        torch._C.TensorBase.requires_grad_(x, True)
        lp = aten._log_softmax.default.redispatch(keys(x), x, 1, False)
        onehot = torch.zeros_like(t.logits)
        onehot[range(t.n), t.Yb] = 1.0
        prod = aten.mul.Tensor.redispatch(keys(lp), lp, onehot)
        s = aten.sum.default.redispatch(keys(prod), prod)
        loss = aten.div.Scalar.redispatch(keys(s), s, -float(t.n))
        (gx,) = engine.run_backward((loss,), (torch.ones(()),), False, False, (x,), True, False)
        box["g"] = gx.detach().clone()
        return g
    leaf.register_hook(hook)
    engine.run_backward((leaf,), (torch.ones(()),), False, True, (leaf,), True, False)
    print("AUTOGRAD_OK", flush=True)
    return {"logits": box["g"]}
"""


@pytest.mark.xfail(strict=True, reason=(
    "residual risk (docs/security.md): a submission that never returns and answers every "
    "case itself (the harness's reader/sock from f_locals) skips the after-call check, so a "
    "tensor flagged requires_grad by hand is not reported; it gains nothing by it, as no "
    "autograd route is open (test_autograd_gradient_by_taking_over_the_harness)"))
def test_takeover_skips_the_check(sandbox) -> None:
    src = (HEAD + HARNESS_FRAME + TAKEOVER + MARKED_ANSWER
           + "\ndef backward(t):\n    serve_from_here(t, marked)\n")
    _expect_violation(sandbox, src, "requires grad")


def test_redispatch_autograd_without_takeover_is_caught(sandbox) -> None:
    """Control: the same redispatch route, returning normally, is reported by the check."""
    src = (HEAD + HARNESS_FRAME + AUTOGRAD + REDISPATCH
           + "\ndef backward(t):\n    swap_sensor()\n    return redispatch_autograd(t)\n")
    _expect_no_autograd_points(sandbox, src)


def test_autograd_gradient_by_taking_over_the_harness(sandbox) -> None:
    """Was a bypass: harness takeover (the check never runs) + sensor module swapped in
    sys.modules + grad mode from a hook of _EngineBase().run_backward(create_graph=True) +
    every op through OpOverload.redispatch(tensor keys incl. AutogradCPU). Closed at the
    root: redispatching to a chosen key is a dead end, so no operator records a node."""
    src = (HEAD + HARNESS_FRAME + TAKEOVER + AUTOGRAD + REDISPATCH
           + "\ndef backward(t):\n    swap_sensor()\n"
           "    serve_from_here(t, redispatch_autograd)\n")
    _expect_no_autograd_points(sandbox, src)

"""The guards keep no reference to what they replaced: after install() the real grad-mode
setters, engine object, functorch layers, JIT entry points… are referenced by nothing a
submission could walk to (module namespaces, containers, closures, defaults). The only holder of
the real torch.ops resolvers is an audit hook, which the interpreter keeps out of reach.

Runs in a subprocess (install() is for good) with sys.addaudithook replaced by a list, so that
gc.get_referrers — refused in the sandbox — can be used to look.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = r"""
import gc, json, sys, types
import torch
from grader.sandbox import guard

plan = guard._PLAN
hidden = {}
for key, (owner, _) in plan.dead.items():
    name = key.rsplit(".", 1)[1]
    orig = owner.__dict__.get(name) if isinstance(owner, type) else getattr(owner, name, None)
    # classes stay reachable through __subclasses__() by design; static methods of
    # torch._C._VariableFunctionsClass (torch._make_dual, backward kernels) are public
    if orig is None or isinstance(orig, type) \
            or getattr(torch._C._VariableFunctions, name, None) is orig:
        continue
    hidden[key] = orig
engine = torch.autograd.variable.Variable._execution_engine
resolvers = {n: getattr(torch._C, n) for n in plan.resolvers}
hooks = []
sys.addaudithook = hooks.append
guard.install()
del orig, owner, name
mine = {id(hidden), id(resolvers), id(sys._getframe().f_locals)}
leaks = {}
for key, orig in [*hidden.items(), ("engine", engine)]:
    refs = [r for r in gc.get_referrers(orig)
            if not isinstance(r, types.FrameType) and id(r) not in mine and r is not hidden]
    refs = [r for r in refs if not (type(r) is tuple and len(r) == 2 and r[1] is orig)]
    if refs:
        leaks[key] = [type(r).__name__ for r in refs]
# the real torch.ops resolvers: in no module namespace or module-level container any more, and
# not in the guards' closures (the audit hook holding them is referenced by the interpreter only)
found = guard._scan({id(o): (o, None) for o in resolvers.values()},
                   [m for n, m in sys.modules.items() if n not in ("__main__", "__mp_main__")])
cells = [c.cell_contents for n in resolvers for c in getattr(torch._C, n).__closure__ or ()]
vault_ok = [not found, not any(c is o for c in cells for o in resolvers.values()),
            all(getattr(torch._C, n) is not o for n, o in resolvers.items())]
print(json.dumps({"checked": len(hidden), "leaks": leaks, "vault_ok": vault_ok,
                  "hooks": len(hooks)}))
"""


def test_originals_are_unreachable() -> None:
    out = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True,
                         text=True, timeout=300, check=True).stdout
    report = __import__("json").loads(out.strip().splitlines()[-1])
    assert report["checked"] > 50, report
    assert report["leaks"] == {}, report["leaks"]
    assert report["vault_ok"] == [True, True, True], report
    assert report["hooks"] == 2


POLICY_SCRIPT = r"""
import json, sys, types
import torch
from grader.sandbox import guard

guard.install()            # no job socket here: a tripped guard records and raises
vg = guard._STATE["vault_globals"]
out = {}
fn = types.FunctionType((lambda: sys._getframe()).__code__, vg)
try:
    fn.__code__
    out["function"] = "read"
except PermissionError:
    out["function"] = "refused"
try:
    frame = types.FunctionType((lambda get: get()).__code__, vg)(sys._getframe)
    frame.f_code
    out["frame"] = "read"
except PermissionError:
    out["frame"] = "refused"
except Exception as exc:
    out["frame"] = repr(exc)
out["recorded"] = guard._VIOLATIONS
print(json.dumps(out))
"""


def test_the_vaults_code_cannot_be_read() -> None:
    """The policy hook refuses (and reports) reading the code of any frame or function that
    runs with the vault's globals: the real torch.ops resolvers are in that code's constants."""
    out = subprocess.run([sys.executable, "-c", POLICY_SCRIPT], cwd=ROOT, capture_output=True,
                         text=True, timeout=300, check=True).stdout
    report = __import__("json").loads(out.strip().splitlines()[-1])
    assert report["function"] == "refused", report
    assert report["frame"] == "refused", report
    assert len(report["recorded"]) == 2, report
    assert all("reading the code of the torch.ops vault" in r for r in report["recorded"])

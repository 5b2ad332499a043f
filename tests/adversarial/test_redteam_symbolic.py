"""Red team: symbolic differentiation (sympy / mpmath) and finite differences.

sympy and mpmath must be unreachable: importing them (plainly, by importlib, ``__import__``,
through torch's own users of sympy, from their files with ``spec_from_file_location``) and
reading their files (``open``, ``io.open_code``, ``os.open``, relative to a directory fd,
through ``/proc/self/root``, paths with ``..``, ``//`` and ``.``, after ``chdir``) is a
violation, score 0.

Finite differences are only forward passes and cannot be refused: a finite-difference ex2 is
graded (it may well pass) but carries the ``possibly_numerical`` review flag; honest answers
(the correct ex2 and every correct corpus file) carry none.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from grader import get_exercise, grade
from tests.adversarial.attack_helpers import (
    CORRECT_EX2,
    assert_survives,
    ex2,
    grade_quick,
    zygote_pids,
)
from tests.corpus_files import parse

HEADER = ("import os, sys, io, importlib, importlib.util\n"
          "SP = os.path.dirname(os.path.dirname(torch.__file__))  # site-packages\n")

#: name: attack. Each must not catch its own failure; the words every message must hold.
ATTACKS = {
    "import-sympy": "    import sympy\n    print('SYMBOLIC_OK')\n",
    "import-mpmath": "    import mpmath\n    print('SYMBOLIC_OK')\n",
    "from-sympy-import-diff": "    from sympy import diff, symbols\n    print('SYMBOLIC_OK')\n",
    "importlib-built-name": "    importlib.import_module('sym' + 'py')\n    print('SYMBOLIC_OK')\n",
    "importlib-submodule": "    importlib.import_module('mpmath.calculus')\n"
                           "    print('SYMBOLIC_OK')\n",
    "dunder-import": "    __import__(''.join(['s', 'y', 'm', 'p', 'y']) + '.core')\n"
                     "    print('SYMBOLIC_OK')\n",
    "builtins-dict-import": "    b = __builtins__\n"
                            "    imp = b['__import__'] if isinstance(b, dict) else b.__import__\n"
                            "    imp('sympy')\n    print('SYMBOLIC_OK')\n",
    "spec-from-file-location": (
        "    spec = importlib.util.spec_from_file_location('notsym', SP + '/sympy/__init__.py',\n"
        "        submodule_search_locations=[SP + '/sympy'])\n"
        "    m = importlib.util.module_from_spec(spec)\n"
        "    sys.modules['notsym'] = m\n"
        "    spec.loader.exec_module(m)\n    print('SYMBOLIC_OK')\n"),
    "source-file-loader": (
        "    from importlib.machinery import SourceFileLoader\n"
        "    SourceFileLoader('mp', SP + '/mpmath/__init__.py').load_module()\n"
        "    print('SYMBOLIC_OK')\n"),
    "sys-path-alias": (
        "    sys.path.insert(0, SP + '/sympy/..')\n"
        "    importlib.invalidate_caches()\n"
        "    import sympy as s\n    print('SYMBOLIC_OK')\n"),
    "open-read": "    open(SP + '/mpmath/__init__.py').read()\n    print('SYMBOLIC_OK')\n",
    "open-read-binary": "    open(SP + '/sympy/core/function.py', 'rb').read()\n"
                        "    print('SYMBOLIC_OK')\n",
    "io-open-code": "    io.open_code(SP + '/sympy/__init__.py').read()\n"
                    "    print('SYMBOLIC_OK')\n",
    "os-open": "    fd = os.open(SP + '/sympy/__init__.py', os.O_RDONLY)\n"
               "    os.read(fd, 100)\n    print('SYMBOLIC_OK')\n",
    "open-and-exec": "    text = open(SP + '/sympy/core/function.py').read()\n"
                     "    exec(compile(text, 'x.py', 'exec'), {})\n"
                     "    print('SYMBOLIC_OK')\n",
    "dir-fd-chain": (
        "    d = os.open(SP, os.O_RDONLY | os.O_DIRECTORY)\n"
        "    s = os.open('sympy', os.O_RDONLY | os.O_DIRECTORY, dir_fd=d)\n"
        "    fd = os.open('__init__.py', os.O_RDONLY, dir_fd=s)\n"
        "    os.read(fd, 100)\n    print('SYMBOLIC_OK')\n"),
    "dir-fd-dotdot": (
        "    d = os.open(SP + '/torch', os.O_RDONLY | os.O_DIRECTORY)\n"
        "    fd = os.open('../mpmath/__init__.py', os.O_RDONLY, dir_fd=d)\n"
        "    os.read(fd, 100)\n    print('SYMBOLIC_OK')\n"),
    "proc-self-root": "    open('/proc/self/root' + SP + '/sympy/__init__.py').read()\n"
                      "    print('SYMBOLIC_OK')\n",
    "proc-self-cwd": "    os.chdir(SP)\n    open('/proc/self/cwd/mpmath/__init__.py').read()\n"
                     "    print('SYMBOLIC_OK')\n",
    "dotdot-path": "    open(SP + '/torch/../sym' + 'py/core/../__init__.py').read()\n"
                   "    print('SYMBOLIC_OK')\n",
    "double-slash-dot": "    open('//' + SP.lstrip('/') + '/./mpmath///__init__.py', 'rb').read()\n"
                        "    print('SYMBOLIC_OK')\n",
    "chdir-relative": "    os.chdir(SP + '/sympy')\n    open('__init__.py').read()\n"
                      "    print('SYMBOLIC_OK')\n",
    "bytes-path": "    open((SP + '/sympy/__init__.py').encode(), 'rb').read()\n"
                  "    print('SYMBOLIC_OK')\n",
    "pathlib": "    import pathlib\n    pathlib.Path(SP, 'mpmath', '__init__.py').read_text()\n"
               "    print('SYMBOLIC_OK')\n",
    "torch-utils-sympy": "    import torch.utils._sympy.functions\n    print('SYMBOLIC_OK')\n",
    "torch-symbolic-shapes": "    from torch.fx.experimental import symbolic_shapes\n"
                             "    print('SYMBOLIC_OK')\n",
    "torch-sympy-via-importlib": "    importlib.import_module('torch.utils._sympy.value_ranges')\n"
                                 "    print('SYMBOLIC_OK')\n",
}


@pytest.mark.parametrize("name", list(ATTACKS))
def test_sympy_and_mpmath_are_unreachable(sandbox, name: str) -> None:
    trusted, restarts = zygote_pids(sandbox), sandbox.restarts
    result = grade_quick(sandbox, ex2(header=HEADER, before=ATTACKS[name]))
    assert result.status == "violation", (result.status, result.message, result.stdout[-300:])
    assert result.score == 0 and all(t.points == 0 for t in result.tensors)
    low = result.message.lower()
    assert "sympy" in low or "mpmath" in low, result.message
    assert "SYMBOLIC_OK" not in result.stdout
    assert sandbox.restarts == restarts
    assert_survives(sandbox, trusted)


def test_listing_the_directory_is_no_violation(sandbox) -> None:
    """Control: only reading sympy's files is off limits, not knowing they exist (and the
    path tests above are not violations merely for naming sympy in a string)."""
    attack = ("    print('ENTRIES', len(os.listdir(SP + '/sympy')) > 0)\n"
              "    print('NAMED', 'sympy' in SP + '/sympy')\n")
    result = grade_quick(sandbox, ex2(header=HEADER, before=attack))
    assert (result.status, result.score) == ("graded", 1.0), result.message
    assert "ENTRIES True" in result.stdout and "NAMED True" in result.stdout


#: Central differences of the cross-entropy loss, recomputed from t.logits and t.Yb.
FINITE_DIFFERENCES = """\
import torch


def loss_of(logits, Yb):
    # the forward pass again, written out: log-softmax, pick, mean
    shifted = logits - logits.max(1, keepdim=True).values
    logprobs = shifted - shifted.exp().sum(1, keepdim=True).log()
    return -logprobs[range(logits.shape[0]), Yb].mean().item()


def backward(t):
    x = t.logits.double().clone()
    g = torch.zeros_like(x)
    h = 1e-5
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            old = x[i, j].item()
            x[i, j] = old + h
            up = loss_of(x, t.Yb)
            x[i, j] = old - h
            down = loss_of(x, t.Yb)
            x[i, j] = old
            g[i, j] = (up - down) / (2 * h)
    return {"logits": g.float()}
"""


def _codes(result) -> list[str]:
    return [f.get("code") for f in result.review_flags or []]


def test_finite_differences_are_graded_but_flagged(sandbox) -> None:
    trusted = zygote_pids(sandbox)
    result = grade_quick(sandbox, FINITE_DIFFERENCES, wall_seconds=20, cpu_seconds=20)
    assert result.status == "graded", result.message
    assert "possibly_numerical" in _codes(result), (result.review_flags, result.runtime_ms)
    flag = [f for f in result.review_flags if f["code"] == "possibly_numerical"][0]
    assert "no points were taken" in flag["message"]
    # the flag is advice only: the score is whatever the comparison gave
    assert result.score in (0.0, 1.0)
    assert result.to_json()["review_flags"] == result.review_flags
    assert_survives(sandbox, trusted)


def test_correct_answer_has_no_review_flag(sandbox) -> None:
    result = grade_quick(sandbox, CORRECT_EX2)
    assert (result.status, result.score) == ("graded", 1.0), result.message
    assert _codes(result) == [], result.review_flags


CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "makemore4"
CORRECT_FILES = sorted(p for p in CORPUS.glob("*/*.py") if parse(p).kind == "correct")


def test_there_are_correct_corpus_files() -> None:
    assert len(CORRECT_FILES) >= 12, CORRECT_FILES


@pytest.mark.parametrize("path", CORRECT_FILES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_correct_corpus_files_have_no_review_flag(sandbox, path: Path) -> None:
    entry = parse(path)
    result = grade(get_exercise(entry.exercise), path.read_text(), sandbox=sandbox,
                   student="corpus", secret=b"corpus-secret")
    assert result.status == "graded", result.message
    assert _codes(result) == [], result.review_flags


#: Debian's own packages, left in apt's cache on the host: world-readable, and the Landlock
#: read layer hides only the sympy/mpmath trees on the interpreter's path.
DEBS = {"sympy": "/var/cache/apt/archives/python3-sympy_1.11.1-1_all.deb",
        "mpmath": "/var/cache/apt/archives/python3-mpmath_1.2.1-2_all.deb"}

#: sympy loaded from those .deb files in memory, under another name (so neither the "import"
#: audit event nor any "open" path names sympy), plus the system's stdlib for the few modules
#: the child cannot read from the (0700) runtime. Then a symbolic derivative of the loss.
SYMPY_FROM_DEB = f"""\
import io, sys, tarfile, importlib.abc, importlib.util
import torch

DEBS = {DEBS!r}
SRC = {{}}


def ar_members(blob):
    pos, out = 8, {{}}
    while pos + 60 <= len(blob):
        name = blob[pos:pos + 16].decode().strip().rstrip("/")
        size = int(blob[pos + 48:pos + 58].decode().strip())
        out[name] = blob[pos + 60:pos + 60 + size]
        pos += 60 + size + (size & 1)
    return out


def rename(text):
    return text.replace("sympy", "sxmpy").replace("mpmath", "mpmxth")


def load_deb(path, pkg):
    data = [v for k, v in ar_members(open(path, "rb").read()).items()
            if k.startswith("data.tar")][0]
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        for m in tf.getmembers():
            parts = m.name.split("/")
            if m.isfile() and pkg in parts and m.name.endswith(".py"):
                mod = ".".join(parts[parts.index(pkg):])[:-3]
                is_pkg = mod.endswith(".__init__")
                mod = mod[:-len(".__init__")] if is_pkg else mod
                SRC[rename(mod)] = (is_pkg, tf.extractfile(m).read().decode())


class Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, name, path=None, target=None):
        if name in SRC:
            return importlib.util.spec_from_loader(name, self, is_package=SRC[name][0])
        return None

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        exec(compile(rename(SRC[module.__name__][1]), "<mem>", "exec"), module.__dict__)


load_deb(DEBS["mpmath"], "mpmath")
load_deb(DEBS["sympy"], "sympy")
sys.meta_path.insert(0, Finder())
sys.path.append("/usr/lib/python3.11")
import sxmpy as sp

print("SYMBOLIC_OK", flush=True)
Z = sp.symbols("z0:27")
# cross-entropy of one row whose true class sits in slot 0, differentiated by sympy
LOSS = -Z[0] + sp.log(sum(sp.exp(z) for z in Z))
D_TRUE = sp.lambdify(Z, sp.diff(LOSS, Z[0]), "math")
D_OTHER = sp.lambdify(Z, sp.diff(LOSS, Z[1]), "math")


def backward(t):
    n, c = t.logits.shape
    out = torch.empty_like(t.logits)
    for i in range(n):
        row = [float(v) for v in t.logits[i]]
        k = int(t.Yb[i])
        rest = [row[m] for m in range(c) if m != k]
        for j in range(c):
            if j == k:
                out[i, j] = D_TRUE(row[k], *rest)
            else:
                others = [row[m] for m in range(c) if m not in (j, k)]
                out[i, j] = D_OTHER(row[k], row[j], *others)
    return {{"logits": out / n}}
"""


@pytest.mark.skipif(not all(os.path.exists(p) for p in DEBS.values()),
                    reason="no python3-sympy/python3-mpmath .deb in apt's cache here")
def test_sympy_from_the_apt_cache_without_bwrap(off_sandbox) -> None:
    """Was a bypass without bubblewrap: sympy read from apt's cache of .deb files and loaded
    under another name. The Landlock read layer is now an allow-list (what the jail shows):
    /var/cache is unreadable, with or without a jail."""
    restarts = off_sandbox.restarts
    result = grade_quick(off_sandbox, SYMPY_FROM_DEB, wall_seconds=60, cpu_seconds=60,
                         memory_bytes=2 * 1024**3)
    assert off_sandbox.restarts == restarts
    assert_survives(off_sandbox)
    assert "SYMBOLIC_OK" not in result.stdout, (result.status, result.score)
    assert result.status in ("violation", "error") and result.score == 0, result.message

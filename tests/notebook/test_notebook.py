"""The notebook road (spec §10): ``check``/``submit``, the ``%backprop`` magic, starter notebooks.

Notebooks are built with nbformat and executed by nbclient in a real ``python3`` kernel
(ipykernel on this venv's interpreter, through a kernelspec written to a temporary folder,
with its own ``BACKPROP_HOME``), grading in the real sandbox. One kernel runs the whole
student session (a correct function with a helper and an import, a buggy one, the magics, a
name that cannot be sent, a hostile crash); a second runs the generated starter notebook as a
student would open it. ``submit`` against the real service is in
``tests/e2e/test_notebook_submit.py``, beside the session's live ``backprop serve``.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import types
from pathlib import Path
from typing import Any

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook

from backprop_grader import Report
from backprop_grader.report import to_html
from backprop_grader.source import ENTRY, SourceError, build
from grader.result import ERROR, GRADED, GradeResult, TensorResult
from tests.corpus_files import CORPUS

KERNEL = "backprop-test"
BACKPROP = Path(sys.executable).with_name("backprop")
LECTURE = CORPUS / "makemore4" / "ex1" / "lecture.py"
BESSEL = CORPUS / "makemore4" / "ex1" / "bug_bessel_n.py"


def _code(path: Path) -> str:
    """A corpus file without its ``# key: value`` header (what a student's cell holds)."""
    return "\n".join(line for line in path.read_text().splitlines()
                     if not line.startswith("# ")).strip() + "\n"


# --------------------------------------------------------------------------- the kernel
@pytest.fixture(scope="module")
def kernels(tmp_path_factory: pytest.TempPathFactory) -> KernelSpecManager:
    """A kernelspec for this venv's python, with a fresh instance folder for the kernel."""
    root = tmp_path_factory.mktemp("kernels")
    spec = root / KERNEL
    spec.mkdir()
    home = tmp_path_factory.mktemp("kernel-home")
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "backprop test", "language": "python",
        "env": {"BACKPROP_HOME": str(home)},  # the package comes from the venv's install
    }))
    return KernelSpecManager(kernel_dirs=[str(root)])


def _run(notebooks: list[tuple[nbformat.NotebookNode, Path]],
         kernels: KernelSpecManager) -> None:
    """Execute each notebook in place, each in a fresh kernel, all at once.

    Concurrently, because most of a run is a kernel and a sandbox importing torch: two
    notebooks take the wall time of one. Errors stay in the outputs, for the tests to read.
    """
    async def run_all() -> None:
        await asyncio.gather(*(
            NotebookClient(nb, km=AsyncKernelManager(kernel_name=KERNEL,
                                                     kernel_spec_manager=kernels),
                           timeout=180, allow_errors=True,
                           resources={"metadata": {"path": str(cwd)}}).async_execute()
            for nb, cwd in notebooks))

    # In a thread of its own: in a whole-suite run the browser tests' Playwright keeps an
    # event loop running in this thread, where asyncio.run() refuses to start another.
    failure: list[BaseException] = []

    def target() -> None:
        try:
            asyncio.run(run_all())
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test's thread
            failure.append(exc)

    worker = threading.Thread(target=target)
    worker.start()
    worker.join()
    if failure:
        raise failure[0]


def _html(cell: Any) -> list[str]:
    return [o["data"]["text/html"] for o in cell.outputs
            if o.output_type in ("display_data", "execute_result") and "text/html" in o["data"]]


def _errors(cell: Any) -> list[Any]:
    return [o for o in cell.outputs if o.output_type == "error"]


def _text(cell: Any) -> str:
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")


@pytest.fixture(scope="module")
def executed(kernels: KernelSpecManager, tmp_path_factory: pytest.TempPathFactory) \
        -> tuple[dict[str, Any], nbformat.NotebookNode]:
    """Run a student session and the generated starter notebook, in two kernels.

    Returns the session's cells by name and the executed starter notebook.
    """
    helper = ("def ones_like(x):\n    # a helper of the student's own, using an import\n"
              "    return torch.ones_like(x)\n\n\n")
    correct = helper + _code(LECTURE).replace("torch.ones_like(", "ones_like(") \
        .replace("def backward(t):", "def my_backward(t):")
    hostile = ("def crashes(t):\n    print('<script>alert(1)</script>\\x1b[2J')\n"
               "    raise ValueError('<img src=x onerror=alert(2)>')\n")
    cells = {
        "setup": "import torch\nimport torch.nn.functional as F\n\n"
                 "from backprop_grader import check\n\n"
                 "h = torch.zeros(3)  # a notebook tensor named like t.h: must not be sent",
        "define_correct": correct,
        "check_correct": "r = check(my_backward, 'makemore4/ex1')\n"
                         "print(r.score, r.max_score, r.status, len(r.tensors))",
        "define_buggy": _code(BESSEL),
        "check_buggy": "check(backward, 'makemore4/ex1')",
        "magic_line": "%load_ext backprop_grader\n%backprop check makemore4/ex1",
        "magic_cell": "%%backprop check makemore4/ex1\n" + _code(LECTURE),
        "unsendable": "W = torch.randn(3)\n\ndef uses_W(t):\n    return {'W1': W}\n\n"
                      "check(uses_W, 'makemore4/ex1')",
        "hostile": hostile + "check(crashes, 'makemore4/ex1')",
    }
    nb = new_notebook(cells=[new_code_cell(src) for src in cells.values()])
    out = subprocess.run([str(BACKPROP), "starter", "makemore4/ex1", "--notebook"],
                         capture_output=True, text=True, timeout=120, check=True).stdout
    starter = nbformat.reads(out, as_version=4)
    nbformat.validate(starter)
    _run([(nb, tmp_path_factory.mktemp("nb")), (starter, tmp_path_factory.mktemp("st"))],
         kernels)
    return dict(zip(cells, nb.cells, strict=True)), starter


@pytest.fixture(scope="module")
def session(executed) -> dict[str, Any]:
    """The student session's cells by name, executed."""
    return executed[0]


def test_correct_function_with_helper_and_import_gets_full_marks(session) -> None:
    cell = session["check_correct"]
    assert not _errors(cell), _errors(cell)
    assert _text(cell).split() == ["26.0", "26.0", "graded", "26"]
    [report] = _html(cell)  # shown by check() itself, once, though its value was assigned
    assert "score 26 / 26" in report
    # what was sent: the helper, the imports, the function renamed to backward; no tensor h
    assert "def ones_like(x):" in report and "import torch" in report
    assert "def backward(t):" in report and "my_backward" not in report
    assert "torch.zeros(3)" not in report


def test_buggy_function_shows_root_cause_diagnosis_and_heatmap(session) -> None:
    cell = session["check_buggy"]
    assert not _errors(cell), _errors(cell)
    [report] = _html(cell)  # check() displayed it and the cell's value did not repeat it
    assert "score 19 / 26" in report
    roots = report.index("dbndiff2 — root cause")
    assert "Bessel" in report[roots:roots + 2000]
    assert roots < report.index("6 inherited an upstream error")  # the root first, folded rest
    assert report.count("data:image/png;base64,") >= 1
    assert "dbndiff2 = (1.0 / n)" in report  # the diagnosed line, quoted from the code sent


def test_line_magic_and_cell_magic(session) -> None:
    [line] = _html(session["magic_line"])  # grades the notebook's `backward`: the buggy one
    assert "score 19 / 26" in line
    cell = session["magic_cell"]
    assert not _errors(cell), _errors(cell)
    [report] = _html(cell)
    assert "score 26 / 26" in report and "def backward(t):" in report


def test_a_name_that_cannot_be_sent_is_one_clear_line(session) -> None:
    [error] = _errors(session["unsendable"])
    assert error.ename == "GraderError"
    assert "cannot send `W` (used by `uses_W`): it is a torch.Tensor" in error.evalue
    assert len(error.traceback) == 1  # no frames of this package


def test_a_crash_is_one_escaped_banner(session) -> None:
    [report] = _html(session["hostile"])
    assert "<script>" not in report and "<img src=x" not in report
    assert "&lt;script&gt;alert(1)&lt;/script&gt;␛[2J" in report
    assert "&lt;img src=x onerror=alert(2)&gt;" in report
    assert "\x1b" not in report
    assert report.count("error: the code was not graded") == 1
    assert "<table" not in report  # no 26 identical rows


def test_starter_notebook_runs_and_checks_to_zero(executed) -> None:
    nb = executed[1]  # `backprop starter makemore4/ex1 --notebook`, executed unchanged
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert [c.cell_type for c in nb.cells[:2]] == ["markdown", "markdown"]
    assert "from backprop_grader import check" in code[0].source
    assert sum(c.source.startswith("def backward(t):") for c in code) == 1
    assert code[-1].source == "check(backward, 'makemore4/ex1')"
    errors = [e for c in code for e in _errors(c)]
    assert not errors, errors
    shapes = code[1].outputs[0]["data"]["text/plain"]  # the public case's forward pass
    assert "'logprobs': (32, 27)" in shapes and "'n': 32" in shapes
    [report] = _html(code[-1])  # unfilled: graded cleanly to 0, every tensor flagged
    assert "score 0 / 26" in report and "0 of 26 tensors correct" in report
    assert "error: the code was not graded" not in report


# --------------------------------------------------------------------------- unit tests
SCALE = 2.0
LIMITS = {"eps": 1e-5, "sizes": (1, 2), "nan": float("nan")}
BIG = list(range(10_000))


def _doubled(x):
    return x * SCALE * _one()


def _one():
    return 1.0


def _run_bundle(code: str, t: Any) -> Any:
    namespace: dict[str, Any] = {}
    exec(compile(code, "<sent>", "exec"), namespace)  # the module as the sandbox would run it
    return namespace[ENTRY](t)


def test_source_walks_helpers_constants_imports_and_closures() -> None:
    import math
    from math import sqrt as root

    offset = 3.0

    def student(t, eps=LIMITS["eps"]):
        x = [_doubled(v) for v in (t.h, t.n)]  # t.h: an attribute, never a global
        return {"h": x[0] + root(4) + math.floor(offset), "n": x[1], "eps": eps,
                "nan": math.isnan(LIMITS["nan"])}

    bundle = build(student)
    code = bundle.code
    assert "def backward(t, eps=LIMITS[\"eps\"]):" in code
    assert "from math import sqrt as root" in code and "import math" in code
    assert "SCALE = 2.0" in code and "offset = 3.0" in code
    assert "LIMITS = {'eps': 1e-05, 'sizes': (1, 2), 'nan': float('nan')}" in code
    assert code.index("def _doubled(x):") < code.index("def backward(")
    assert "def _one():" in code  # found through the helper
    t = types.SimpleNamespace(h=1.0, n=32)
    assert _run_bundle(code, t) == student(t)


def test_source_refuses_data_and_names_it() -> None:
    import torch

    weights = torch.zeros(2)

    def uses_tensor(t):
        return {"W1": weights}

    def uses_big(t):
        return BIG

    with pytest.raises(SourceError, match=r"cannot send `weights` \(used by `uses_tensor`\): "
                                          r"it is a torch\.Tensor .* use `t\.weights`"):
        build(uses_tensor)
    with pytest.raises(SourceError, match=r"cannot send `BIG`.*is data, not a setting"):
        build(uses_big)
    with pytest.raises(SourceError, match="not a lambda"):
        build(lambda t: t)
    with pytest.raises(SourceError, match="not a int"):
        build(3)


def test_source_renames_and_keeps_recursion_working() -> None:
    def grads(t, depth=1):
        return {"n": t.n} if depth == 0 else grads(t, depth - 1)

    code = build(grads).code
    assert "def backward(t, depth=1):" in code and "grads = backward" in code
    assert _run_bundle(code, types.SimpleNamespace(n=7)) == {"n": 7}


def _hostile_result(status: str) -> GradeResult:
    evil = "<script>alert(1)</script>\x1b]52;c;aGk=\x07\u202e"
    tensor = TensorResult(name=f"h{evil}", status="wrong", points=0, max_points=1,
                          message=f"dh {evil}", diagnosis=f"d {evil}", root_cause=True,
                          fingerprint=evil, line=1, expected_shape=[2], got_shape=[2])
    return GradeResult(exercise="makemore4/ex1", status=status, score=0, max_score=1,
                       message=f"boom {evil} (line 1)", stdout=f"printed {evil}",
                       tensors=[tensor], cases=["public"])


@pytest.mark.parametrize("status", [GRADED, ERROR])
def test_report_escapes_everything_the_student_controls(status: str) -> None:
    html = to_html(_hostile_result(status), code=f"x = '<script>{chr(27)}'\n",
                   link="http://x/submissions/1\"><script>")
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    for raw in ("\x1b", "\x07", "\u202e"):
        assert raw not in html
    assert "␛]52;c;aGk=␇⟨U+202E⟩" in html
    assert 'href="http://x/submissions/1&quot;&gt;&lt;script&gt;"' in html
    assert str(Report(_hostile_result(status))).count("\x1b") == 0

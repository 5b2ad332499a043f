"""Issue 15, a careless or hostile AUTHOR: ``backprop validate`` and ``backprop
new-exercise`` on broken exercises, solutions and folders.

Each answer is a sentence and an exit code (0 valid, 1 not valid, 2 usage), never a
traceback. What used to go wrong: an exercise with ``dtype = torch.float16`` raised after
its session took the sandbox's lock, so the next grading waited forever; a forward pass
that raised was blamed on the submission ("an unexpected reply from the submission");
``--solution /dev/zero`` read forever; a name too long for the file system was a traceback
and a failing 6th file left the first 5 behind.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import torch
from click.testing import CliRunner

from cli.main import main
from grader import grade
from grader.kit import Case, generator, keep, upstream_loss
from grader.sandbox import Sandbox
from grader.validate import Report, validate
from tests.adversarial.attack_helpers import assert_no_procs

ROOT = Path(__file__).resolve().parents[2]

SOLUTION = """\
def backward(t):
    dx = t.dout @ t.W.T
    dW = t.x.T @ t.dout
    db = t.dout.sum(0)
    return {"x": dx, "W": dW, "b": db}
"""

#: The pack below, as a course would ship it (installed through a dist-info folder).
PACK = '''
import torch
from grader.kit import CaseSpec, Exercise, generator, graded, keep, upstream_loss

STARTER = "def backward(t):\\n    return {'x': None, 'W': None, 'b': None}\\n"


class Lin(Exercise):
    id = "rtpack/lin"
    title = "linear"
    starter = STARTER
    graded = graded("x", "W", "b")
    inputs = ("x", "W", "b", "dout", "n")
    case_specs = (CaseSpec(n=6, params={"a": 5, "b": 4}), CaseSpec(n=3, params={"a": 5, "b": 4}),
                  CaseSpec(n=6, params={"a": 2, "b": 4}), CaseSpec(n=6, params={"a": 5, "b": 7}))

    def forward(self, case):
        g = generator(case.seed)
        a, d = case.params["a"], case.params["b"]
        x = torch.randn((case.n, a), generator=g, dtype=self.dtype).requires_grad_()
        W = torch.randn((a, d), generator=g, dtype=self.dtype).requires_grad_()
        b = torch.randn(d, generator=g, dtype=self.dtype).requires_grad_()
        loss, dout = upstream_loss(x @ W + b, g)
        n = case.n
        return keep(locals(), ("x", "W", "b", "dout", "n", "loss"))


class Raises(Lin):
    id = "rtpack/raises"

    def forward(self, case):
        if case.n == 3:
            raise ValueError("no batch of 3 here")
        return super().forward(case)


class Half(Lin):
    id = "rtpack/half"
    dtype = torch.float16


def register(add):
    for cls in (Raises, Half, Lin):
        add(cls)
'''

#: The same classes in this process, for validate() on the session's sandbox.
_pack: dict[str, Any] = {"__name__": "rtpack"}
exec(compile(PACK, "rtpack.py", "exec"), _pack)
Lin, Raises, Half = _pack["Lin"], _pack["Raises"], _pack["Half"]


class Mismatched(Lin):
    """Says float64, builds float32: judged in float32 under a float64 tolerance."""

    id = "rtpack/mismatched"
    dtype = torch.float64

    def forward(self, case: Case) -> dict[str, Any]:
        g = generator(case.seed)
        x = torch.randn((case.n, 5), generator=g).requires_grad_()
        W = torch.randn((5, 4), generator=g).requires_grad_()
        b = torch.randn(4, generator=g).requires_grad_()
        loss, dout = upstream_loss(x @ W + b, g)
        n = case.n
        return keep(locals(), ("x", "W", "b", "dout", "n", "loss"))


class NoCases(Lin):
    id = "rtpack/nocases"
    case_specs = ()


class NoStarter(Lin):
    id = "rtpack/nostarter"
    starter = ""


class DictLimits(Lin):
    id = "rtpack/dictlimits"
    limits = {"wall_seconds": 5}  # type: ignore[assignment]


@pytest.fixture(scope="module")
def reports(sandbox: Sandbox) -> dict[str, Report]:
    out = {}
    for cls in (Raises, Half, Mismatched, NoCases, NoStarter, DictLimits):
        out[cls.id] = validate(cls(), SOLUTION, sandbox=sandbox)
        # the sandbox is free again after each: a session that kept its lock made every
        # later grading wait forever
        assert sandbox._lock.acquire(timeout=5), f"{cls.id} left the sandbox locked"
        sandbox._lock.release()
    # a solution whose one long sum ast cannot write back: it passes but cannot be mutated
    deep = SOLUTION.replace("db = t.dout.sum(0)", "db = t.dout.sum(0)" + " + 0.0 * t.b" * 900)
    out["deep"] = validate(Lin(), deep, sandbox=sandbox)
    return out


def test_a_forward_pass_that_raises_is_the_exercise_s_fault(reports) -> None:
    r = reports["rtpack/raises"]
    assert not r.ok and not r.solution_ok and not r.mutants
    for problem in (r.solution_problem, r.starter_problem):
        assert problem.startswith("the exercise itself failed (forward pass on the hidden "
                                  "case 1 (n=3, a=5, b=4)): ValueError: no batch of 3 here")
        assert "not of the submission" in problem


def test_an_unsupported_dtype_is_said_and_frees_the_sandbox(reports,
                                                             sandbox: Sandbox) -> None:
    r = reports["rtpack/half"]
    assert not r.ok
    assert "must be torch.float32 or torch.float64, not torch.float16" in r.solution_problem
    result = grade(Lin(), SOLUTION, sandbox=sandbox, student="s", secret=b"k")
    assert result.score == result.max_score, result.message


def test_a_dtype_the_forward_pass_does_not_build_is_a_problem(reports) -> None:
    r = reports["rtpack/mismatched"]
    assert r.solution_ok and r.starter_ok and not r.survivors and not r.ok
    assert r.problem == ("the forward pass builds W, b, x in float32, but the exercise's "
                         "dtype is float64: build every graded tensor in float64 (or set "
                         "dtype to match)")


def test_no_cases_limits_of_another_type_and_no_starter(reports) -> None:
    assert "it has no cases (case_specs is empty)" in reports["rtpack/nocases"].solution_problem
    assert "its limits must be a Limits, not a dict" in \
        reports["rtpack/dictlimits"].solution_problem
    r = reports["rtpack/nostarter"]
    assert r.solution_ok and r.starter_problem == "the exercise has no starter" and not r.ok


def test_a_solution_too_deep_to_mutate_is_a_problem_not_a_crash(reports,
                                                                sandbox: Sandbox) -> None:
    r = reports["deep"]
    assert r.solution_ok and not r.mutants and not r.ok
    assert r.problem.startswith("the solution is nested too deeply to mutate")
    assert_no_procs(sandbox.slot.uid)


# -- the command, as an author runs it ---------------------------------------------------

def test_validate_command_on_a_broken_pack(tmp_path: Path) -> None:
    """One run over a pack installed beside ours: a forward pass that raises, a float16
    exercise, then a good one (validated: the sandbox was not left locked). Exit 1, the
    reasons in words, no traceback on either stream."""
    pkg = tmp_path / "rtpack"
    (pkg / "solutions").mkdir(parents=True)
    (pkg / "__init__.py").write_text(PACK)
    for name in ("raises", "half", "lin"):
        (pkg / "solutions" / f"{name}.py").write_text(SOLUTION)
    dist = tmp_path / "rtpack-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: rtpack\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[backprop_grader.exercises]\nrtpack = rtpack:register\n")
    env = {**os.environ, "COLUMNS": "200", "PYTHONPATH": f"{tmp_path}{os.pathsep}{ROOT}"}
    proc = subprocess.run([sys.executable, "-m", "cli.launch", "validate", "rtpack/raises",
                           "rtpack/half", "rtpack/lin"], cwd=ROOT, capture_output=True,
                          text=True, env=env, timeout=600)
    out = " ".join((proc.stdout + proc.stderr).split())
    assert proc.returncode == 1, out
    assert "Traceback" not in out
    assert ("the exercise itself failed (forward pass on the hidden case 1 (n=3, a=5, b=4)): "
            "ValueError: no batch of 3 here (__init__.py, line") in out
    assert "dtype must be torch.float32 or torch.float64, not torch.float16" in out
    assert "2 not valid" in out
    summary = proc.stdout[proc.stdout.index("validate summary"):]
    lin = next(line for line in summary.splitlines() if "rtpack/lin" in line)
    assert lin.split()[1:3] == ["ok", "ok"], lin


@pytest.mark.parametrize(("make", "says"), [
    (lambda p: p.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256))), "is not UTF-8 text"),
    (lambda p: p.write_text("# x\n" * 100_000), "is over 256 KiB"),
    (lambda p: os.mkfifo(p), "is not a regular file"),
    (None, "/dev/zero is not a regular file"),
])
def test_validate_refuses_a_solution_file_it_cannot_read(tmp_path: Path, make, says) -> None:
    path = Path("/dev/zero")
    if make is not None:
        path = tmp_path / "solution.py"
        make(path)
    result = CliRunner().invoke(main, ["validate", "layers/linear", "--solution", str(path)])
    assert result.exit_code == 2, result.output
    assert says in " ".join(result.output.split())
    assert "Traceback" not in result.output


# -- backprop new-exercise -----------------------------------------------------------------

@pytest.fixture()
def project(tmp_path: Path) -> Path:
    """A project with an empty pack (the MODULES pattern)."""
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'mycourse'\n")
    (tmp_path / "mycourse").mkdir()
    (tmp_path / "mycourse" / "__init__.py").write_text('MODULES: tuple[str, ...] = ()\n')
    return tmp_path


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@pytest.mark.parametrize("name", ["../x", "a/b/c", "X", "1abc", "é", "class", "a" * 61,
                                  "starters", "solutions", "", "x/"])
def test_new_exercise_refuses_bad_names(project: Path, name: str) -> None:
    before = _files(project)
    result = CliRunner().invoke(main, ["new-exercise", f"mycourse/{name}",
                                       "--dir", str(project / "mycourse")])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and "Error:" in result.output
    assert _files(project) == before


def test_new_exercise_writes_every_file_or_none(project: Path) -> None:
    """The 6th file (the test) cannot be written: a file stands where its folder should be.
    The five before it, and the folders made for them, are removed again."""
    (project / "tests").mkdir()
    (project / "tests" / "exercises").write_text("not a folder")
    before = _files(project)
    init = (project / "mycourse" / "__init__.py").read_text()
    result = CliRunner().invoke(main, ["new-exercise", "mycourse/swiglu",
                                       "--dir", str(project / "mycourse")])
    assert result.exit_code == 1, result.output
    assert "cannot write" in result.output and "nothing was written" in result.output
    assert "Traceback" not in result.output
    assert _files(project) == before
    assert (project / "mycourse" / "__init__.py").read_text() == init


def test_new_exercise_never_overwrites(project: Path) -> None:
    solution = project / "mycourse" / "solutions" / "swiglu.py"
    solution.parent.mkdir()
    solution.write_text("mine\n")
    before = _files(project)
    result = CliRunner().invoke(main, ["new-exercise", "mycourse/swiglu",
                                       "--dir", str(project / "mycourse")])
    assert result.exit_code == 2 and "refusing to overwrite" in result.output
    assert solution.read_text() == "mine\n" and _files(project) == before


def test_new_exercise_into_a_missing_folder(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["new-exercise", "mycourse/swiglu",
                                       "--dir", str(tmp_path / "nowhere")])
    assert result.exit_code == 2 and "no such folder" in result.output


def test_new_exercise_leaves_an_init_it_cannot_parse_alone(project: Path) -> None:
    init = project / "mycourse" / "__init__.py"
    init.write_text(textwrap.dedent("""\
        MODULES = ("a",
    """))
    result = CliRunner().invoke(main, ["new-exercise", "mycourse/swiglu",
                                       "--dir", str(project / "mycourse")])
    assert result.exit_code == 0, result.output
    assert "add the module to your pack's register()" in result.output
    assert init.read_text() == 'MODULES = ("a",\n'

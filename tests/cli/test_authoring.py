"""`backprop validate` and `backprop new-exercise`: exit codes, messages, JSON, the scaffold."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import main
from tests.corpus_files import parse

ROOT = Path(__file__).resolve().parents[2]
BACKPROP = [sys.executable, "-m", "cli.launch"]

#: A correct ex2 with a term that changes nothing: its drop_term and sign mutants survive.
PADDED_EX2 = """\
import torch.nn.functional as F


def backward(t):
    n = t.n
    dlogits = F.softmax(t.logits, 1)
    dlogits[range(n), t.Yb] -= 1
    dlogits /= n
    return {"logits": dlogits + 0.0 * t.logits}
"""


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run([*BACKPROP, *args], cwd=ROOT, capture_output=True, text=True,
                          env=env, timeout=600)


def test_validate_passes_with_json_report() -> None:
    proc = _run("validate", "makemore4/ex2", "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["ok"] is True and data["total_ms"] > 0
    (report,) = data["exercises"]
    assert report["exercise"] == "makemore4/ex2"
    assert report["solution_file"].endswith("exercises/makemore4/solutions/ex2.py")
    assert report["solution_ok"] and report["starter_ok"] and report["ok"]
    assert report["totals"]["survived"] == 0 and report["totals"]["mutants"] > 0
    assert set(report["counts"]["sign"]) == {"mutants", "killed", "survived", "equivalent"}
    mutant = report["mutants"][0]
    assert {"op", "line", "description", "outcome", "detail", "ms"} <= set(mutant)


def test_validate_fails_on_a_survivor_and_lists_it(tmp_path: Path) -> None:
    solution = tmp_path / "padded.py"
    solution.write_text(PADDED_EX2)
    proc = _run("validate", "makemore4/ex2", "--solution", str(solution))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "surviving mutant" in proc.stdout
    assert "line 9: dlogits + 0.0 * t.logits → dlogits" in proc.stdout
    assert "validate summary" in proc.stdout and "1 not valid" in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr


def test_validate_usage_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["validate", "makemore4/ex9"])
    assert result.exit_code == 2
    assert "unknown exercise 'makemore4/ex9'" in result.output
    assert "did you mean makemore4/ex" in result.output
    assert runner.invoke(main, ["validate"]).exit_code == 2
    assert runner.invoke(main, ["validate", "--all", "makemore4/ex1"]).exit_code == 2
    result = runner.invoke(main, ["validate", "makemore4/ex1", "makemore4/ex2", "--solution",
                                  str(tmp_path / "x.py")])
    assert result.exit_code == 2 and "exactly one exercise" in result.output
    result = runner.invoke(main, ["validate", "makemore4/ex1", "--solution",
                                  str(tmp_path / "missing.py")])
    assert result.exit_code == 2 and "no such file" in result.output

    # An exercise without solutions/<name>.py: where it was looked for, and --solution.
    from grader import registry
    from grader.kit import Exercise

    class NoSolution(Exercise):
        id = "authoring/nosolution"
        title = "no solution"

    registry.load_exercises()
    monkeypatch.setitem(registry.EXERCISES, NoSolution.id, NoSolution)
    result = runner.invoke(main, ["validate", NoSolution.id])
    assert result.exit_code == 2
    looked = Path(__file__).parent / "solutions" / "nosolution.py"
    assert f"looked for {looked}" in " ".join(result.output.split())
    assert "--solution FILE" in result.output
    assert "Traceback" not in result.output


@pytest.fixture()
def pack(tmp_path: Path) -> Path:
    """An empty pack (the MODULES pattern) in a project with a pyproject.toml."""
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'mycourse'\n")
    folder = tmp_path / "mycourse"
    folder.mkdir()
    (folder / "__init__.py").write_text(textwrap.dedent('''\
        """My course's pack."""

        MODULES: tuple[str, ...] = ()
    '''))
    return folder


def test_new_exercise_scaffolds_a_pack_exercise_that_validates(pack: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["new-exercise", "mycourse/swiglu", "--dir", str(pack)])
    assert result.exit_code == 0, result.output
    tests = pack.parent / "tests"
    written = [pack / "swiglu.py", pack / "starters" / "swiglu.py",
               pack / "solutions" / "swiglu.py", tests / "exercises" / "test_mycourse_swiglu.py",
               tests / "corpus" / "mycourse" / "swiglu" / "einsum.py",
               tests / "corpus" / "mycourse" / "swiglu" / "bug_sign_dx.py"]
    for path in written:
        assert path.exists(), path
        assert f"wrote {path}" in result.output
    assert "python -m grader.versions --update" in result.output
    assert "backprop validate mycourse/swiglu" in result.output
    assert 'MODULES: tuple[str, ...] = ("swiglu",)' in (pack / "__init__.py").read_text()
    # Corpus headers as tests/corpus/README.md wants them.
    correct, bug = parse(written[4]), parse(written[5])
    assert (correct.kind, correct.exercise) == ("correct", "mycourse/swiglu")
    assert (bug.kind, bug.bug_class, bug.expect_wrong) == ("bug", "sign", {"x"})
    # The exercise module reaches the grader through grader.kit only.
    tree = ast.parse((pack / "swiglu.py").read_text())
    grader_imports = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)
                      and (n.module or "").startswith("grader")}
    grader_imports |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import)
                       for a in n.names if a.name.startswith("grader")}
    assert grader_imports == {"grader.kit"}

    # A second exercise goes into MODULES after the first.
    assert runner.invoke(main, ["new-exercise", "mycourse/lin2", "--dir", str(pack)]) \
        .exit_code == 0
    assert '("swiglu", "lin2")' in (pack / "__init__.py").read_text()

    # Loaded by path and registered, it validates: full marks, a clean starter, no survivor.
    script = textwrap.dedent(f"""
        import importlib, json, sys
        sys.path.insert(0, {str(pack.parent)!r})
        from grader import registry
        from grader.sandbox import Sandbox
        from grader.validate import solution_path, validate
        registry.add(importlib.import_module("mycourse.swiglu").EXERCISE)
        exercise = registry.get_exercise("mycourse/swiglu")
        with Sandbox() as sandbox:
            report = validate(exercise, solution_path(exercise).read_text(), sandbox=sandbox)
        print(json.dumps(report.to_json()))
    """)
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.splitlines()[-1])
    assert report["solution_ok"], report["solution_problem"]
    assert report["starter_ok"], report["starter_problem"]
    assert report["totals"]["mutants"] > 0 and report["totals"]["survived"] == 0


def test_new_exercise_refusals(pack: Path) -> None:
    runner = CliRunner()
    for bad in ("mycourse/Swiglu", "mycourse/2x", "mycourse/a-b", "mycourse", "mycourse/class",
                "My/ok"):
        result = runner.invoke(main, ["new-exercise", bad, "--dir", str(pack)])
        assert result.exit_code == 2, bad
        assert "is not PACK/NAME" in result.output
    result = runner.invoke(main, ["new-exercise", "nosuchpack/relu"])
    assert result.exit_code == 2
    assert "no installed pack is called 'nosuchpack'" in result.output
    assert "--dir" in result.output
    (pack / "solutions").mkdir()
    (pack / "solutions" / "relu.py").write_text("# mine\n")
    result = runner.invoke(main, ["new-exercise", "mycourse/relu", "--dir", str(pack)])
    assert result.exit_code == 2
    assert "refusing to overwrite" in result.output and "relu.py" in result.output
    assert (pack / "solutions" / "relu.py").read_text() == "# mine\n"
    assert not (pack / "relu.py").exists()  # nothing written at all
    assert "relu" not in (pack / "__init__.py").read_text()

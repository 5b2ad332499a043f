"""The Gradescope bridge (SPEC §8): ``backprop gradescope bundle -e ID -o autograder.zip``.

The zip is a Gradescope autograder: ``setup.sh`` installs what grading needs (torch, the
sandbox's bubblewrap) on Gradescope's image, and ``run_autograder`` grades the student's file
in ``$AUTOGRADER_ROOT/submission`` with our sandbox (the same ``grade()`` as ``backprop
check``) and writes ``$AUTOGRADER_ROOT/results/results.json``: one test per graded tensor
(and per extra check) with its score, status and the message naming the diagnosis.

The bundle carries the grader core, the exercise packs and this module (``python3 -m
cli.gradescope run``), nothing of the web service; ``run`` uses the standard library only
besides the grader, so the autograder needs no click or rich. Hidden cases are seeded with a
secret drawn when the bundle is made: students never see the bundle, so they cannot
reproduce the hidden cases' inputs.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
#: What the autograder needs of this repository (as source: Gradescope installs torch itself).
PACKAGES = ("grader", "exercises")
TORCH = "torch==2.13.0"

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once when the autograder is built (Ubuntu, as root).
set -euo pipefail
apt-get update -qq
apt-get install -y -qq python3 python3-pip bubblewrap >/dev/null
python3 -m pip install --quiet --index-url https://download.pytorch.org/whl/cpu {torch}
python3 -m pip install --quiet numpy
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for every submission: grade it, write results/results.json.
set -uo pipefail
ROOT="${{AUTOGRADER_ROOT:-/autograder}}"
cd "$ROOT/source" && exec python3 -m cli.gradescope run --exercise {exercise} --root "$ROOT"
"""


def results_json(result, exercise) -> dict[str, Any]:
    """Return Gradescope's results.json for one of our results (``GradeResult``).

    Fields as Gradescope publishes them: ``score``, ``execution_time``, ``output`` and one
    entry of ``tests`` per graded tensor and per extra check (``name``, ``score``,
    ``max_score``, ``status`` passed/failed, ``output``). Hidden cases are only named
    ("hidden case 2 (n=7)"): their inputs never appear.
    """
    from grader.text import visible

    tests = []
    for t in result.tensors:
        lines = [t.message or ("right in every case" if t.passed else "")]
        if t.diagnosis:
            lines.append(f"diagnosis: {t.diagnosis}" + (f" (line {t.line})" if t.line else ""))
        tests.append({"name": f"d{t.name}", "score": t.points, "max_score": t.max_points,
                      "status": "passed" if t.passed else "failed",
                      "output": visible("\n".join(x for x in lines if x))})
    for c in result.checks:
        tests.append({"name": c.name, "score": c.points, "max_score": c.max_points,
                      "status": "passed" if c.passed else "failed",
                      "output": visible(c.message)})
    output = [f"{exercise.title} ({exercise.id}): {result.score:g} / {result.max_score:g}",
              result.message]
    if result.stdout:
        output.append("What your code printed (first lines):\n" + result.stdout[:4000])
    return {"score": result.score, "execution_time": round(result.runtime_ms / 1000, 3),
            "output": visible("\n\n".join(x for x in output if x)), "tests": tests,
            "visibility": "visible", "stdout_visibility": "hidden"}


def _failure(message: str, exercise) -> dict[str, Any]:
    from grader.text import visible

    return {"score": 0.0, "execution_time": 0.0, "output": visible(message), "tests": [
        {"name": f"d{g.name}", "score": 0.0, "max_score": g.points, "status": "failed",
         "output": "not graded"} for g in exercise.graded]}


def pick_submission(folder: Path) -> tuple[Path | None, str]:
    """Return the student's Python file in ``folder`` and why, or None with the reason.

    One ``.py`` file: that one. Several: the one that defines ``backward`` (if exactly one
    does). Nothing is guessed beyond that.
    """
    files = sorted(p for p in folder.rglob("*.py") if p.is_file() and not p.is_symlink())
    if not files:
        return None, "no .py file was submitted: upload the file with your backward(t)"
    if len(files) == 1:
        return files[0], ""
    defining = [p for p in files if b"def backward" in p.read_bytes()[:1_000_000]]
    if len(defining) == 1:
        return defining[0], ""
    names = ", ".join(str(p.relative_to(folder)) for p in files[:10])
    return None, f"several .py files were submitted ({names}); submit one file with backward(t)"


def run(exercise_id: str, root: Path) -> dict[str, Any]:
    """Grade the submission under ``root`` (Gradescope's layout) and write results.json."""
    from grader.registry import get_exercise
    from grader.result import MAX_SOURCE_BYTES
    from grader.sandbox import Sandbox, SandboxError

    started = time.monotonic()
    exercise = get_exercise(exercise_id)
    out_dir = root / "results"
    out_dir.mkdir(parents=True, exist_ok=True)
    path, why = pick_submission(root / "submission")
    if path is None:
        data = _failure(why, exercise)
    elif path.stat().st_size > MAX_SOURCE_BYTES:
        data = _failure(f"{path.name} is larger than {MAX_SOURCE_BYTES // 1024} KiB", exercise)
    else:
        secret = (root / "source" / "bundle_secret").read_text().strip() \
            if (root / "source" / "bundle_secret").exists() else secrets.token_hex(16)
        from grader.grade import grade

        try:
            with Sandbox() as sandbox:
                result = grade(exercise, path.read_bytes(), sandbox=sandbox,
                               student=_student(root), secret=secret.encode())
            data = results_json(result, exercise)
        except SandboxError as exc:
            data = _failure(f"the grading sandbox failed on this machine ({exc}); "
                            "ask your instructor to rerun the autograder", exercise)
    data["execution_time"] = round(time.monotonic() - started, 3)
    (out_dir / "results.json").write_text(json.dumps(data, indent=2))
    return data


def _student(root: Path) -> str:
    """Seed the public case per student like the service does (Gradescope's user id)."""
    try:
        meta = json.loads((root / "submission_metadata.json").read_text())
        return "gradescope:" + str(meta["users"][0]["id"])
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        return "gradescope"


def bundle(exercise_id: str, output: Path) -> int:
    """Write the autograder zip; return the number of files in it."""
    from grader.registry import get_exercise

    exercise = get_exercise(exercise_id)
    count = 0
    with zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED) as z:
        def add(name: str, text: str, mode: int = 0o644) -> None:
            nonlocal count
            info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
            info.external_attr = (0o100000 | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, text)
            count += 1

        add("setup.sh", SETUP_SH.format(torch=TORCH), 0o755)
        add("run_autograder", RUN_AUTOGRADER.format(exercise=exercise.id), 0o755)
        add("bundle_secret", secrets.token_hex(32) + "\n", 0o600)
        add("cli/__init__.py", "")
        add("cli/gradescope.py", Path(__file__).read_text())
        for package in PACKAGES:
            for path in sorted((REPO / package).rglob("*")):
                if path.is_file() and "__pycache__" not in path.parts \
                        and path.suffix in (".py", ".md", ".json", ".txt"):
                    add(str(path.relative_to(REPO)), path.read_text())
    return count


def register(group) -> None:
    """Add ``backprop gradescope bundle`` to the ``backprop`` group."""
    import click

    @group.group("gradescope")
    def gradescope_cmd() -> None:
        """Use our exercises as a Gradescope autograder."""

    @gradescope_cmd.command("bundle")
    @click.option("-e", "--exercise", "exercise_id", required=True, metavar="ID")
    @click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
                  default=Path("autograder.zip"), show_default=True)
    def bundle_cmd(exercise_id: str, output: Path) -> None:
        """Write a Gradescope autograder zip for exercise ID (upload it as the autograder)."""
        from grader.registry import UnknownExercise

        try:
            n = bundle(exercise_id, output)
        except UnknownExercise as exc:
            raise click.UsageError(str(exc).strip("'\"")) from None
        except OSError as exc:
            raise click.UsageError(f"cannot write {output}: {exc.strerror}") from None
        click.echo(f"wrote {output} ({n} files): upload it as the assignment's autograder "
                   "(Ubuntu base image); students submit one .py file")


def main(argv: list[str] | None = None) -> int:
    """``python3 -m cli.gradescope run --exercise ID [--root DIR]`` (the autograder's entry)."""
    parser = argparse.ArgumentParser(prog="python3 -m cli.gradescope")
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="grade $AUTOGRADER_ROOT/submission into results.json")
    r.add_argument("--exercise", required=True)
    r.add_argument("--root", type=Path,
                   default=Path(os.environ.get("AUTOGRADER_ROOT", "/autograder")))
    args = parser.parse_args(argv)
    data = run(args.exercise, args.root)
    print(data["output"])
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Authoring commands: ``backprop validate`` (mutation testing of an exercise's cases) and
``backprop new-exercise`` (a working exercise scaffold).

The work is in the pure core (:mod:`grader.validate`, :mod:`grader.mutate`); this module
reads options, draws tables with rich and chooses the exit code: 0 when every solution
passes, every starter fails cleanly and no mutant survives, 1 otherwise (CI gates on it), 2
for a usage error.
"""

from __future__ import annotations

import contextlib
import json
import keyword
import logging
import os
import re
import stat
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape

# -- backprop validate ------------------------------------------------------------------


@click.command("validate")
@click.argument("exercise_ids", nargs=-1, metavar="[ID ...]")
@click.option("--all", "all_", is_flag=True, help="Validate every installed exercise.")
@click.option("--solution", type=click.Path(dir_okay=False, path_type=Path),
              help="The reference solution to mutate (one ID only); default: "
                   "solutions/<name>.py beside the exercise's module.")
@click.option("--json", "as_json", is_flag=True, help="Print the reports as JSON.")
@click.option("--jobs", "-j", type=click.IntRange(1, 16), default=1, show_default=True,
              help="Sandboxes grading mutants at once (each is a zygote with torch).")
def validate_cmd(exercise_ids: tuple[str, ...], all_: bool, solution: Path | None,
                 as_json: bool, jobs: int) -> None:
    """Check exercises by mutation testing: the reference solution must get full marks,
    the starter must fail cleanly, and every mutant of the solution (a flipped sign, a
    missing transpose, a hard-coded size, …) must lose points on the exercise's cases.

    Exits 0 when all is well, 1 when a solution fails, a starter does not fail cleanly or a
    mutant survives, 2 on usage errors.
    """
    if all_ and exercise_ids:
        raise click.UsageError("give exercise ids or --all, not both")
    if not all_ and not exercise_ids:
        raise click.UsageError("name the exercises to validate (e.g. makemore4/ex1) or "
                               "pass --all")
    if solution is not None and (all_ or len(exercise_ids) != 1):
        raise click.UsageError("--solution goes with exactly one exercise id")
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    import difflib

    from grader.registry import get_exercise, load_exercises

    known = sorted(load_exercises())
    ids = known if all_ else list(dict.fromkeys(exercise_ids))
    for exercise_id in ids:
        if exercise_id not in known:
            close = difflib.get_close_matches(exercise_id, known, n=5, cutoff=0.5)
            hint = f"; did you mean {', '.join(close)}?" if close else \
                f" (known: {', '.join(known) or 'none'})"
            raise click.UsageError(f"unknown exercise {exercise_id!r}{hint}")
    if not ids:
        raise click.UsageError("no exercise is installed")
    jobs_list: list[tuple[Any, str | None, str]] = []
    for exercise_id in ids:
        exercise = get_exercise(exercise_id)
        source, where = _solution_source(exercise, solution)
        if source is None and not all_:
            raise click.UsageError(where)
        jobs_list.append((exercise, source, where))

    import torch

    torch.set_num_threads(1)
    from grader.sandbox import Sandbox, SandboxError
    from grader.validate import validate

    # Piped (a CI log, a note): wide enough for the summary table on one line per exercise.
    out = Console(highlight=False, width=None if sys.stdout.isatty() else 120)
    reports: list[dict[str, Any]] = []
    try:
        with _one_line_logs(), Sandbox() as sandbox:
            sandbox.ensure_ready()
            for exercise, source, where in jobs_list:
                if source is None:
                    reports.append(_missing(exercise.id, where))
                    if not as_json:
                        out.print(f"[bold]{exercise.id}[/]: [red]no solution[/] — "
                                  f"{escape(where)}\n")
                    continue
                with _progress(exercise.id) as progress:
                    try:
                        report = validate(exercise, source, sandbox=sandbox,
                                          progress=progress, jobs=jobs)
                    except SandboxError:
                        raise
                    except Exception as exc:  # the exercise's own code (its forward, …)
                        raise click.ClickException(
                            f"validating {exercise.id} stopped: {type(exc).__name__}: {exc} "
                            "(an error in the exercise's code, not in a mutant)") from None
                data = report.to_json()
                data["solution_file"] = where
                reports.append(data)
                if not as_json:
                    _render(out, data)
    except SandboxError as exc:
        raise click.ClickException(f"the grading sandbox failed: {exc}") from None
    ok = all(r["ok"] for r in reports)
    if as_json:
        click.echo(json.dumps({"ok": ok, "exercises": reports,
                               "total_ms": round(sum(r["total_ms"] for r in reports), 1)},
                              indent=2))
    else:
        _render_summary(out, reports)
    sys.exit(0 if ok else 1)


class _OneLineLog(logging.Handler):
    """Echo log records to stderr as one line each, without the traceback an exception
    record carries (the stream is looked up when a record comes, not when made)."""

    def emit(self, record: logging.LogRecord) -> None:
        click.echo(f"{record.levelname.lower()}: {record.getMessage()}", err=True)


@contextlib.contextmanager
def _one_line_logs() -> Iterator[None]:
    """Show the grader's warnings (an exercise that failed, diagnosis given up) as one line
    each while validating: the report says what failed and where, and unconfigured, Python's
    last-resort handler would print every record's traceback between the report's lines."""
    logger = logging.getLogger("grader")
    handler = _OneLineLog(logging.WARNING)
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)


def _solution_source(exercise: Any, given: Path | None) -> tuple[str | None, str]:
    """Return (the solution's text or None, its path — or why it is missing)."""
    from grader.result import MAX_SOURCE_BYTES
    from grader.validate import solution_path

    path = given if given is not None else solution_path(exercise)
    if path is None:
        return None, (f"no reference solution for {exercise.id}: its module has no file; "
                      "pass --solution FILE")
    try:
        # A regular file only, read no further than a submission may be: --solution
        # /dev/zero (or a FIFO) would otherwise read, or wait, forever.
        if not stat.S_ISREG(path.stat().st_mode):
            return None, f"{path} is not a regular file"
        with open(path, "rb") as f:
            raw = f.read(MAX_SOURCE_BYTES + 1)
    except FileNotFoundError:
        if given is not None:
            return None, f"no such file: {path}"
        return None, (f"no reference solution for {exercise.id}: looked for {path}; write "
                      "it there or pass --solution FILE")
    except OSError as exc:
        return None, f"cannot read {path}: {exc.strerror or exc}"
    if len(raw) > MAX_SOURCE_BYTES:
        return None, (f"{path} is over {MAX_SOURCE_BYTES // 1024} KiB, the limit of a "
                      "submission (the solution is graded as one)")
    try:
        return raw.decode("utf-8"), str(path)
    except UnicodeDecodeError as exc:
        return None, f"{path} is not UTF-8 text (byte {exc.start})"


def _missing(exercise_id: str, why: str) -> dict[str, Any]:
    """The JSON report of an exercise that has no solution to validate (a failure)."""
    return {"exercise": exercise_id, "ok": False, "solution_ok": False,
            "solution_problem": why, "starter_ok": False, "starter_problem": "not checked",
            "mutants": [], "counts": {}, "solution_file": None,
            "totals": {"mutants": 0, "killed": 0, "survived": 0, "equivalent": 0},
            "stale_pragmas": [], "problem": "",
            "total_ms": 0.0, "mutants_ms": 0.0, "ms_per_mutant": 0.0}


@contextlib.contextmanager
def _progress(label: str) -> Iterator[Any]:
    """Yield a ``progress(done, total)`` callback drawing a bar on stderr (a terminal only)."""
    console = Console(stderr=True)
    if not console.is_terminal:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    with Progress("[progress.description]{task.description}", BarColumn(),
                  MofNCompleteColumn(), TimeRemainingColumn(), console=console,
                  transient=True) as bar:
        task = bar.add_task(f"mutants of {label}", total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def _render(out: Console, r: dict[str, Any]) -> None:
    """Draw one exercise's report: its checks, the per-operator table, the survivors."""
    from rich.table import Table

    out.print(f"[bold]{escape(r['exercise'])}[/]  ({escape(str(r.get('solution_file')))})")
    out.print("  solution: " + ("[green]full marks[/]" if r["solution_ok"] else
                                f"[red]{escape(r['solution_problem'])}[/]"))
    out.print("  starter:  " + ("[green]fails cleanly (every tensor not filled in)[/]"
                                if r["starter_ok"] else f"[red]{escape(r['starter_problem'])}[/]"))
    if r.get("problem"):
        out.print(f"  problem:  [red]{escape(r['problem'])}[/]")
    if not r["solution_ok"]:
        out.print("  mutants:  not run (the solution must pass first)\n")
        return
    table = Table(show_edge=False, pad_edge=False, box=None, padding=(0, 2))
    for col in ("op", "mutants", "killed", "survived", "equivalent"):
        table.add_column(col, justify="left" if col == "op" else "right")
    for op, c in r["counts"].items():
        table.add_row(op, str(c["mutants"]), str(c["killed"]),
                      f"[red]{c['survived']}[/]" if c["survived"] else "0",
                      str(c["equivalent"]))
    t = r["totals"]
    table.add_row("[bold]total[/]", str(t["mutants"]), str(t["killed"]),
                  f"[bold red]{t['survived']}[/]" if t["survived"] else "0",
                  str(t["equivalent"]))
    out.print(table)
    survivors = [m for m in r["mutants"] if m["outcome"] == "survived"]
    if survivors:
        out.print(f"  [red]{len(survivors)} surviving mutant"
                  f"{'s' if len(survivors) != 1 else ''}[/] (full marks: the cases do not "
                  "see this slip):")
        for m in survivors:
            out.print(f"    {m['op']:<15} {escape(m['description'])}", soft_wrap=True)
    equivalent = [m for m in r["mutants"] if m["outcome"] == "equivalent"]
    if equivalent:
        out.print(f"  {len(equivalent)} declared equivalent (survived on a line marked "
                  "`# validate: equivalent`):")
        for m in equivalent:
            out.print(f"    {m['op']:<15} {escape(m['description'])}", soft_wrap=True)
        for line, why in dict.fromkeys((m["line"], m["detail"]) for m in equivalent):
            out.print(f"      line {line}: {escape(why)}", soft_wrap=True)
    for line in r["stale_pragmas"]:
        out.print(f"  [yellow]line {line}: its `# validate: equivalent` is not needed (the "
                  "line has no mutant, or every one was killed)[/]")
    out.print(f"  {r['total_ms'] / 1000:.1f} s ({t['mutants']} mutants graded, "
              f"{r['ms_per_mutant']:.0f} ms each)\n")


def _render_summary(out: Console, reports: list[dict[str, Any]]) -> None:
    """Draw the table over every exercise (what a closing note quotes)."""
    from rich import box
    from rich.table import Table

    table = Table(title="validate summary", title_justify="left", box=box.SIMPLE_HEAD)
    for col in ("exercise", "solution", "starter", "mutants", "killed", "survived",
                "equivalent", "time", "ms/mutant"):
        table.add_column(col, justify="left" if col in ("exercise", "solution", "starter")
                         else "right", no_wrap=True)
    for r in reports:
        t = r["totals"]
        table.add_row(escape(r["exercise"]) + (" [red](problem)[/]" if r.get("problem") else ""),
                      "[green]ok[/]" if r["solution_ok"] else "[red]FAIL[/]",
                      "[green]ok[/]" if r["starter_ok"] else "[red]FAIL[/]",
                      str(t["mutants"]), str(t["killed"]),
                      f"[red]{t['survived']}[/]" if t["survived"] else "0",
                      str(t["equivalent"]), f"{r['total_ms'] / 1000:.1f} s",
                      f"{r['ms_per_mutant']:.0f}")
    total_ms = sum(r["total_ms"] for r in reports)
    out.print(table)
    bad = sum(not r["ok"] for r in reports)
    out.print(f"{len(reports)} exercise{'s' if len(reports) != 1 else ''}, "
              f"{total_ms / 1000:.1f} s: " +
              ("[green]all valid[/]" if not bad else f"[red]{bad} not valid[/]"))


# -- backprop new-exercise ----------------------------------------------------------------

NAME = re.compile(r"[a-z][a-z0-9_]*\Z")
#: Longest pack or exercise name: file names (``test_<pack>_<name>.py``) stay far below
#: the file system's 255 bytes.
MAX_NAME = 60
#: Names taken by a pack's own folders: ``starters.py`` beside ``starters/`` would shadow it.
RESERVED = frozenset({"starters", "solutions"})


@click.command("new-exercise")
@click.argument("pack_name", metavar="PACK/NAME")
@click.option("--dir", "pack_dir", type=click.Path(file_okay=False, path_type=Path),
              help="The pack's source folder (default: found from the installed pack).")
@click.option("--tests-dir", type=click.Path(file_okay=False, path_type=Path),
              help="The project's tests folder (default: tests/ beside the pyproject.toml "
                   "above the pack).")
def new_exercise_cmd(pack_name: str, pack_dir: Path | None, tests_dir: Path | None) -> None:
    """Scaffold a working exercise PACK/NAME: a linear layer to edit, its starter, its
    reference solution, a corpus folder (one correct file, one bug) and a test.

    It validates with no surviving mutant as written; edit the TODOs, then run
    `python -m grader.versions --update` and `backprop validate PACK/NAME`. Never overwrites
    a file.
    """
    pack, sep, name = pack_name.partition("/")
    if not sep or not NAME.match(pack) or not NAME.match(name) or keyword.iskeyword(name) \
            or len(pack) > MAX_NAME or len(name) > MAX_NAME:
        raise click.UsageError(f"{pack_name[:200]!r} is not PACK/NAME: both parts must be "
                               f"lower-case Python identifiers ([a-z][a-z0-9_]*, at most "
                               f"{MAX_NAME} characters), e.g. layers/swiglu")
    if name in RESERVED:
        raise click.UsageError(f"{name!r} names a pack's own folder or module "
                               f"({', '.join(sorted(RESERVED))}): choose another name")
    package = None
    if pack_dir is None:
        pack_dir, package = _installed_pack(pack)
    elif not pack_dir.is_dir():
        raise click.UsageError(f"no such folder: {pack_dir}")
    if package is None:
        package = _package_of(pack_dir)
    if tests_dir is None:
        tests_dir = _tests_dir(pack_dir)
    files = scaffold(pack, name)
    targets = {
        pack_dir / f"{name}.py": files["module"],
        pack_dir / "starters" / f"{name}.py": files["starter"],
        pack_dir / "solutions" / f"{name}.py": files["solution"],
        tests_dir / "corpus" / pack / name / "einsum.py": files["correct"],
        tests_dir / "corpus" / pack / name / "bug_sign_dx.py": files["bug"],
        tests_dir / "exercises" / f"test_{pack}_{name}.py": files["test"],
    }
    existing = [str(p) for p in targets if os.path.lexists(p)]
    if existing:
        raise click.UsageError("refusing to overwrite " + ", ".join(existing))
    _write_all(targets)
    for path in targets:
        click.echo(f"wrote {path}")
    init = pack_dir / "__init__.py"
    if _add_module(init, name):
        click.echo(f"added {name!r} to MODULES in {init}")
    else:
        where = f"{package}.{name}" if package else f"<your pack>.{name}"
        click.echo(f"add the module to your pack's register(): add({where}.EXERCISE) "
                   f"(after `import {where}`)")
    click.echo("\nnext steps:\n"
               f"  edit the TODOs in {pack_dir / (name + '.py')} (and its starter, solution "
               "and corpus)\n"
               "  python -m grader.versions --update     # record its version and catalog\n"
               f"  backprop validate {pack}/{name}        # no mutant may survive\n"
               f"  pytest {targets_test(tests_dir, pack, name)}")


def _write_all(targets: dict[Path, str]) -> None:
    """Write every file or none: a scaffold missing its test or its solution is worse than
    no scaffold, so a failure (a read-only folder, a file where a folder should be, a full
    disk) removes the files and folders this call made and says which path failed."""
    made_files: list[Path] = []
    made_dirs: list[Path] = []
    path = next(iter(targets))
    try:
        for path, text in targets.items():
            missing = [d for d in (path.parent, *path.parent.parents) if not d.exists()]
            for folder in reversed(missing):
                folder.mkdir()
                made_dirs.append(folder)
            with open(path, "x", encoding="utf-8") as f:  # "x": never overwrite, even in a race
                made_files.append(path)
                f.write(text)
    except OSError as exc:
        for done in reversed(made_files):
            with contextlib.suppress(OSError):
                done.unlink()
        for folder in reversed(made_dirs):
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise click.ClickException(f"cannot write {path}: {exc.strerror or exc}; nothing was "
                                   "written") from None


def targets_test(tests_dir: Path, pack: str, name: str) -> Path:
    return tests_dir / "exercises" / f"test_{pack}_{name}.py"


def _installed_pack(pack: str) -> tuple[Path, str]:
    """Return the source folder and the package of an installed pack (by entry-point name)."""
    import importlib.util
    from importlib.metadata import entry_points

    from grader.registry import ENTRY_POINT_GROUP

    found = {ep.name: ep.value.partition(":")[0]
             for ep in entry_points(group=ENTRY_POINT_GROUP)}
    module = found.get(pack)
    if module is None:
        names = ", ".join(sorted(found)) or "none"
        raise click.UsageError(f"no installed pack is called {pack!r} (installed: {names}); "
                               "pass --dir PACKDIR to scaffold into a pack's source folder")
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.origin:
        raise click.UsageError(f"cannot find the source of pack {pack!r} ({module}); "
                               "pass --dir PACKDIR")
    return Path(spec.origin).parent, module


def _package_of(folder: Path) -> str | None:
    """Return the dotted package name of a source folder (walking up its __init__.py)."""
    parts: list[str] = []
    folder = folder.resolve()
    while (folder / "__init__.py").exists():
        parts.insert(0, folder.name)
        folder = folder.parent
    return ".".join(parts) or None


def _tests_dir(pack_dir: Path) -> Path:
    """Return ``tests/`` beside the first ``pyproject.toml`` above the pack."""
    for folder in [pack_dir.resolve(), *pack_dir.resolve().parents]:
        if (folder / "pyproject.toml").exists():
            return folder / "tests"
    raise click.UsageError(f"no pyproject.toml above {pack_dir}: pass --tests-dir DIR")


def _add_module(init: Path, name: str) -> bool:
    """Add ``name`` to the ``MODULES`` tuple of a pack's ``__init__.py``; False when the pack
    does not use that pattern (or the edit cannot be made safely)."""
    import ast

    try:
        text = init.read_text(encoding="utf-8")
        tree = ast.parse(text)
    except (OSError, SyntaxError, ValueError):
        return False
    node = next((n for n in tree.body if isinstance(n, ast.Assign | ast.AnnAssign) and any(
        isinstance(t, ast.Name) and t.id == "MODULES"
        for t in (n.targets if isinstance(n, ast.Assign) else [n.target]))), None)
    value = getattr(node, "value", None)
    if not isinstance(value, ast.Tuple) or not all(
            isinstance(e, ast.Constant) and isinstance(e.value, str) for e in value.elts):
        return False
    if name in [e.value for e in value.elts]:
        return True
    lines = text.splitlines(keepends=True)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line.encode("utf-8")))
    raw = text.encode("utf-8")

    def at(lineno: int, col: int) -> int:
        return offsets[lineno - 1] + col

    if not value.elts:
        start, end = at(value.lineno, value.col_offset), at(value.end_lineno, value.end_col_offset)
        new = raw[:start] + f'("{name}",)'.encode() + raw[end:]
    else:
        last = value.elts[-1]
        if value.lineno != value.end_lineno and last.lineno != value.end_lineno:
            # One entry per line: a new line after the last, indented alike.
            line = lines[last.end_lineno - 1]
            indent = line[: len(line) - len(line.lstrip())]
            insert = offsets[last.end_lineno]
            new = raw[:insert] + f'{indent}"{name}",\n'.encode() + raw[insert:]
        else:
            names = [e.value for e in value.elts] + [name]
            start, end = at(value.lineno, value.col_offset), \
                at(value.end_lineno, value.end_col_offset)
            head = raw[offsets[value.lineno - 1]:start].decode()
            one = "(" + ", ".join(f'"{n}"' for n in names) + ")"
            if len(head) + len(one) > 99:  # one entry per line, as the layers pack writes it
                one = "(\n" + "".join(f'    "{n}",\n' for n in names) + ")"
            new = raw[:start] + one.encode() + raw[end:]
    try:
        ast.parse(new)
    except SyntaxError:
        return False
    # Through a new file and a rename: a full disk leaves the pack's __init__.py as it was,
    # never cut short.
    partial = init.with_name(init.name + ".new")
    try:
        partial.write_bytes(new)
        os.replace(partial, init)
    except OSError:
        with contextlib.suppress(OSError):
            partial.unlink()
        return False
    return True


def scaffold(pack: str, name: str) -> dict[str, str]:
    """Return the text of every scaffolded file for ``pack/name``."""
    cls = "".join(part.capitalize() for part in name.split("_") if part) or "NewExercise"
    values = {"pack": pack, "name": name, "cls": cls, "id": f"{pack}/{name}"}
    return {key: template.format(**values) for key, template in _TEMPLATES.items()}


_MODULE = '''"""{id}: TODO say in one line what the student differentiates.

Scaffolded by ``backprop new-exercise``: a working linear layer ``out = x @ W + b`` under a
random upstream gradient, graded on ``dx``, ``dW`` and ``db``. Edit the TODOs, then run
``python -m grader.versions --update`` and ``backprop validate {id}``.
"""

from __future__ import annotations

from typing import Any

import torch

from grader.kit import (
    Case,
    CaseSpec,
    Exercise,
    generator,
    graded,
    keep,
    pack_text,
    upstream_loss,
)

#: The public case first, then hidden cases: another seed with the same sizes, then one size
#: changed each (n, d_in, d_out), so a size hard-coded from the public case fails in exactly
#: one hidden case. TODO: every size your forward pass reads needs a hidden case that
#: changes it (``backprop validate`` reports a surviving ``hardcoded_size`` mutant if not).
CASE_SPECS = (
    CaseSpec(n=16, params={{"d_in": 10, "d_out": 12}}),
    CaseSpec(n=16, params={{"d_in": 10, "d_out": 12}}),
    CaseSpec(n=9, params={{"d_in": 10, "d_out": 12}}),
    CaseSpec(n=16, params={{"d_in": 7, "d_out": 12}}),
    CaseSpec(n=16, params={{"d_in": 10, "d_out": 5}}),
)


class {cls}(Exercise):
    id = "{id}"
    title = "TODO: a title"
    version = 1
    # TODO: the description students read (markdown).
    description = """\\
A linear layer. You get the upstream gradient `t.dout` of its output; write the gradients of
its input `x`, weight `W` and bias `b`.

```python
out = x @ W + b    # x (n, d_in), W (d_in, d_out), b (d_out,) -> out (n, d_out)
```

`t` holds `x`, `W`, `b`, `out`, `dout` (n, d_out) and the batch size `n`. Return
`{{"x": dx, "W": dW, "b": db}}`, each of exactly its tensor's shape. Hidden cases use other
seeds and change `n`, `d_in` and `d_out`: read sizes from `t`, never hard-code them.
"""
    starter = pack_text(__package__, "starters", "{name}.py")
    # TODO: the graded tensors (backward order) and the names the student gets in `t`.
    graded = graded("x", "W", "b")
    inputs = ("x", "W", "b", "out", "dout", "n")
    case_specs = CASE_SPECS

    def forward(self, case: Case) -> dict[str, Any]:
        """Draw the case's tensors from its seed and run the forward pass with autograd."""
        g = generator(case.seed)  # every random tensor of the case comes from g
        d_in, d_out = case.params["d_in"], case.params["d_out"]
        # TODO: your forward pass.
        x = torch.randn((case.n, d_in), generator=g).requires_grad_()
        W = (torch.randn((d_in, d_out), generator=g) / d_in**0.5).requires_grad_()
        b = (torch.randn(d_out, generator=g) * 0.1).requires_grad_()
        out = x @ W + b
        # A random upstream gradient (never all ones, which would hide a transpose or a sum
        # over the wrong dimension), handed to the student as t.dout.
        loss, dout = upstream_loss(out, g)
        n = case.n
        return keep(locals(), ("x", "W", "b", "out", "dout", "n", "loss"))


EXERCISE = {cls}
'''

_STARTER = '''"""{id} — TODO: what to differentiate.

    out = x @ W + b    # x (n, d_in), W (d_in, d_out), b (d_out,) -> out (n, d_out)

You get the upstream gradient t.dout (n, d_out). Check it with

    backprop check {name}.py -e {id}
"""


def backward(t):
    n = t.n         # batch size
    dout = t.dout   # (n, d_out) upstream gradient, given

    dx = None       # (n, d_in)
    dW = None       # (d_in, d_out)
    db = None       # (d_out,)

    return {{"x": dx, "W": dW, "b": db}}
'''

_SOLUTION = '''"""Reference solution of {id} (`backprop validate {id}` mutates it).

Not package data: solutions stay in the source tree, out of students' reach.
"""


def backward(t):
    # TODO: your reference solution; mark a line whose mutants cannot change a graded value
    # with `# validate: equivalent — why`.
    dx = t.dout @ t.W.T
    dW = t.x.T @ t.dout
    db = t.dout.sum(0)
    return {{"x": dx, "W": dW, "b": db}}
'''

_CORRECT = '''# corpus: correct
# exercise: {id}
# title: index notation with torch.einsum

import torch


def backward(t):
    dx = torch.einsum("no,io->ni", t.dout, t.W)
    dW = torch.einsum("ni,no->io", t.x, t.dout)
    db = torch.einsum("no->o", t.dout)
    return {{"x": dx, "W": dW, "b": db}}
'''

_BUG = '''# corpus: bug
# exercise: {id}
# title: dx with a stray minus sign
# bug-class: sign
# root-cause: x
# expect-wrong: x

def backward(t):
    dx = -t.dout @ t.W.T
    dW = t.x.T @ t.dout
    db = t.dout.sum(0)
    return {{"x": dx, "W": dW, "b": db}}
'''

_TEST = '''"""{id}: the reference solution gets full marks and the corpus grades as its headers
say, through the real sandbox (scaffolded by ``backprop new-exercise``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader import get_exercise, grade
from grader.result import PASSING
from grader.validate import solution_path

EXERCISE = "{id}"
CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "{pack}" / "{name}"


def _header(path: Path) -> dict[str, str]:
    """Read the ``# key: value`` lines at the top of a corpus file."""
    meta = {{}}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        key, sep, value = line[1:].partition(":")
        if sep:
            meta[key.strip()] = value.strip()
    return meta


def _grade(path: Path, sandbox):
    return grade(get_exercise(EXERCISE), path.read_text(encoding="utf-8"), sandbox=sandbox,
                 student="corpus", secret=b"corpus-secret")


def test_solution_gets_full_marks(sandbox) -> None:
    path = solution_path(get_exercise(EXERCISE))
    result = _grade(path, sandbox)
    assert result.status == "graded", result.message
    assert result.score == result.max_score, [t.message for t in result.tensors if not t.passed]


@pytest.mark.parametrize("path", sorted(CORPUS.glob("*.py")), ids=lambda p: p.stem)
def test_corpus_file_grades_as_its_header_says(path: Path, sandbox) -> None:
    meta = _header(path)
    result = _grade(path, sandbox)
    assert result.status == meta.get("expect-status", "graded"), result.message
    failing = {{t.name for t in result.tensors if t.status not in PASSING}}
    assert failing == set(meta.get("expect-wrong", "").split())
'''

_TEMPLATES = {"module": _MODULE, "starter": _STARTER, "solution": _SOLUTION,
              "correct": _CORRECT, "bug": _BUG, "test": _TEST}


def register(group: click.Group) -> None:
    """Add the authoring commands to the ``backprop`` group."""
    group.add_command(validate_cmd)
    group.add_command(new_exercise_cmd)

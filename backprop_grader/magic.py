"""The IPython extension: ``%load_ext backprop_grader``, then

- ``%backprop check makemore4/ex1`` — grade the notebook's ``backward`` (or
  ``%backprop check makemore4/ex1 my_backward`` for a function by another name);
- ``%backprop submit makemore4/ex1 [FUNC] [--server URL] [--token TOKEN]`` — send it to
  the course server (defaults: ``$BACKPROP_SERVER``, ``$BACKPROP_TOKEN``);
- ``%%backprop check makemore4/ex1`` on top of a cell — run the cell (so its functions are
  defined in the notebook as usual), then grade the ``backward`` it defines.
"""

from __future__ import annotations

import argparse
import linecache
import shlex
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class

USAGE = ("usage: %backprop check ID [FUNC]  |  %backprop submit ID [FUNC] [--server URL] "
         "[--token TOKEN]  (or %%backprop … on top of a cell)")


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of printing and exiting the kernel."""

    def error(self, message: str) -> Any:
        raise UsageError(f"{message}\n{USAGE}")


def _parser() -> _Parser:
    parser = _Parser(prog="%backprop", add_help=False)
    parser.add_argument("action", choices=("check", "submit"))
    parser.add_argument("exercise")
    parser.add_argument("function", nargs="?", default="backward")
    parser.add_argument("--server")
    parser.add_argument("--token")
    parser.add_argument("--student", default="local")
    return parser


@magics_class
class BackpropMagics(Magics):
    """``%backprop`` / ``%%backprop``."""

    _cells = 0

    @line_cell_magic
    def backprop(self, line: str, cell: str | None = None) -> Any:
        """Grade (check) or submit a backward function: see the module's docstring."""
        from backprop_grader.api import check, submit
        from backprop_grader.errors import GraderError

        try:
            args = _parser().parse_args(shlex.split(line))
        except ValueError as exc:  # shlex: an unclosed quote
            raise UsageError(f"{exc}\n{USAGE}") from None
        if cell is not None:
            self._run_cell(cell)
        func = self.shell.user_ns.get(args.function)
        if func is None:
            raise GraderError(f"no function `{args.function}` in the notebook: define "
                              f"`def {args.function}(t): …` first")
        if args.action == "check":
            return check(func, args.exercise, student=args.student)
        return submit(func, args.exercise, server=args.server, token=args.token)

    def _run_cell(self, cell: str) -> None:
        """Execute the cell in the notebook's namespace, its source kept for ``getsource``."""
        BackpropMagics._cells += 1
        count = getattr(self.shell, "execution_count", 0)
        filename = f"<backprop-cell-{count}-{BackpropMagics._cells}>"
        # mtime None: linecache.checkcache never drops it (there is no file to compare with)
        linecache.cache[filename] = (len(cell), None, cell.splitlines(keepends=True), filename)
        exec(compile(cell, filename, "exec"), self.shell.user_ns)  # the student's own cell


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext backprop_grader``."""
    ipython.register_magics(BackpropMagics)

"""Grade a hand-written backward pass from Python or Jupyter (spec §10).

    from backprop_grader import check, submit
    check(backward, "makemore4/ex1")          # local sandbox, HTML report in Jupyter
    submit(backward, "makemore4/ex1", server=URL, token=TOKEN)

``%load_ext backprop_grader`` adds the ``%backprop`` magic (see :mod:`backprop_grader.magic`).
See docs/notebook.md.
"""

from __future__ import annotations

from typing import Any

from backprop_grader.api import Report, check, public_case, submit
from backprop_grader.errors import GraderError

__all__ = ["GraderError", "Report", "check", "load_ipython_extension", "public_case", "submit"]


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext backprop_grader``: register the ``%backprop`` magic."""
    from backprop_grader.magic import load_ipython_extension as load

    load(ipython)

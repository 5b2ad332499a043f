"""The one exception the notebook API raises at a student: a clear line, no traceback."""

from __future__ import annotations


class GraderError(Exception):
    """Something the student can fix (a name that cannot be sent, a token, an id).

    In IPython/Jupyter the traceback is replaced by the message alone (IPython asks an
    exception for ``_render_traceback_`` first): the frames would be this package's, not
    the student's, and would bury the one line that says what to do.
    """

    def _render_traceback_(self) -> list[str]:
        return [f"\x1b[0;31m{type(self).__name__}\x1b[0m: {self}"]

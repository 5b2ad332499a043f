"""``check`` and ``submit``: grade a notebook's ``backward`` (spec §10).

``check`` grades through the same sandbox and the same :func:`grader.grade.grade` as
``backprop check``, with the same public case (student ``local``) and the instance's secret
for the hidden ones, so a notebook and the command line agree to the digit. The kernel keeps
one warm :class:`~grader.sandbox.Sandbox` (its zygote has imported torch), so only the first
check of a session pays the start-up; it is closed when the interpreter exits.
"""

from __future__ import annotations

import atexit
import os
import threading
import types
from collections.abc import Callable
from typing import Any

from backprop_grader import report
from backprop_grader.client import Client
from backprop_grader.errors import GraderError
from backprop_grader.source import Bundle, SourceError, build
from grader.result import GradeResult

_lock = threading.Lock()
_sandbox: Any = None
_sandbox_pid: int | None = None


class Report:
    """A graded result as the notebook shows it: HTML in Jupyter, a summary in ``print``.

    Reads like the :class:`~grader.result.GradeResult` it wraps (``score``, ``max_score``,
    ``status``, ``tensors``, ``message``, ``to_json()``, …; the result itself is
    ``.result``), plus ``code``: exactly what was sent.
    """

    def __init__(self, result: GradeResult, *, code: str | None = None,
                 link: str | None = None, note: str | None = None) -> None:
        self.result = result
        self.code = code
        self.link = link
        self.note = note
        #: The execution count of the cell that already displayed this report (so the
        #: cell's own output does not show it a second time).
        self._shown_in: int | None = None

    def __getattr__(self, name: str) -> Any:
        # Only called for names not found on Report: delegate to the result.
        if name.startswith("__") or name == "result":
            raise AttributeError(name)
        return getattr(self.result, name)

    def to_json(self) -> dict[str, Any]:
        """Return the result JSON of spec §4."""
        return self.result.to_json()

    def _repr_html_(self) -> str:
        return report.to_html(self.result, code=self.code, link=self.link, note=self.note)

    def _ipython_display_(self) -> None:
        """Show the report once per cell, whether ``check`` displayed it or the cell did."""
        from IPython import get_ipython
        from IPython.display import display

        count = getattr(get_ipython(), "execution_count", None)
        if count is not None and self._shown_in == count:
            return
        self._shown_in = count
        display({"text/html": self._repr_html_(), "text/plain": str(self)}, raw=True)

    def __str__(self) -> str:
        return report.to_text(self.result, link=self.link)

    def __repr__(self) -> str:
        r = self.result
        return f"<Report {r.exercise} {r.status} {r.score:g}/{r.max_score:g}>"


def check(backward: Callable[..., Any], exercise_id: str, *, student: str = "local",
          display: bool = True) -> Report:
    """Grade ``backward`` on ``exercise_id`` in the local sandbox and return the report.

    Sends the function's source plus the imports, helpers and constants it uses (see
    :mod:`backprop_grader.source`), renamed ``backward``. Inside Jupyter the report is also
    displayed (once), so ``r = check(...)`` shows it too.

    :param student: seeds the public case, like ``backprop check --student``.
    :param display: show the report in Jupyter (off: only return it).
    :raises GraderError: unknown exercise, a name that cannot be sent, a broken sandbox.
    """
    exercise = _exercise(exercise_id)
    bundle = _bundle(backward)
    from grader.grade import grade
    from grader.instance import secret_key
    from grader.sandbox import SandboxError

    with _lock:
        sandbox = _warm_sandbox()
        try:
            result = grade(exercise, bundle.code, sandbox=sandbox, student=student,
                           secret=secret_key().encode())
        except SandboxError as exc:
            raise GraderError(f"the grading sandbox failed: {exc}") from None
    return _shown(Report(result, code=bundle.code), display)


def submit(backward: Callable[..., Any], exercise_id: str, *, server: str | None = None,
           token: str | None = None, timeout: float = 300.0, display: bool = True) -> Report:
    """Send ``backward`` to a course server, wait until it is graded, return the report.

    The same module as :func:`check` is sent (POST ``/api/v1/submissions``), then the
    submission is polled until ``done``. Server results carry no arrays, so the report links
    to the submission's page for heatmaps.

    :param server: e.g. ``https://grader.example.org`` (default: ``$BACKPROP_SERVER``).
    :param token: your API token (default: ``$BACKPROP_TOKEN``).
    :raises GraderError: one line for a refused token (401), forbidden (403), unknown
        exercise (404), too large (413), rate limit (429), network failure or timeout.
    """
    server = server or os.environ.get("BACKPROP_SERVER")
    token = token or os.environ.get("BACKPROP_TOKEN")
    if not server:
        raise GraderError("submit() needs server=URL (or $BACKPROP_SERVER)")
    if not token:
        raise GraderError("submit() needs token=TOKEN (or $BACKPROP_TOKEN)")
    if not isinstance(exercise_id, str) or not exercise_id:
        raise GraderError('the exercise id must be a string such as "makemore4/ex1"')
    bundle = _bundle(backward)
    body = Client(server, token).submit_and_wait(exercise_id, bundle.code, timeout)
    try:
        result = GradeResult.from_json(body["result"])
    except (TypeError, KeyError, ValueError):
        raise GraderError("the server's result is not one this version can read") from None
    note = None
    if body.get("scoring") == "carry_forward" and body.get("counted_score") is not None:
        note = (f"this assignment counts error carried forward: {body['counted_score']:g} / "
                f"{result.max_score:g}")
    link = f"{server.rstrip('/')}/submissions/{body['id']}"
    return _shown(Report(result, code=bundle.code, link=link, note=note), display)


def public_case(exercise_id: str, *, student: str = "local") -> types.SimpleNamespace:
    """Return the ``t`` your ``backward`` receives in the public case, to try it by hand.

    The same forward pass ``check`` grades against (same seed for the same ``student``), run
    here in the notebook: ``t = public_case("makemore4/ex1"); grads = backward(t)``.
    """
    exercise = _exercise(exercise_id)
    case = exercise.cases(student, b"")[0]  # the public seed does not use the secret
    return types.SimpleNamespace(**exercise.student_inputs(exercise.forward(case)))


def _exercise(exercise_id: str) -> Any:
    from grader.registry import UnknownExercise, get_exercise

    if not isinstance(exercise_id, str):
        raise GraderError('the exercise id must be a string such as "makemore4/ex1"')
    try:
        return get_exercise(exercise_id)
    except UnknownExercise as exc:
        raise GraderError(str(exc)) from None


def _bundle(backward: Callable[..., Any]) -> Bundle:
    try:
        return build(backward)
    except SourceError as exc:
        raise GraderError(str(exc)) from None


def _warm_sandbox() -> Any:
    """Return this process's sandbox, starting it on first use (a fork gets its own)."""
    global _sandbox, _sandbox_pid
    if _sandbox is None or _sandbox_pid != os.getpid():
        from grader.sandbox import Sandbox

        _sandbox, _sandbox_pid = Sandbox(), os.getpid()
        atexit.register(_close, _sandbox)
    return _sandbox


def _close(sandbox: Any) -> None:
    if _sandbox_pid == os.getpid():
        sandbox.close()


def _shown(result: Report, display: bool) -> Report:
    """Display ``result`` now when running in a Jupyter kernel (and asked to)."""
    if display and _in_jupyter():
        from IPython.display import display as show

        show(result)
    return result


def _in_jupyter() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    return getattr(get_ipython(), "kernel", None) is not None

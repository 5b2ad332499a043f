"""The terminal report names a flag for review (never a penalty) under the score."""

from __future__ import annotations

import dataclasses
import io

from rich.console import Console

from cli.report import render
from tests.web.helpers import wrong_result


def test_report_shows_review_flags() -> None:
    flag = {"code": "possibly_numerical", "message": "backward used 812 ms of CPU, 400×"}
    out = io.StringIO()
    render(dataclasses.replace(wrong_result(), review_flags=[flag]),
           Console(file=out, width=200, color_system=None))
    text = out.getvalue()
    assert "for review: backward used 812 ms of CPU, 400×" in text
    assert "[possibly_numerical]" in text


def test_report_without_flags_says_nothing_of_review() -> None:
    out = io.StringIO()
    render(wrong_result(), Console(file=out, width=200, color_system=None))
    assert "for review" not in out.getvalue()

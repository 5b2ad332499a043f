"""``backprop_grader.submit`` (spec §10) against the real service (``backprop serve``).

Here, beside the other end-to-end tests, so it shares their live service instead of
starting one of its own.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import types
from pathlib import Path

import pytest

from backprop_grader import GraderError, Report, submit
from grader.result import GRADED
from tests.corpus_files import CORPUS
from tests.e2e.conftest import BACKPROP, INSTRUCTOR, REPO, Service

BESSEL = CORPUS / "makemore4" / "ex1" / "bug_bessel_n.py"


def _load(path: Path, name: str) -> types.ModuleType:
    """Import a corpus file as a module, so its function has a source file like a student's."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_submit_waits_for_the_server_result_and_reports_it(service: Service) -> None:
    env = {**os.environ, "BACKPROP_HOME": str(service.home)}
    token = subprocess.run([str(BACKPROP), "token", INSTRUCTOR[0]], env=env, cwd=REPO,
                           capture_output=True, text=True, timeout=120,
                           check=True).stdout.strip()
    buggy = _load(BESSEL, "notebook_submit_bessel").backward
    report = submit(buggy, "makemore4/ex1", server=service.url, token=token, timeout=120)
    assert isinstance(report, Report)
    assert (report.status, report.score, report.max_score) == (GRADED, 19.0, 26.0)
    assert report.to_json()["tensors"][0]["name"] == "logprobs"
    html = report._repr_html_()
    assert "dbndiff2 — root cause" in html and "Bessel" in html
    assert "data:image/png" not in html  # a server result has no arrays: a link instead
    assert f'href="{service.url}/submissions/' in html
    assert "def backward(t):" in html  # the code sent, folded
    with pytest.raises(GraderError, match=r"^not found \(404\): unknown exercise"):
        submit(buggy, "makemore4/nope", server=service.url, token=token)


def test_submit_errors_are_one_clear_line(service: Service) -> None:
    buggy = _load(BESSEL, "notebook_submit_bessel").backward
    with pytest.raises(GraderError, match=r"^the server did not accept your token \(401\): "):
        submit(buggy, "makemore4/ex1", server=service.url, token="wrong")
    with pytest.raises(GraderError, match=r"^cannot reach http://127\.0\.0\.1:9: connection"):
        submit(buggy, "makemore4/ex1", server="http://127.0.0.1:9", token="t")
    with pytest.raises(GraderError, match=r"needs token=TOKEN"):
        submit(buggy, "makemore4/ex1", server=service.url, token="")

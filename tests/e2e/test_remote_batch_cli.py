"""``backprop batch DIR_OR_ZIP -e ID --server URL --token TOKEN --course CODE`` against the
real service (``backprop serve``: gunicorn, a Celery worker, embedded Redis and SQLite), as
an instructor runs it from their own machine (SPEC §8)."""

from __future__ import annotations

import csv
import io
import os
import subprocess
from pathlib import Path

import pytest

from tests.e2e.conftest import BACKPROP, INSTRUCTOR, REPO, Service

pytestmark = pytest.mark.timeout(300)
COURSE = "CLI-BATCH"
CORPUS = REPO / "tests" / "corpus" / "makemore4" / "ex2"
PEOPLE = [f"cli{i}@example.org" for i in range(5)]


def backprop(service: Service, *args: str, **kw) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
    env["BACKPROP_HOME"] = str(service.home)
    return subprocess.run([str(BACKPROP), *args], env=env, cwd=REPO, capture_output=True,
                          text=True, timeout=240, stdin=subprocess.DEVNULL, **kw)


@pytest.fixture(scope="module")
def course(service: Service, tmp_path_factory) -> dict[str, str]:
    tmp = tmp_path_factory.mktemp("cli-batch")
    for args in (("course", "add", COURSE, "--instructor", INSTRUCTOR[0]),
                 ("assignment", "add", COURSE, "makemore4/ex2")):
        out = backprop(service, *args)
        assert out.returncode == 0, out.stderr
    roster = tmp / "roster.csv"
    roster.write_text("email,name\n" + "".join(f"{p},Student {i}\n"
                                                 for i, p in enumerate(PEOPLE)))
    out = backprop(service, "roster", "import", COURSE, str(roster))
    assert out.returncode == 0, out.stderr
    token = backprop(service, "token", INSTRUCTOR[0]).stdout.strip()
    folder = tmp / "class"
    (folder / "nested").mkdir(parents=True)
    files = ["lecture.py", "bug_sign.py", "one_hot.py", "bug_no_1_over_n.py", "fused.py"]
    for person, name in zip(PEOPLE, files, strict=True):
        target = folder / ("nested" if person.endswith("4@example.org") else "") / \
            f"{person}.py"
        target.write_text((CORPUS / name).read_text())
    (folder / "stranger.py").write_text((CORPUS / "lecture.py").read_text())
    (folder / ".hidden.py").write_text("junk")
    return {"token": token, "folder": str(folder), "tmp": str(tmp)}


def test_a_folder_through_the_service_then_again(service: Service, course: dict) -> None:
    out_csv = Path(course["tmp"]) / "out.csv"
    args = ("batch", course["folder"], "-e", "makemore4/ex2", "--server", service.url,
            "--token", course["token"], "--course", COURSE)
    run = backprop(service, *args, "-o", str(out_csv))
    assert run.returncode == 0, run.stderr
    assert "5 submitted" in run.stderr and "1 unmatched" in run.stderr, run.stderr
    assert "stranger.py" in run.stderr and "assign or confirm these files" in run.stderr
    rows = list(csv.DictReader(io.StringIO(out_csv.read_text())))
    assert sorted(r["student"] for r in rows) == sorted(PEOPLE)
    scores = {r["student"]: (float(r["score"]), r["status"]) for r in rows}
    assert scores == {PEOPLE[0]: (1.0, "graded"), PEOPLE[1]: (0.0, "graded"),
                      PEOPLE[2]: (1.0, "graded"), PEOPLE[3]: (0.0, "graded"),
                      PEOPLE[4]: (1.0, "graded")}

    # the same folder again: nothing graded twice, the CSV still complete (on stdout)
    again = backprop(service, *args)
    assert again.returncode == 0, again.stderr
    assert "5 duplicate" in again.stderr, again.stderr
    rows_again = list(csv.DictReader(io.StringIO(again.stdout)))
    assert [(r["student"], r["score"]) for r in rows_again] == \
        [(r["student"], r["score"]) for r in rows]


def test_clear_errors(service: Service, course: dict, tmp_path: Path) -> None:
    base = ("-e", "makemore4/ex2", "--server", service.url, "--course", COURSE)
    out = backprop(service, "batch", course["folder"], *base, "--token", "wrong")
    assert out.returncode == 1 and "401" in out.stderr and "Traceback" not in out.stderr
    bad = tmp_path / "evil.zip"
    import zipfile

    with zipfile.ZipFile(bad, "w") as z:
        z.writestr("../evil.py", "x")
    out = backprop(service, "batch", str(bad), *base, "--token", course["token"])
    assert out.returncode == 1 and "outside the archive" in out.stderr, out.stderr
    out = backprop(service, "batch", course["folder"], "-e", "makemore4/ex2", "--server",
                   "http://127.0.0.1:9", "--token", "t", "--course", COURSE)
    assert out.returncode == 1 and "cannot reach" in out.stderr, out.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    out = backprop(service, "batch", str(empty), *base, "--token", course["token"])
    assert out.returncode == 2 and "no .py files" in out.stderr

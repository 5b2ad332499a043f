"""Reading files outside the sandbox: a world-readable secret under /tmp, a secret in the test's
tmp dir, the instance folder's secret_key, the test corpus and the shared spec. Under bwrap none
of them exists in the jail's private root; each read must fail."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from grader import instance
from tests.adversarial.attack_helpers import CORRECT_EX2, assert_survives, grade_quick

REPO = Path(__file__).resolve().parents[2]


def probe(paths: list[str]) -> str:
    """Plain-Python code (no torch) that tries to read each path, directly and sideways."""
    return f'''
import os
def show(path):
    try:
        with open(path, "rb") as f:
            print("READ", path, f.read(4096).decode(errors="replace"))
    except OSError as exc:
        print("DENIED", path, type(exc).__name__)
for path in {paths!r}:
    show(path)
    show("/proc/self/root" + path)
    show("/proc/1/root" + path)
    show("/proc/1/cwd/" + os.path.basename(path))
    try:
        print("LISTED", os.path.dirname(path), os.listdir(os.path.dirname(path)))
    except OSError as exc:
        print("DENIED-LIST", os.path.dirname(path), type(exc).__name__)
'''


@pytest.fixture
def secrets(tmp_path: Path) -> dict[str, str]:
    """Secret files the grader can read; return path → content."""
    token = uuid.uuid4().hex
    shared = Path(f"/tmp/backprop-adversarial-{token}")
    shared.mkdir(mode=0o755)
    world = shared / "secret.txt"
    world.write_text(f"world-readable-{token}")
    world.chmod(0o644)
    private = tmp_path / "secret.txt"
    private.write_text(f"private-{token}")
    private.chmod(0o644)
    key = instance.secret_key()  # creates BACKPROP_HOME/secret_key (0600) if needed
    corpus = REPO / "tests" / "corpus" / "makemore4" / "ex1" / "lecture.py"
    # a file beside the checkout (course material, another project's secrets)
    beside = REPO.parent / f"backprop-adversarial-{token}.txt"
    try:
        beside.write_text(f"beside-the-checkout-{token}")
    except OSError:
        beside = world
    out = {str(world): world.read_text(), str(private): private.read_text(),
           str(instance.home() / "secret_key"): key,
           str(corpus): corpus.read_text()[:200], str(beside): beside.read_text()}
    yield out
    world.unlink()
    shared.rmdir()
    beside.unlink(missing_ok=True)


def test_files_outside_the_jail_are_unreadable(sandbox, secrets) -> None:
    result = grade_quick(sandbox, probe(list(secrets)) + CORRECT_EX2)
    assert result.status == "graded" and result.score == 1.0, result.message
    out = result.stdout
    assert "truncated" not in out
    for path, content in secrets.items():
        assert f"DENIED {path} " in out, f"{path} was readable:\n{out[:3000]}"
        assert content[:60] not in out, f"the content of {path} leaked"
        assert f"READ {path}" not in out
    assert "LISTED /tmp/backprop-adversarial-" not in out
    assert_survives(sandbox)


def test_probe_reads_them_without_the_sandbox(secrets) -> None:
    """Control: the same probe, unsandboxed, reads every one of them (so the test can fail)."""
    proc = subprocess.run([sys.executable, "-c", probe(list(secrets))], capture_output=True,
                          text=True, timeout=60)
    for path, content in secrets.items():
        if not content.startswith("absent-"):
            assert f"READ {path}" in proc.stdout, path


def test_world_readable_tmp_file_is_readable_by_another_uid(secrets) -> None:
    """Control for the jail specifically: a mere uid drop would NOT protect the /tmp secret
    (it is 0644 in a 0755 dir), so its DENIED above is the private root's doing."""
    world = next(p for p in secrets if p.startswith("/tmp/backprop-adversarial-"))
    proc = subprocess.run(
        [sys.executable, "-c", f"import os; os.setgid(65534); os.setuid(65534); "
                               f"print(open({world!r}).read())"],
        capture_output=True, text=True, timeout=60)
    assert secrets[world] in proc.stdout, proc.stderr
    assert os.geteuid() == 0

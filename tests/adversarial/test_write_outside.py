"""Writing outside the job's temp dir: to the host's /tmp, the repository, the home dir, the
test's tmp dir, the instance folder, the grader package and site-packages (where a .pth or
sitecustomize would run code in the grader). None of the host files may appear or change."""

from __future__ import annotations

import site
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from grader import instance
from tests.adversarial.attack_helpers import CORRECT_EX2, assert_survives, grade_quick

REPO = Path(__file__).resolve().parents[2]


def probe(paths: list[str], canary: str) -> str:
    return f'''
import os
def attempt(path, data=b"pwned"):
    try:
        with open(path, "wb") as f:
            f.write(data)
        print("WROTE", path)
    except OSError as exc:
        print("DENIED", path, type(exc).__name__)
for path in {paths!r}:
    attempt(path)
attempt({canary!r})
try:
    os.symlink("/etc/passwd", "link")
    print("LINKED in own dir")
except OSError as exc:
    print("NOLINK", type(exc).__name__)
try:
    os.chmod({canary!r}, 0o777)
    print("CHMODDED")
except OSError as exc:
    print("NOCHMOD", type(exc).__name__)
'''


@pytest.fixture
def targets(tmp_path: Path) -> tuple[list[Path], Path, str]:
    tag = uuid.uuid4().hex[:12]
    home = Path("~").expanduser()
    site_dir = Path(site.getsitepackages()[0])
    paths = [
        Path(f"/tmp/evil-{tag}"),
        Path(f"/var/tmp/evil-{tag}"),
        Path(f"/dev/shm/evil-{tag}"),
        REPO / f"evil-{tag}",
        REPO / "tests" / f"evil-{tag}.py",
        REPO / "grader" / f"evil_{tag}.py",
        home / f"evil-{tag}",
        tmp_path / f"evil-{tag}",
        instance.home() / f"evil-{tag}",
        site_dir / f"evil-{tag}.pth",
        site_dir / "sitecustomize.py" if not (site_dir / "sitecustomize.py").exists()
        else site_dir / f"evil-{tag}-sitecustomize.py",
    ]
    canary = tmp_path / "canary.txt"
    canary.write_text(f"canary-{tag}")
    canary.chmod(0o644)
    yield paths, canary, f"canary-{tag}"
    for p in paths:  # a failed run must not leave the evidence behind
        p.unlink(missing_ok=True)


def test_nothing_outside_the_sandbox_changes(sandbox, targets) -> None:
    paths, canary, canary_text = targets
    stat_before = canary.stat()
    result = grade_quick(sandbox, probe([str(p) for p in paths], str(canary)) + CORRECT_EX2)
    assert result.status == "graded" and result.score == 1.0, result.message
    for p in paths:
        assert not p.exists(), f"the submission created {p}"
        assert f"WROTE {p}" not in result.stdout
        assert f"DENIED {p}" in result.stdout
    assert canary.read_text() == canary_text
    assert canary.stat().st_mode == stat_before.st_mode
    assert canary.stat().st_mtime_ns == stat_before.st_mtime_ns
    assert "CHMODDED" not in result.stdout
    assert not (REPO / "link").exists()
    assert_survives(sandbox)


def test_probe_writes_them_without_the_sandbox(targets) -> None:
    """Control: unsandboxed, the probe does create the files (so the test can fail)."""
    paths, canary, canary_text = targets
    proc = subprocess.run([sys.executable, "-c", probe([str(p) for p in paths[:5]],
                                                       str(canary))],
                          capture_output=True, text=True, timeout=60, cwd=canary.parent)
    for p in paths[:5]:
        assert p.exists(), proc.stdout
        p.unlink()
    assert canary.read_text() == "pwned"

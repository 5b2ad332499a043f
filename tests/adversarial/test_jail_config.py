"""The jail's own configuration, checked without running anything: what bwrap is asked to do.
(The attacks in the other files check that it is actually done.)"""

from __future__ import annotations

from pathlib import Path

from grader import instance
from grader.sandbox import jail

REPO = Path(jail.__file__).resolve().parents[2]


def _pairs(argv: list[str], flag: str) -> list[tuple[int, str]]:
    return [(i, argv[i + 2]) for i, a in enumerate(argv) if a == flag]


def _binds(argv: list[str]) -> list[str]:
    return [argv[i + 2] for i, a in enumerate(argv) if a in ("--ro-bind", "--ro-bind-try")]


def _exposed(binds: list[str], path: Path) -> list[str]:
    """The binds through which ``path`` would be visible in the jail."""
    p = str(path)
    return [b for b in binds if p == b or p.startswith(b.rstrip("/") + "/")]


def test_bwrap_argv_isolates() -> None:
    argv = jail.bwrap_argv("/usr/bin/bwrap", REPO)
    for flag in ("--unshare-net", "--unshare-pid", "--unshare-ipc", "--die-with-parent",
                 "--new-session"):
        assert flag in argv, flag
    assert "--bind" not in argv, "nothing of the host may be mounted writable"
    assert "--dev-bind" not in argv
    binds = _binds(argv)
    sensitive = [REPO / "tests", REPO / ".git", instance.home(), Path("/tmp"), Path("/run"),
                 Path("/var/run"), Path("/etc/shadow"), Path("/etc/passwd"),
                 Path("/work/shared"), Path.home() / ".ssh"]
    for path in sensitive:
        assert not _exposed(binds, path), (path, _exposed(binds, path))


def test_a_script_dir_on_sys_path_is_not_exposed(monkeypatch, tmp_path: Path) -> None:
    home = tmp_path / "teacher-home"
    (home / "private").mkdir(parents=True)
    monkeypatch.syspath_prepend(str(home))
    argv = jail.bwrap_argv("/usr/bin/bwrap", REPO)
    assert not _exposed(_binds(argv), home / "private"), _exposed(_binds(argv), home)


def test_tmpfs_does_not_hide_binds_under_tmp() -> None:
    argv = jail.bwrap_argv("/usr/bin/bwrap", Path("/tmp/checkout"))
    tmpfs_at = next(i for i, a in enumerate(argv) if a == "--tmpfs" and argv[i + 1] == "/tmp")
    for i, a in enumerate(argv):
        if a == "--ro-bind" and argv[i + 2].startswith("/tmp/"):
            assert i > tmpfs_at, f"{argv[i + 2]} is bound before /tmp is replaced"

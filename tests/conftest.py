"""Shared fixtures: one warm sandbox for the whole session (its zygote imports torch once)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from grader.sandbox import Sandbox


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    """Return a real sandbox (zygote + forked children), shared by the session."""
    with Sandbox() as sb:
        sb.ensure_ready()
        yield sb


@pytest.fixture(scope="session", autouse=True)
def _session_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Point ``BACKPROP_HOME`` at the session's folder before any other fixture runs
    (module-scoped ones start before the per-test ``_isolated_home``), and afterwards stop the
    grading daemon that ``backprop check`` tests started there (it would idle for 15 min)."""
    home = tmp_path_factory.getbasetemp() / "home"
    before = os.environ.get("BACKPROP_HOME")
    os.environ["BACKPROP_HOME"] = str(home)
    # Nor may a module-scoped fixture's admin command leave a preloader behind
    # (tests/cli/test_preload.py turns it back on for itself).
    os.environ["BACKPROP_NO_PRELOAD"] = "1"
    yield
    from cli import daemon

    daemon.stop(daemon.paths(home))
    if before is None:
        os.environ.pop("BACKPROP_HOME", None)
    else:
        os.environ["BACKPROP_HOME"] = before


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) \
        -> None:
    """Keep every test's instance folder out of the real home directory."""
    monkeypatch.setenv("BACKPROP_HOME", str(tmp_path_factory.getbasetemp() / "home"))
    # No admin-command preloader left behind by every CLI test (tests/cli/test_preload.py
    # tests it on purpose).
    monkeypatch.setenv("BACKPROP_NO_PRELOAD", "1")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    os.environ.pop("SECRET_KEY", None)


#: What ``backprop batch`` and ``backprop validate`` pin for their own process (one thread,
#: workers forked): run in process through CliRunner, they must not pin the rest of the run.
_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


@pytest.fixture(autouse=True)
def _restore_threads() -> Iterator[None]:
    """Restore the thread settings a test's in-process command changed.

    A daemon or worker a later test starts inherits the environment, and torch's thread
    count decides float rounding: a leaked ``OMP_NUM_THREADS=1`` made a daemon's reference
    gradients differ from this process's in the last bit (the daemon-vs-in-process verdict
    test compares max diffs exactly).
    """
    import sys

    env = {k: os.environ.get(k) for k in _THREAD_VARS}
    torch = sys.modules.get("torch")
    threads = torch.get_num_threads() if torch is not None else None
    yield
    for k, v in env.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    if torch is not None and torch.get_num_threads() != threads:
        torch.set_num_threads(threads)

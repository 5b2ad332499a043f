"""Unit tests of the sandbox's kernel walls and cleanup, each in a forked process of its own:
the seccomp filter (no thread, no process, signals only to itself), the Landlock layers (no
reads of a hidden tree, writes beneath the job directory only) and ``remove_tree`` on
directory trees built to break a recursive removal."""

from __future__ import annotations

import json
import os
import stat
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

from grader.sandbox import landlock, seccomp, zygote


def in_fork(body: Callable[[], dict]) -> dict:
    """Run ``body`` in a forked child (whatever it confines stays there); return its dict."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            out = body()
        except BaseException as exc:  # noqa: BLE001
            out = {"crash": f"{type(exc).__name__}: {exc}"}
        os.write(w, json.dumps(out).encode())
        os._exit(0)
    os.close(w)
    _, status = os.waitpid(pid, 0)
    data = b""
    while chunk := os.read(r, 65536):
        data += chunk
    os.close(r)
    assert data, f"the child died: status {status}"
    out = json.loads(data)
    assert "crash" not in out, out["crash"]
    return out


def attempt(fn: Callable[[], object]) -> str:
    try:
        fn()
        return "done"
    except OSError as exc:
        return f"errno {exc.errno}"
    except RuntimeError as exc:
        return f"RuntimeError {exc}"


@pytest.mark.skipif(not seccomp.supported(), reason="no seccomp filter for this architecture")
def test_seccomp_one_thread_one_process_signals_to_itself() -> None:
    import _thread

    parent = os.getpid()

    def body() -> dict:
        import threading
        import time

        control = threading.Thread(target=lambda: None)
        before = {"thread": attempt(control.start), "threads": seccomp.thread_counter()()}
        control.join()
        # join() returns before the kernel has reaped the thread: wait (bounded) until it
        # is gone, so the count after the filter is the filter's doing, not a race.
        count = seccomp.thread_counter()
        for _ in range(1000):
            if count() == 1:
                break
            time.sleep(0.01)
        seccomp.install()
        return {**before,
                "thread_after": attempt(lambda: _thread.start_new_thread(lambda: None, ())),
                "fork": attempt(os.fork),
                "kill_parent": attempt(lambda: os.kill(parent, 0)),
                "kill_self": attempt(lambda: os.kill(os.getpid(), 0)),
                "threads_after": seccomp.thread_counter()()}

    out = in_fork(body)
    assert out["thread"] == "done"  # the positive control: before the filter, a thread starts
    assert out["thread_after"].startswith("RuntimeError"), out  # can't start new thread
    assert out["fork"] == "errno 1", out
    assert out["kill_parent"] == "errno 1", out
    assert out["kill_self"] == "done", out
    assert out["threads_after"] == 1


def test_seccomp_program_refuses_another_abi() -> None:
    prog = seccomp.program(1234, "x86_64")
    assert len(prog) % 8 == 0 and len(prog) // 8 < 256
    with pytest.raises(seccomp.Unsupported):
        seccomp.program(1, "sparc")


@pytest.mark.skipif(not landlock.abi(), reason="this kernel has no Landlock")
def test_landlock_hides_a_tree_and_confines_writes(tmp_path: Path) -> None:
    hidden = tmp_path / "pkg" / "sympy"
    hidden.mkdir(parents=True)
    (hidden / "__init__.py").write_text("SECRET = 1\n")
    (tmp_path / "pkg" / "other.py").write_text("OK = 1\n")
    job = tmp_path / "job"
    job.mkdir()
    outside = tmp_path / "outside.txt"
    version = landlock.abi()
    layer = landlock.read_ruleset([str(tmp_path), "/proc", "/dev", sys.prefix, sys.base_prefix],
                                  [str(hidden)], version)
    unlisted = Path(tempfile.mkdtemp())  # not in the read layer: as a home directory would be
    (unlisted / "private.txt").write_text("private")

    def body() -> dict:
        import ctypes

        ctypes.CDLL(None).prctl(38, 1, 0, 0, 0)  # PR_SET_NO_NEW_PRIVS
        landlock.restrict(layer, str(job), version)
        fd = os.open("/proc/self/mem", os.O_RDONLY)
        return {"hidden": attempt(lambda: (hidden / "__init__.py").read_text()),
                "hidden_via_dotdot": attempt(
                    lambda: Path(f"{hidden}/../sympy/__init__.py").read_text()),
                "sibling": attempt(lambda: (tmp_path / "pkg" / "other.py").read_text()),
                "write_job": attempt(lambda: (job / "x.txt").write_text("x")),
                "rename_in_job": attempt(lambda: (job / "x.txt").rename(job / "y.txt")),
                "write_outside": attempt(lambda: outside.write_text("x")),
                "write_mem": attempt(lambda: open("/proc/self/mem", "r+b")),
                "reopen_fd": attempt(lambda: open(f"/dev/fd/{fd}", "r+b")),
                "dev_null": attempt(lambda: open("/dev/null", "w").write("x")),
                "unlisted": attempt(lambda: (unlisted / "private.txt").read_text()),
                "read_back": attempt(lambda: (job / "y.txt").read_text())}

    out = in_fork(body)
    assert out["sibling"] == "done" and out["write_job"] == "done", out  # positive controls
    assert out["rename_in_job"] == "done" and out["dev_null"] == "done", out
    assert out["read_back"] == "done", out
    for key in ("hidden", "hidden_via_dotdot", "write_outside", "write_mem", "reopen_fd",
                "unlisted"):
        assert out[key] == "errno 13", (key, out)  # EACCES
    assert not outside.exists()
    (unlisted / "private.txt").unlink()
    unlisted.rmdir()


def _deep_tree(root: Path, depth: int) -> None:
    """Build a tree deeper than PATH_MAX allows to name, one relative mkdir at a time."""
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for i in range(depth):
            os.mkdir("d", dir_fd=fd)
            if i % 100 == 0:
                os.close(os.open(f"f{i}", os.O_WRONLY | os.O_CREAT, 0o600, dir_fd=fd))
            new = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = new
    finally:
        os.close(fd)


def test_remove_tree_survives_what_rmtree_does_not(tmp_path: Path) -> None:
    import shutil

    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "keep.txt").write_text("not in the tree")
    job = Path(tempfile.mkdtemp(dir=tmp_path))
    _deep_tree(job, 3000)  # 3000 levels: shutil.rmtree raises RecursionError here
    locked = job / "locked" / "inner"
    locked.mkdir(parents=True)
    (locked / "f").write_text("x")
    os.chmod(locked, 0)  # unreadable
    os.chmod(job / "locked", stat.S_IRUSR | stat.S_IXUSR)  # read-only
    os.symlink(victim, job / "to-victim")  # never followed
    os.symlink("/", job / "to-root")
    os.mkfifo(job / "fifo")
    many = job / "many"
    many.mkdir()
    for i in range(2000):
        (many / f"{i}").touch()
    copy = Path(tempfile.mkdtemp(dir=tmp_path))
    _deep_tree(copy, 3000)
    with pytest.raises((RecursionError, OSError)):
        shutil.rmtree(copy)  # the failure this replaces (keeps the test honest)
    zygote.remove_tree(str(job))
    assert not job.exists()
    assert (victim / "keep.txt").read_text() == "not in the tree"
    zygote.remove_tree(str(copy))
    assert not copy.exists()


def test_remove_tree_refuses_a_symlink_at_the_top(tmp_path: Path) -> None:
    target = tmp_path / "target"
    target.mkdir()
    (target / "f").write_text("x")
    link = tmp_path / "link"
    link.symlink_to(target)
    with pytest.raises(OSError):
        zygote.remove_tree(str(link))
    assert (target / "f").exists()


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))


#: Run in a fresh interpreter (never a fork of this multi-threaded test process: a fork after
#: torch's thread pool started hangs in its first parallel op).
SECOND_WALL = r"""
import json, sys
import torch
torch.set_num_threads(1)
import torch.nn.functional as F
from grader.sandbox import guard

set_grad = torch._C._set_grad_enabled  # the original, saved before the guard replaces it
guard._apply()                         # what the zygote does
set_grad(True)
x = torch.randn(4, 5)
torch._C.TensorBase.requires_grad_(x, True)
loss = F.cross_entropy(x, torch.tensor([0, 1, 2, 3]))
out = {"grad_mode": torch.is_grad_enabled(), "grad_fn": repr(loss.grad_fn)}
op = torch.ops.aten._log_softmax.default
keys = torch._C._dispatch_keys(x)
doors = {
    "redispatch": lambda: op.redispatch(keys, x, 1, False),
    "op_dk": lambda: op._op_dk(torch._C.DispatchKey.AutogradCPU, x, 1, False),
    "python_dispatcher": lambda: torch._C._EnablePythonDispatcher(),
    "lift_exclusion": lambda: torch._C._dispatch_tls_set_dispatch_key_excluded(
        torch._C.DispatchKey.AutogradFunctionality, False),
    # the engine's immutable class, as object.__subclasses__() would hand it out
    "engine": lambda: guard._PLAN.static_dead[0][0]().run_backward(
        (x.sum(),), (torch.ones(()),), False, True, (x,), True, False),
}
for name, call in doors.items():
    try:
        call()
        out[name] = "done"
    except guard.AutogradForbidden:
        out[name] = "dead"
print("RESULT " + json.dumps(out))
"""


def test_no_operator_records_a_node_even_with_grad_mode_on() -> None:
    """The second wall, on its own: after the guard is applied (as in the zygote), even if grad
    mode were on (here turned on with the original setter, saved before), no operator records
    a graph node — autograd's dispatch keys are excluded — and the doors that would call an
    operator at a chosen key, through the Python dispatcher or the engine are dead ends."""
    import subprocess

    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run([sys.executable, "-c", SECOND_WALL], capture_output=True, text=True,
                          timeout=240, cwd=root, env={**os.environ, "OMP_NUM_THREADS": "1"})
    lines = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
    assert lines, proc.stdout[-2000:] + proc.stderr[-3000:]
    out = json.loads(lines[0][len("RESULT "):])
    assert out["grad_mode"] is True  # the premise: grad mode is on
    assert out["grad_fn"] == "None", out  # and still no node
    for door in ("redispatch", "op_dk", "python_dispatcher", "lift_exclusion", "engine"):
        assert out[door] == "dead", (door, out)

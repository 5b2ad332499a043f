"""Red team: the job directory as a weapon against its own cleanup. The zygote removes each
job's directory after the job; a submission builds a tree meant to make that fail or hang or
follow a link out: 3000 levels deep (past PATH_MAX and Python's recursion limit), 200-byte
names at every level, unreadable (000) and read-only (500) directories at many depths (and the
job directory itself locked), symlinks out of it, fifos and unix sockets, 12,000 small files,
names that are not UTF-8.

Expected after each: the submission is graded normally (its own work is not the grader's
problem), ``sandbox.restarts`` unchanged (the zygote never had to be replaced: it exits when it
cannot remove a job's files), the same zygote grades the correct answer to full marks, and a
batch of such files interleaved with correct ones keeps grading with 0 restarts.
"""

from __future__ import annotations

import pytest

from grader import grade
from tests.adversarial.attack_helpers import (
    CORRECT_EX2,
    EX2,
    assert_survives,
    ex2,
    grade_quick,
    zygote_pids,
)

#: Only on the first call (the child serves every case; the tree outlives the calls).
HEADER = "import os, socket, stat\nDONE = []\n"
ONCE = "    if not DONE:\n        DONE.append(1)\n"


def _once(body: str) -> str:
    return ONCE + "".join(f"        {line}\n" for line in body.strip("\n").splitlines())


TREES = {
    "deep-3000-dirfd-long-names": _once("""
fd = os.open(".", os.O_RDONLY)
for i in range(3000):
    os.mkdir("n" * 200, dir_fd=fd)
    nfd = os.open("n" * 200, os.O_RDONLY, dir_fd=fd)
    os.close(fd)
    fd = nfd
with open(os.open("leaf", os.O_WRONLY | os.O_CREAT, 0o600, dir_fd=fd), "w") as f:
    f.write("x")
os.close(fd)
print("TREE_BUILT")
"""),
    "deep-1500-chdir": _once("""
top = os.open(".", os.O_RDONLY)
for i in range(1500):
    os.mkdir("d")
    os.chdir("d")
open("leaf", "w").write("x")
os.fchdir(top)
print("TREE_BUILT")
"""),
    "makedirs-relative-chain": _once("""
top = os.open(".", os.O_RDONLY)
for i in range(300):
    os.makedirs("a/b/c/d/e")
    os.chdir("a/b/c/d/e")
os.fchdir(top)
print("TREE_BUILT")
"""),
    "perms-000-and-500-at-depths": _once("""
top = os.open(".", os.O_RDONLY)
made = []
for i in range(40):
    os.mkdir("p")
    open("p/f", "w").write("x")
    os.chdir("p")
    if i % 4 == 0:
        made.append(os.open(".", os.O_RDONLY))
for i, fd in enumerate(reversed(made)):
    os.fchmod(fd, 0o000 if i % 2 else 0o500)
    os.close(fd)
os.fchdir(top)
os.mkdir("ro"); open("ro/f", "w").write("x"); os.chmod("ro", 0o500)
os.mkdir("none"); os.mkdir("none/sub"); open("none/sub/f", "w").close(); os.chmod("none", 0)
os.mkdir("wo"); open("wo/f", "w").close(); os.chmod("wo", 0o300)
print("TREE_BUILT")
"""),
    "deep-with-000-every-500": _once("""
top = os.open(".", os.O_RDONLY)
fds = []
for i in range(2000):
    os.mkdir("q")
    os.chdir("q")
    if i % 500 == 0:
        fds.append(os.open(".", os.O_RDONLY))
open("leaf", "w").close()
for fd in fds:
    os.fchmod(fd, 0)
    os.close(fd)
os.fchdir(top)
print("TREE_BUILT")
"""),
    "job-dir-itself-locked": _once("""
os.mkdir("sub"); open("sub/x", "w").close(); os.chmod("sub", 0)
open("file", "w").close(); os.chmod("file", 0)
os.chmod(".", 0o000)
print("TREE_BUILT")
"""),
    "job-dir-read-only": _once("""
os.makedirs("a/b"); open("a/b/f", "w").close()
os.chmod("a/b", 0o500); os.chmod("a", 0o500); os.chmod(".", 0o500)
print("TREE_BUILT")
"""),
    "fifo-socket-files": _once("""
os.mkfifo("fifo")
s = socket.socket(socket.AF_UNIX)
s.bind("sock")
os.mkdir("x"); os.mkfifo("x/fifo"); os.chmod("x", 0)
print("TREE_BUILT")
"""),
    "many-small-files": _once("""
for i in range(10000):
    with open(f"f{i}", "wb") as f:
        f.write(b"x")
os.makedirs("a/b/c")
for i in range(2000):
    open(f"a/b/c/g{i}", "w").close()
print("TREE_BUILT")
"""),
    "odd-names": _once("""
for name in (b"\\xff\\xfe", b"new\\nline", b"-rf", b"...", b" ", b"\\x1b[2J", b".." + b"x" * 250):
    os.mkdir(name)
    with open(name + b"/f", "wb") as f:
        f.write(b"x")
print("TREE_BUILT")
"""),
    "open-fds-into-the-tree": _once("""
os.makedirs("a/b/c")
KEEP = [os.open("a/b/c", os.O_RDONLY), os.open("a", os.O_RDONLY)]
os.chdir("a/b/c")
print("TREE_BUILT")
"""),
}

#: Links out of the job directory: creating them is refused (so the cleanup never meets one).
LINKS = _once("""
for target in ("/", "/tmp", "..", "/proc/1/root", "/usr", os.getcwd() + "/.."):
    try:
        os.symlink(target, "l%d" % len(os.listdir(".")))
        print("SYMLINK_MADE", target)
    except OSError as e:
        print("NOSYMLINK", type(e).__name__)
for src in ("/etc/hostname", "/usr/bin/env"):
    try:
        os.link(src, "h%d" % len(os.listdir(".")))
        print("HARDLINK_MADE", src)
    except OSError as e:
        print("NOHARDLINK", type(e).__name__)
""")


def _check_tree(sandbox, attack: str, marker: str = "TREE_BUILT") -> None:
    trusted, restarts = zygote_pids(sandbox), sandbox.restarts
    result = grade_quick(sandbox, ex2(header=HEADER, before=attack), wall_seconds=20,
                         cpu_seconds=20)
    assert (result.status, result.score) == ("graded", 1.0), (result.message, result.stdout)
    assert marker in result.stdout, result.stdout[-300:]
    assert sandbox.restarts == restarts
    assert_survives(sandbox, trusted)
    # and again: the next job's directory is fine too
    again = grade_quick(sandbox, CORRECT_EX2)
    assert (again.status, again.score) == ("graded", 1.0), again.message
    assert sandbox.restarts == restarts
    assert zygote_pids(sandbox) == trusted


@pytest.mark.parametrize("name", list(TREES))
def test_hostile_tree_is_cleaned_up(sandbox, name: str) -> None:
    _check_tree(sandbox, TREES[name])


def test_links_out_of_the_job_dir(sandbox) -> None:
    trusted, restarts = zygote_pids(sandbox), sandbox.restarts
    result = grade_quick(sandbox, ex2(header=HEADER, before=LINKS))
    assert (result.status, result.score) == ("graded", 1.0), result.message
    assert "SYMLINK_MADE" not in result.stdout and "HARDLINK_MADE" not in result.stdout, \
        result.stdout
    assert "NOSYMLINK" in result.stdout
    assert sandbox.restarts == restarts
    assert_survives(sandbox, trusted)


def test_the_next_job_sees_a_fresh_directory(sandbox) -> None:
    """What one job leaves is gone for the next (and the job dir starts empty)."""
    plant = _once('open("planted", "w").write("x")\nprint("CWD", os.getcwd())')
    first = grade_quick(sandbox, ex2(header=HEADER, before=plant))
    assert first.status == "graded", first.message
    look = ("    print('ENTRIES', sorted(os.listdir('.')))\n"
            "    print('CWD', os.getcwd())\n")
    second = grade_quick(sandbox, ex2(header="import os\n", before=look))
    assert "ENTRIES []" in second.stdout, second.stdout[-300:]
    cwd1 = [x for x in first.stdout.splitlines() if x.startswith("CWD")][0]
    cwd2 = [x for x in second.stdout.splitlines() if x.startswith("CWD")][0]
    assert cwd1 != cwd2


def test_batch_of_hostile_trees_keeps_grading(sandbox) -> None:
    """Hostile trees interleaved with correct answers through grade(): every correct answer
    full marks, every hostile one graded, and the zygote never replaced."""
    restarts, trusted = sandbox.restarts, zygote_pids(sandbox)
    names = ["perms-000-and-500-at-depths", "job-dir-itself-locked", "fifo-socket-files",
             "deep-with-000-every-500", "odd-names", "job-dir-read-only"]
    for name in names:
        hostile = grade(EX2, ex2(header=HEADER, before=TREES[name]), sandbox=sandbox,
                        student=f"tree-{name}", secret=b"k")
        assert hostile.status == "graded", (name, hostile.message)
        correct = grade(EX2, CORRECT_EX2, sandbox=sandbox, student="ok", secret=b"k")
        assert (correct.status, correct.score) == ("graded", 1.0), (name, correct.message)
    assert sandbox.restarts == restarts
    assert zygote_pids(sandbox) == trusted

"""Issue 14 red team: a submission that makes the web's ``compile()`` eat the machine.

The web compiles every submitted file (``grader.grade.compile_error``) to answer a syntax
error at once. CPython 3.11's AST optimizer folds constant expressions while compiling, and
keeps every partial result alive until compile returns: ``'a'*4096 + 'b'*4096 + …`` caps each
product at 4096 characters but not the sums, so 18 KB of source took 7.8 GB and 15 s of the
web process. The fix estimates what folding would allocate from the parsed tree (which folds
nothing) and leaves such a file to the sandbox, which compiles behind its memory walls (and
now says so when compile() meets them, instead of dying with status 70).

Each attack runs in a child Python whose address space is capped at 1 GiB above what it has
mapped once torch is imported, so that a regression cannot take the host down: the optimizer
swallows its own MemoryError and stops folding, so the child measures how far its peak
resident memory grew instead (without the fix: to the cap; with it: nothing to speak of).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap

from grader.grade import FOLD_BUDGET, compile_error, folding_bytes, grade
from grader.registry import get_exercise
from grader.result import ERROR
from grader.sandbox import Sandbox

#: Runs ``compile_error`` on each source of a JSON list read from stdin, under a 1 GiB
#: address-space cap; prints, for each, how far peak memory grew and the result (JSON).
_CHILD = textwrap.dedent("""
    import json, resource, sys
    def peak():
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    from grader.grade import compile_error
    from grader.registry import get_exercise
    ex = get_exercise("makemore4/ex1")
    sources = json.load(sys.stdin)
    vm = next(int(line.split()[1]) * 1024 for line in open("/proc/self/status")
              if line.startswith("VmSize:"))
    resource.setrlimit(resource.RLIMIT_AS, (vm + 2**30, vm + 2**30))
    answers = []
    for source in sources:
        before = peak()
        result = compile_error(ex, source)
        answers.append({"grew": peak() - before,
                        "result": None if result is None else result.to_json()})
    print(json.dumps(answers))
""")

STRING_SUMS = "x = (" + "+".join(f"'{chr(97 + i % 26)}'*4096" for i in range(2000)) + ")\n"
TUPLE_SUMS = "x = (" + "+".join("(0,)*256" for _ in range(1500)) + ")\n"
BALANCED = "x = " + "+".join("(" + "+".join(["'q'*4096"] * 64) + ")" for _ in range(300)) + "\n"


def test_folding_bombs_are_left_to_the_sandbox() -> None:
    """The web neither folds a bomb nor calls it a compile error: the sandbox grades it."""
    bombs = {"string-sums": STRING_SUMS, "tuple-sums": TUPLE_SUMS, "balanced": BALANCED}
    for source in bombs.values():
        assert folding_bytes(ast.parse(source)) > FOLD_BUDGET
    done = subprocess.run([sys.executable, "-c", _CHILD], input=json.dumps(list(bombs.values())),
                          text=True, capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    for name, answer in zip(bombs, json.loads(done.stdout), strict=True):
        assert answer["result"] is None, name
        assert answer["grew"] < 256 * 2**20, f"{name}: took {answer['grew'] >> 20} MiB"


def test_ordinary_constants_still_compile_in_the_web() -> None:
    """The estimate leaves real code alone: capped products, a folded tuple, a syntax error."""
    ex = get_exercise("makemore4/ex1")
    fine = "SCALE = 'x' * 4096\nSHAPE = (32, 27) * 2\nBIG = 2 ** 100\n" \
           "def backward(t):\n    return {}\n"
    assert folding_bytes(ast.parse(fine)) < FOLD_BUDGET
    assert compile_error(ex, fine) is None
    broken = compile_error(ex, fine + "def f(:\n")
    assert broken is not None and "SyntaxError" in str(broken.to_json())


def test_the_sandbox_answers_the_bomb_with_a_compile_error(sandbox: Sandbox) -> None:
    """Left to the sandbox, the bomb meets its memory wall inside compile(): the student
    reads that, not "the process exited (status 70) — does it call sys.exit()?"."""
    result = grade(get_exercise("makemore4/ex1"), STRING_SUMS, sandbox=sandbox)
    assert result.status == ERROR
    assert result.message.startswith("cannot compile: the code makes Python's compiler run "
                                     "out of memory"), result.message

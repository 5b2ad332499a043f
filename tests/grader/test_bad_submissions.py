"""Bad submissions get a clear status and message — never a traceback from our own code —
and the sandbox that graded them keeps grading correct submissions correctly.

Everything here runs through the real sandbox (zygote + forked child), no mocks. One
module-scoped sandbox is shared: after every test an autouse fixture grades a correct
submission on it to full marks, so a bad submission that poisons the sandbox is caught at
the test that did it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest

from grader import Limits, get_exercise, grade
from grader.grade import MAX_SOURCE_BYTES
from grader.result import RESULT_SCHEMA, GradeResult
from grader.sandbox import Sandbox

CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "makemore4"
EX1 = get_exercise("makemore4/ex1")
EX2 = get_exercise("makemore4/ex2")

#: The correct ex2 answer (lecture formula), as a function body.
CORRECT_BODY = """\
    dlogits = F.softmax(t.logits, 1)
    dlogits[range(t.n), t.Yb] -= 1
    dlogits /= t.n
"""
HEADER = "import torch\nimport torch.nn.functional as F\n\n"
CORRECT = HEADER + "def backward(t):\n" + CORRECT_BODY + "    return {'logits': dlogits}\n"


class Quick(type(EX2)):
    """ex2 with low limits, so timeouts and memory bombs end fast."""

    limits = Limits(wall_seconds=2, cpu_seconds=2, memory_bytes=256 * 1024**2)


QUICK = Quick()

def ex2(ret: str = "{'logits': dlogits}", *, before: str = "", after: str = "") -> str:
    """Return an ex2 submission: the correct body, with code inserted and ``ret`` returned."""
    return (HEADER + "def backward(t):\n" + before + CORRECT_BODY + after
            + f"    return {ret}\n")


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    with Sandbox() as sandbox:
        sandbox.ensure_ready()
        yield sandbox


@pytest.fixture(autouse=True)
def still_grades(sb: Sandbox) -> Iterator[None]:
    """After each test, the same sandbox grades a correct submission to full marks."""
    yield
    result = grade(EX2, CORRECT, sandbox=sb, student="after", secret=b"k")
    assert (result.status, result.score) == ("graded", EX2.max_score), result.message


# -- helpers -----------------------------------------------------------------------------

_OUR_FRAME = re.compile(r'File "(?!submission\.py")[^"]*"')


def texts(result: GradeResult) -> list[str]:
    """Return every human-readable text of a result."""
    return [result.message, *(t.message for t in result.tensors),
            *(c.message for c in result.checks)]


def assert_clean(result: GradeResult) -> None:
    """The result is valid JSON of spec §4 and shows none of our own code's internals."""
    jsonschema.validate(result.to_json(), RESULT_SCHEMA)
    for text in texts(result):
        assert "grader/" not in text, text
        assert "site-packages" not in text, text
        assert not _OUR_FRAME.search(text), text
        if "Traceback" in text:  # only a student-frame traceback is acceptable
            assert "submission.py" in text, text
        assert "\x00" not in text


def run(source: str | bytes, sb: Sandbox, exercise=EX2, **kw) -> GradeResult:
    result = grade(exercise, source, sandbox=sb, student="s", secret=b"k", **kw)
    assert_clean(result)
    return result


def only(result: GradeResult):
    """Return ex2's single tensor result."""
    (tensor,) = result.tensors
    return tensor


# -- cannot load -------------------------------------------------------------------------

def test_syntax_error_names_the_line(sb: Sandbox) -> None:
    src = "import torch\n\ndef backward(t)\n    return {}\n"
    result = run(src, sb)
    assert result.status == "error"
    assert result.score == 0
    assert "SyntaxError" in result.message
    assert "line 3" in result.message


def test_no_backward(sb: Sandbox) -> None:
    result = run(HEADER + "def forward(t):\n    return {}\n", sb)
    assert result.status == "error"
    assert "backward" in result.message


def test_backward_not_callable(sb: Sandbox) -> None:
    result = run("backward = 3\n", sb)
    assert result.status == "error"
    assert "backward" in result.message


def test_exception_at_import_time(sb: Sandbox) -> None:
    src = HEADER + "x = 1\nraise RuntimeError('setup failed')\n" + CORRECT
    result = run(src, sb)
    assert result.status == "error"
    assert "setup failed" in result.message
    assert "loading" in result.message
    assert "line 5" in result.message or "submission.py" in result.message


def test_import_of_missing_module(sb: Sandbox) -> None:
    result = run("import no_such_module_xyz\n" + CORRECT, sb)
    assert result.status == "error"
    assert "no_such_module_xyz" in result.message


# -- raises in some or all cases -----------------------------------------------------------

def test_exception_in_hidden_case_only(sb: Sandbox) -> None:
    # n == 32 in the public case and the first hidden case; 7 and 24 in the others.
    src = ex2(before="    if t.n != 32:\n        raise ValueError('boom')\n")
    result = run(src, sb)
    assert result.status == "graded"
    assert result.score == 0
    tensor = only(result)
    assert tensor.points == 0 and not tensor.passed
    assert tensor.failed_case and tensor.failed_case.startswith("hidden")
    assert "boom" in result.message and "line 6" in result.message  # the raise statement
    assert "hidden case" in result.message
    # Raised exactly where n differs from the public case's: told as a hard-coded size.
    assert "it ran for n = 32: a hard-coded batch size?" in result.message
    # The tensor points at the summary instead of repeating the crash.
    assert "hidden case" in tensor.message and "not returned" in tensor.message
    assert "boom" not in tensor.message


def test_exception_in_every_case(sb: Sandbox) -> None:
    src = HEADER + "def backward(t):\n    return 1 / 0\n"
    result = run(src, sb)
    assert result.status == "error"
    assert result.score == 0
    assert "ZeroDivisionError" in result.message
    assert "line 5" in result.message


def test_attribute_missing_on_t(sb: Sandbox) -> None:
    src = HEADER + "def backward(t):\n    return {'logits': t.probs}\n"
    result = run(src, sb)
    assert result.status == "error"
    assert "probs" in result.message
    assert "logits" in result.message  # the message lists what t has


def test_writing_to_t_is_refused(sb: Sandbox) -> None:
    src = ex2(before="    t.logits = None\n")
    result = run(src, sb)
    assert result.status == "error"
    assert "read-only" in result.message


# -- wrong return values -------------------------------------------------------------------

def test_python_list_value_is_bad_type(sb: Sandbox) -> None:
    result = run(ex2("{'logits': dlogits.tolist()}"), sb)
    assert result.status == "graded"
    tensor = only(result)
    assert tensor.status == "bad_type"
    assert "list" in tensor.message


def test_numpy_value_is_bad_type(sb: Sandbox) -> None:
    result = run(ex2("{'logits': dlogits.numpy()}"), sb)
    assert result.status == "graded"
    tensor = only(result)
    assert tensor.status == "bad_type"
    assert "numpy" in tensor.message or "ndarray" in tensor.message


def test_returning_a_list_is_bad_type(sb: Sandbox) -> None:
    result = run(ex2("[dlogits]"), sb)
    assert result.status == "graded"
    assert result.score == 0
    tensor = only(result)
    assert tensor.status == "bad_type"
    assert "list" in tensor.message and "dict" in tensor.message


def test_returning_a_bare_tensor_is_bad_type(sb: Sandbox) -> None:
    result = run(ex2("dlogits"), sb)
    assert only(result).status == "bad_type"
    assert "Tensor" in only(result).message


def test_float64_is_bad_type(sb: Sandbox) -> None:
    result = run(ex2("{'logits': dlogits.double()}"), sb)
    tensor = only(result)
    assert tensor.status == "bad_type"
    assert "float64" in tensor.message
    assert "float32" in tensor.message


def test_int_tensor_is_bad_type(sb: Sandbox) -> None:
    result = run(ex2("{'logits': dlogits.long()}"), sb)
    tensor = only(result)
    assert tensor.status == "bad_type"
    assert "int64" in tensor.message


def test_transposed_is_shape_mismatch(sb: Sandbox) -> None:
    result = run(ex2("{'logits': dlogits.T}"), sb)
    tensor = only(result)
    assert tensor.status == "shape_mismatch"
    assert "(27, 32)" in tensor.message and "(32, 27)" in tensor.message
    assert tensor.expected_shape == [32, 27] and tensor.got_shape == [27, 32]


def test_squeezed_vector_is_shape_mismatch(sb: Sandbox) -> None:
    # ex1's bngain is (1, 64): a (64,) gradient must not be broadcast into a pass.
    src = (CORPUS / "ex1" / "lecture.py").read_text().replace(
        '"bngain": dbngain,', '"bngain": dbngain.view(-1),')
    result = run(src, sb, exercise=EX1)
    assert result.status == "graded"
    by_name = {t.name: t for t in result.tensors}
    assert by_name["bngain"].status == "shape_mismatch"
    assert "(64,)" in by_name["bngain"].message and "(1, 64)" in by_name["bngain"].message
    assert result.score == EX1.max_score - 1


def test_missing_key(sb: Sandbox) -> None:
    result = run(ex2("{'logit': dlogits}"), sb)
    tensor = only(result)
    assert tensor.status == "missing"
    assert "logits" in tensor.message
    assert "ignored extra keys: logit" in result.message


def test_none_value_is_missing(sb: Sandbox) -> None:
    result = run(ex2("{'logits': None}"), sb)
    tensor = only(result)
    assert tensor.status == "missing"
    assert "None" in tensor.message


def test_extra_keys_reported_but_harmless(sb: Sandbox) -> None:
    result = run(ex2("{'logits': dlogits, 'probs': dlogits, 7: 'x'}"), sb)
    assert result.status == "graded"
    assert result.score == EX2.max_score
    assert "ignored extra keys" in result.message
    assert "probs" in result.message


def test_nan_is_not_finite(sb: Sandbox) -> None:
    result = run(ex2(after="    dlogits[0, 0] = float('nan')\n"), sb)
    tensor = only(result)
    assert tensor.status == "not_finite"
    assert "NaN" in tensor.message
    assert result.score == 0


def test_inf_is_not_finite(sb: Sandbox) -> None:
    result = run(ex2(after="    dlogits[1, 2] = float('inf')\n"), sb)
    assert only(result).status == "not_finite"


def test_wrong_values_are_wrong(sb: Sandbox) -> None:
    result = run(ex2("{'logits': -dlogits}"), sb)
    tensor = only(result)
    assert tensor.status == "wrong"
    assert "exceeds tolerance" in tensor.message


# -- resources ----------------------------------------------------------------------------

def test_infinite_loop_times_out(sb: Sandbox) -> None:
    result = run(ex2(before="    while True:\n        pass\n"), sb, exercise=QUICK)
    assert result.status == "timeout"
    assert result.score == 0
    assert "infinite loop" in result.message or "CPU" in result.message


def test_infinite_loop_at_import_times_out(sb: Sandbox) -> None:
    result = run("while True:\n    pass\n" + CORRECT, sb, exercise=QUICK)
    assert result.status == "timeout"


def test_sleep_times_out_on_wall_clock(sb: Sandbox) -> None:
    result = run("import time\n" + ex2(before="    time.sleep(100)\n"), sb, exercise=QUICK)
    assert result.status == "timeout"
    assert "2 s" in result.message


def test_sys_exit_in_backward(sb: Sandbox) -> None:
    result = run("import sys\n" + ex2(before="    sys.exit(3)\n"), sb)
    assert result.status == "error"
    assert result.score == 0
    assert "sys.exit" in result.message
    assert all(not t.passed for t in result.tensors)


def test_sys_exit_at_import(sb: Sandbox) -> None:
    result = run("import sys\nsys.exit(0)\n" + CORRECT, sb)
    assert result.status == "error"
    assert "sys.exit" in result.message


def test_os_exit_in_backward(sb: Sandbox) -> None:
    result = run("import os\n" + ex2(before="    os._exit(0)\n"), sb)
    assert result.status == "error"
    assert result.score == 0
    assert "exited" in result.message
    assert "before returning a result" in result.message


def test_os_kill_self(sb: Sandbox) -> None:
    src = "import os, signal\n" + ex2(before="    os.kill(os.getpid(), signal.SIGSEGV)\n")
    result = run(src, sb)
    assert result.status in ("error", "memory_limit")
    assert result.score == 0
    assert "before returning a result" in result.message or "killed" in result.message


def test_huge_output_is_truncated(sb: Sandbox) -> None:
    src = ex2(before="    print('x' * (50 * 1024 * 1024))\n")
    result = run(src, sb)
    assert result.status == "graded"
    assert result.score == EX2.max_score
    assert len(result.stdout.encode()) <= 70_000
    assert "truncated" in result.stdout


def test_many_prints_are_truncated(sb: Sandbox) -> None:
    src = ex2(before="    for i in range(200_000):\n        print(i)\n")
    result = run(src, sb)
    assert result.status == "graded"
    assert result.score == EX2.max_score
    assert len(result.stdout.encode()) <= 70_000
    assert "truncated" in result.stdout


def test_print_is_captured(sb: Sandbox) -> None:
    result = run("print('hello at import')\n" + ex2(before="    print('in backward', t.n)\n"),
                 sb)
    assert result.score == EX2.max_score
    assert "hello at import" in result.stdout
    assert "in backward 7" in result.stdout


def test_tensor_memory_bomb(sb: Sandbox) -> None:
    result = run(ex2(before="    x = torch.empty(2**40)\n    x.fill_(1)\n"), sb, exercise=QUICK)
    assert result.status == "memory_limit"
    assert result.score == 0
    assert "memory" in result.message


def test_list_memory_bomb(sb: Sandbox) -> None:
    src = ex2(before="    x = []\n    while True:\n        x.append(bytearray(1 << 20))\n")
    result = run(src, sb, exercise=QUICK)
    assert result.status == "memory_limit"
    assert "memory" in result.message


def test_memory_bomb_at_import(sb: Sandbox) -> None:
    result = run("import torch\nx = torch.ones(2**38)\n" + CORRECT, sb, exercise=QUICK)
    assert result.status == "memory_limit"


def test_huge_returned_tensor_is_shape_mismatch(sb: Sandbox) -> None:
    # 128 MiB of the wrong shape: described to the parent, never sent over the channel.
    result = run(ex2("{'logits': torch.zeros(32, 2**20)}"), sb)
    tensor = only(result)
    assert tensor.status == "shape_mismatch"


# -- source-level checks -------------------------------------------------------------------

def test_source_too_large(sb: Sandbox) -> None:
    src = CORRECT + "#" + "x" * MAX_SOURCE_BYTES + "\n"
    result = run(src, sb)
    assert result.status == "error"
    assert "KiB" in result.message
    assert "256" in result.message


def test_not_utf8(sb: Sandbox) -> None:
    result = run(CORRECT.encode() + b"# caf\xe9\n", sb)
    assert result.status == "error"
    assert "UTF-8" in result.message


def test_nul_byte(sb: Sandbox) -> None:
    result = run(CORRECT + "# \x00\n", sb)
    assert result.status == "error"
    assert "NUL" in result.message


def test_utf8_bytes_are_accepted(sb: Sandbox) -> None:
    result = run(("# café ∂\n" + CORRECT).encode(), sb)
    assert result.status == "graded"
    assert result.score == EX2.max_score


def test_empty_file(sb: Sandbox) -> None:
    result = run("", sb)
    assert result.status == "error"
    assert "backward" in result.message


# -- unusual but correct -------------------------------------------------------------------

def test_requires_grad_result_is_a_violation(sb: Sandbox) -> None:
    """Asking for a graph (requires_grad_) is autograd use, even on a correct answer."""
    result = run(ex2("{'logits': dlogits.clone().requires_grad_(True)}"), sb)
    assert result.status == "violation"
    assert result.score == 0
    assert "requires_grad" in result.message


def test_non_contiguous_result_still_judged(sb: Sandbox) -> None:
    result = run(ex2("{'logits': dlogits.T.contiguous().T}"), sb)
    assert result.status == "graded"
    assert result.score == EX2.max_score
    assert only(result).status in ("exact", "close")


def test_strided_view_result_still_judged(sb: Sandbox) -> None:
    src = ex2("{'logits': big[:, ::2]}",
              after="    big = torch.zeros(t.n, 54)\n    big[:, ::2] = dlogits\n")
    result = run(src, sb)
    assert result.score == EX2.max_score


# -- the sandbox survives all of the above ------------------------------------------------

def test_correct_submission_after_all(sb: Sandbox) -> None:
    result = run(CORRECT, sb)
    assert result.status == "graded"
    assert result.score == EX2.max_score
    ex1 = run((CORPUS / "ex1" / "lecture.py").read_text(), sb, exercise=EX1)
    assert (ex1.status, ex1.score) == ("graded", EX1.max_score)

"""Issue 14 red team, notebook source extraction (``backprop_grader.source.build``).

Globals a student's ``backward`` uses are sent as literals when they are plain constants. Two
kinds of global broke ``check()`` before the fix:

- a big int (over 4300 digits): ``repr`` raises ValueError since Python 3.11, so the student
  got a traceback instead of a report; it is now sent in hex, exactly;
- a huge or self-repeating container: the whole literal was built only to be refused for its
  size (``list(range(10**7))``, or ``x = [x] * 10`` twenty-five times over: 10**25 items, a
  hang); the walk now stops once the literal passes the limit.

The functions live at this module's top level, as they would in a notebook cell (their source
is read with ``inspect`` like a cell's).
"""

from __future__ import annotations

import tracemalloc

import pytest

from backprop_grader.source import MAX_CONSTANT_CHARS, SourceError, build

BIG_INT = 7 ** 9000  # 7606 decimal digits: over Python's int-to-str limit, under the size limit
MANY = list(range(10 ** 6))
HUGE_TEXT = "a" * 10 ** 7
WIDE: list = [0]
for _ in range(25):
    WIDE = [WIDE] * 10  # 10**25 leaves when printed, a few hundred bytes in memory


def uses_big_int(t):
    return {"n": BIG_INT % 97}


def uses_many(t):
    return MANY


def uses_huge_text(t):
    return HUGE_TEXT


def uses_wide(t):
    return WIDE


def test_a_big_int_global_is_sent_exactly() -> None:
    code = build(uses_big_int).code
    scope: dict = {}
    exec(code, scope)  # the module the grader would run, minus the call
    assert scope["BIG_INT"] == BIG_INT
    assert scope["backward"](None) == {"n": BIG_INT % 97}


@pytest.mark.parametrize("func", [uses_many, uses_huge_text, uses_wide],
                         ids=["million-items", "ten-megabytes", "self-repeating"])
def test_a_huge_global_is_refused_without_printing_it(func) -> None:
    """Refused by name, as data; the walk never holds more than about the limit in text."""
    tracemalloc.start()
    try:
        with pytest.raises(SourceError, match=r"cannot send `[A-Z_]+`.*is data, not a setting"):
            build(func)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 64 * MAX_CONSTANT_CHARS, f"the walk held {peak:,} bytes"

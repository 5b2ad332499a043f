"""Point at the line of the submission that most likely holds a mistake."""

from __future__ import annotations

import re


def assignment_line(source: str, name: str) -> int | None:
    """Return the 1-based line that assigns ``d{name}``, when exactly one line does.

    Counts plain, augmented and indexed assignments (``dC[ix] = …``, ``dW1 += …``). With two
    such lines (``dcounts = …`` then ``dcounts += …``) no single line is to blame, so none is
    named.

    >>> assignment_line("dW1 = x\\ndb1 = y\\n", "W1")
    1
    >>> assignment_line("dc = a\\ndc += b\\n", "c") is None
    True
    """
    index = r"\[(?:[^\[\]\n]|\[[^\[\]\n]*\])*\]"  # one level of nesting: dC[Xb[k, j]]
    pattern = re.compile(rf"^\s*d{re.escape(name)}\s*({index})?\s*([-+*/@]?=)(?!=)")
    hits = [i for i, line in enumerate(source.splitlines(), 1) if pattern.match(line)]
    return hits[0] if len(hits) == 1 else None


def first_line(source: str, pattern: str) -> int | None:
    """Return the 1-based first line matching the regular expression ``pattern``.

    >>> first_line("a = 1\\nb = t.probs\\n", r"=\\s*t\\.probs")
    2
    """
    try:
        regex = re.compile(pattern)
    except re.error:
        return None
    return next((i for i, line in enumerate(source.splitlines(), 1) if regex.search(line)),
                None)

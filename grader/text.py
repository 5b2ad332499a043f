"""Showing student-controlled text safely: in a terminal, a CSV cell or a web page.

Everything a submission controls (what it prints, its exception messages, returned dict keys,
file names, …) is hostile once shown. HTML escaping is the template engine's job; these two
functions cover what escaping for HTML does not:

- :func:`visible` makes control characters and bidi overrides *visible* instead of letting
  them act: ``ESC [ 2 J`` would clear an instructor's terminal, an OSC 52 sequence writes the
  clipboard, ``U+202E`` reorders what a reviewer reads (Trojan Source). C0 controls become
  their Unicode control pictures (``␛``), DEL ``␡``, C1 controls and bidi/format controls a
  ``⟨U+202E⟩`` tag. Newline and tab stay: they are how text is laid out.
- :func:`csv_cell` also defuses spreadsheet formulas (a cell starting with ``=``, ``+``,
  ``-``, ``@``, tab or CR is prefixed with ``'``, as OWASP recommends).

Both are idempotent: what they return contains no character they would change again.

Examples:
    >>> visible("score 1 / 1\\x1b[32m ok\\x1b[0m")
    'score 1 / 1␛[32m ok␛[0m'
    >>> visible("abc\\u202edef")
    'abc⟨U+202E⟩def'
    >>> csv_cell("=HYPERLINK(\\"http://x\\")")
    '\\'=HYPERLINK("http://x")'
    >>> csv_cell(-1.5)
    -1.5
"""

from __future__ import annotations

from typing import Any

#: Bidirectional and other invisible format controls that change how text reads.
BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")

#: How each character that must not act is shown.
_TABLE: dict[int, str] = {c: chr(0x2400 + c) for c in range(0x20) if c not in (0x09, 0x0A)}
_TABLE[0x7F] = "\u2421"  # ␡
_TABLE.update({c: f"⟨U+{c:04X}⟩" for c in range(0x80, 0xA0)})
_TABLE.update({ord(c): f"⟨U+{ord(c):04X}⟩" for c in BIDI})

#: Leading characters a spreadsheet reads as the start of a formula.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def visible(text: str) -> str:
    """Return ``text`` with control characters and bidi overrides shown, not acted on.

    A Windows line end (CR LF) is a plain line end; a lone CR (which moves the cursor back
    over what was printed) is shown as ``␍``.
    """
    if not isinstance(text, str):
        text = str(text)
    if "\r\n" in text:
        text = text.replace("\r\n", "\n")
    return text.translate(_TABLE)


def csv_cell(value: Any) -> Any:
    """Return ``value`` ready for a CSV cell: numbers as they are, text made visible and
    defused against formula injection."""
    if value is None or isinstance(value, bool | int | float):
        return value
    text = visible(str(value))
    return "'" + text if text.startswith(FORMULA_START) else text


class SafeCsvWriter:
    """A CSV writer whose every cell goes through :func:`csv_cell`: batch reports, gradebooks
    and analytics tables all carry student-controlled text (file names, names, messages).

    Examples:
        >>> import io
        >>> out = io.StringIO()
        >>> SafeCsvWriter(out).writerow(["=cmd|' /C calc'!A0", 1.5, None])
        >>> print(out.getvalue().strip())
        '=cmd|' /C calc'!A0,1.5,
    """

    def __init__(self, out: Any) -> None:
        import csv

        self._writer = csv.writer(out)

    def writerow(self, row: Any) -> None:
        """Write one row, every text cell made safe."""
        self._writer.writerow([csv_cell(cell) for cell in row])

    def writerows(self, rows: Any) -> None:
        """Write many rows."""
        for row in rows:
            self.writerow(row)


def csv_text(rows: Any) -> str:
    """Return rows as safe CSV text (see :class:`SafeCsvWriter`)."""
    import io

    out = io.StringIO()
    SafeCsvWriter(out).writerows(rows)
    return out.getvalue()

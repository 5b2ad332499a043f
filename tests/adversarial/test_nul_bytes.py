"""Hostile text: NUL bytes and terminal escapes in what the submission prints, in its exception
messages and in the names it returns. The result must stay storable: PostgreSQL text columns
(the web app's database) reject NUL, so a NUL reaching the result JSON breaks storing it."""

from __future__ import annotations

import pytest

from tests.adversarial.attack_helpers import assert_survives, ex2, grade_quick, texts

SOURCES = {
    "stdout": ex2(header="import os\nos.write(1, b'before\\x00after\\x1b[2J')\n"),
    "exception-message": ex2(before="    raise ValueError('bad\\x00value\\x1b[31m')\n"),
    "extra-key-name": ex2(ret="{'logits': d / t.n, 'x\\x00y': 1}"),
}


@pytest.fixture(scope="module")
def results(sandbox):
    return {name: grade_quick(sandbox, src) for name, src in SOURCES.items()}


@pytest.mark.parametrize("name", list(SOURCES))
def test_hostile_text_is_graded_and_harmless(sandbox, results, name: str) -> None:
    result = results[name]
    assert result.status in ("graded", "error"), result.message
    if name == "stdout":
        assert result.score == 1.0 and "before" in result.stdout
    if name == "exception-message":
        assert "ValueError" in result.message and result.score == 0
    assert_survives(sandbox)


@pytest.mark.parametrize("name", list(SOURCES))
def test_no_nul_reaches_the_result(results, name: str) -> None:
    result = results[name]
    for text in [result.stdout, *texts(result)]:
        assert "\x00" not in text, repr(text[:200])

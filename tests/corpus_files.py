"""Read the test corpus of student submissions and their metadata headers."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

CORPUS = Path(__file__).parent / "corpus"


@dataclass(frozen=True)
class CorpusFile:
    """One corpus submission and what its header promises."""

    path: Path
    kind: str  # correct | bug
    exercise: str
    title: str
    bug_class: str | None
    root_cause: str | None
    expect_wrong: frozenset[str]
    expect_status: str

    @property
    def id(self) -> str:
        return f"{self.exercise.split('/')[-1]}/{self.path.stem}"


def parse(path: Path) -> CorpusFile:
    """Parse the ``# key: value`` header lines at the top of a corpus file."""
    meta: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if not line.startswith("#"):
            break
        key, sep, value = line[1:].partition(":")
        if sep:
            meta[key.strip()] = value.strip()
    return CorpusFile(
        path=path, kind=meta["corpus"], exercise=meta["exercise"], title=meta.get("title", ""),
        bug_class=meta.get("bug-class"), root_cause=meta.get("root-cause"),
        expect_wrong=frozenset(meta.get("expect-wrong", "").split()),
        expect_status=meta.get("expect-status", "graded"))


def corpus() -> list[CorpusFile]:
    """Return every corpus file, sorted by exercise and name."""
    return [parse(p) for p in sorted(CORPUS.glob("*/*/*.py"))]

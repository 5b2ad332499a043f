"""Read the test corpus of student submissions and their metadata headers."""

from __future__ import annotations

from dataclasses import dataclass, field
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
    #: ex4: whether the training check must fail ("fail", the default for a bug) or may pass
    #: (a slip batchnorm hides, or one that shows only in a hidden case's sizes).
    expect_training: str = "fail"
    #: Why the grader does not name this file's class yet (the test expects the miss, and
    #: fails once the class is named, so the header is kept true).
    known_miss: str | None = None
    #: Every root cause with its fingerprint: ``root-cause: a b`` pairs with
    #: ``bug-class: x y`` (a file that slips twice, e.g. a real bug below the lecture's
    #: ``(64,)`` dbnmeani, names both).
    roots: dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def pack(self) -> str:
        return self.exercise.split("/")[0]

    @property
    def id(self) -> str:
        """Unique over all packs: makemore4's ids stay short (``ex1/lecture``, named by many
        tests); every other pack's are ``<pack>/<name>/<stem>``."""
        if self.pack == "makemore4":
            return f"{self.exercise.split('/')[-1]}/{self.path.stem}"
        return f"{self.exercise}/{self.path.stem}"


def parse(path: Path) -> CorpusFile:
    """Parse the ``# key: value`` header lines at the top of a corpus file."""
    meta: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if not line.startswith("#"):
            break
        key, sep, value = line[1:].partition(":")
        if sep:
            meta[key.strip()] = value.strip()
    classes = meta.get("bug-class", "").split()
    causes = meta.get("root-cause", "").split()
    if causes and len(causes) != len(classes):
        raise ValueError(f"{path}: root-cause and bug-class must pair up")
    return CorpusFile(
        path=path, kind=meta["corpus"], exercise=meta["exercise"], title=meta.get("title", ""),
        bug_class=classes[0] if classes else None, root_cause=causes[0] if causes else None,
        expect_wrong=frozenset(meta.get("expect-wrong", "").split()),
        expect_status=meta.get("expect-status", "graded"),
        expect_training=meta.get("expect-training", "fail").split()[0],
        known_miss=meta.get("known-miss"),
        roots=dict(zip(causes, classes, strict=True)) if causes else {})


def corpus(pack: str | None = None) -> list[CorpusFile]:
    """Return every corpus file (of ``pack`` only, when given), sorted by exercise and name."""
    return [parse(p) for p in sorted(CORPUS.glob(f"{pack or '*'}/*/*.py"))]


def packs() -> list[str]:
    """Return the packs that have a corpus folder."""
    return sorted(p.name for p in CORPUS.iterdir() if p.is_dir())

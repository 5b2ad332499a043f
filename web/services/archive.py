"""A staff upload of a whole course's submissions: read it safely, find whose file is whose.

Used by batch grading (the zip upload page, the API and ``backprop batch DIR_OR_ZIP``), so
this module is pure (stdlib and PyYAML; no database, no Flask, no grader) and its errors are
one-line messages meant for instructors.

1. :func:`read_archive` (a zip, in memory) and :func:`read_directory` (a folder) return an
   :class:`Upload`: the ``.py`` files as :class:`UploadFile` (code, or a problem such as "not
   UTF-8 text"), the detected layout and notes on what was left out. A zip is never
   extracted; every size is checked before reading and every read is bounded, so a hostile
   archive costs at most :data:`MAX_TOTAL_BYTES` of memory. Whatever makes the whole upload
   untrustworthy (path traversal, symlinks, encryption, zip bombs, too many entries) raises
   :class:`ArchiveRefused`; one bad *file* is only a problem on that file, so one student's
   mistake never stops a batch.
2. The layout (:data:`PLAIN`, :data:`CANVAS` or :data:`GRADESCOPE`) decides which
   :class:`Keys` (e-mails, student numbers, names, Canvas user id) each file carries.
3. :func:`match` pairs files with a course roster and never guesses: a key that fits two
   students is ambiguous, and two files for one student are both flagged.

Names inside an upload are kept as ``str`` for display (callers escape them); refusal
messages quote them with :func:`repr`, so they stay on one line.
"""

from __future__ import annotations

import io
import os
import re
import stat
import unicodedata
import zipfile
import zlib
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any, Literal

import yaml

#: The largest submission file, in bytes. Equals ``grader.result.MAX_SOURCE_BYTES`` (256 KiB);
#: repeated here rather than imported so that this module stays free of the grader.
MAX_FILE_BYTES = 256 * 1024
#: Most entries (files and folders) in one upload: a course is at most a few hundred students.
MAX_MEMBERS = 2000
#: Most bytes an upload may unpack to (the sum of declared sizes), and the largest zip read.
MAX_TOTAL_BYTES = 64 * 1024 * 1024
#: A member above BOMB_MIN_BYTES that compresses better than MAX_RATIO:1 is a zip bomb; real
#: code and notebooks compress about 3-10:1.
MAX_RATIO = 200
BOMB_MIN_BYTES = 1024 * 1024
#: The largest Gradescope ``submission_metadata.yml``.
MAX_METADATA_BYTES = 2 * 1024 * 1024
#: Submitters one Gradescope submission may list (a group).
MAX_SUBMITTERS = 50

#: Layouts.
PLAIN, CANVAS, GRADESCOPE = "plain", "canvas", "gradescope"
#: Match statuses.
MATCHED, UNMATCHED, AMBIGUOUS, DUPLICATE = "matched", "unmatched", "ambiguous", "duplicate_student"

METADATA = "submission_metadata.yml"
TOO_LARGE = f"larger than {MAX_FILE_BYTES // 1024} KiB"
NOT_TEXT = "not UTF-8 text"
#: Archives inside an upload are not opened (no recursion, no second size budget).
ARCHIVE_SUFFIXES = (".zip", ".tar", ".gz", ".tgz", ".bz2", ".xz", ".7z", ".rar")

#: Canvas's "Download submissions": ``lastnamefirstname[_LATE]_userid_submissionid_orig.py``.
CANVAS_NAME = re.compile(r"(?P<name>[^\W_]+)(?:_late)?_(?P<uid>\d+)_(?P<sub>\d+)_.+\.py",
                         re.IGNORECASE)
SUBMISSION_DIR = re.compile(r"submission_\d+")


class ArchiveRefused(ValueError):
    """The whole upload is refused; the message says why, in one line, for an instructor."""


@dataclass(frozen=True)
class Keys:
    """What a file says about its author, as found in the upload (not normalized)."""

    emails: tuple[str, ...] = ()
    student_numbers: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    canvas_id: str | None = None


@dataclass(frozen=True)
class UploadFile:
    """One submission: ``code`` is None exactly when ``problem`` says why it cannot be graded."""

    name: str
    code: str | None
    problem: str | None
    keys: Keys = field(default_factory=Keys)


@dataclass
class Upload:
    """The files of an upload (sorted by name), its layout, and notes on what was left out."""

    layout: str
    files: list[UploadFile]
    skipped: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RosterEntry:
    """A course member, as the matcher needs them."""

    user_id: int
    email: str
    student_number: str | None
    name: str
    canvas_id: str | None = None


@dataclass(frozen=True)
class Match:
    """Whose file this is. ``user_id`` is set only when ``status`` is "matched"; otherwise
    ``candidates`` lists the students it could be (the one student of a duplicate), so that a
    caller grading ``user_id`` never grades a guess."""

    file: UploadFile
    user_id: int | None
    status: Literal["matched", "unmatched", "ambiguous", "duplicate_student"]
    candidates: list[int]
    how: str


@dataclass
class _Raw:
    """A file read from an upload: its bytes, or None when it is too large to read."""

    name: str
    data: bytes | None


# --- reading -------------------------------------------------------------------------------


def _shown(name: str) -> str:
    """A name quoted for a one-line message (repr escapes newlines and control characters)."""
    return repr(name if len(name) <= 80 else name[:77] + "...")


def _label(name: str) -> str:
    """The upload's own name for messages: as is when it prints on one line, else quoted."""
    return name if name.isprintable() and len(name) <= 80 else _shown(name)


def _clean_path(raw: str, label: str) -> str:
    """The member name as a relative POSIX path, or a refusal if it could leave the archive.

    Backslashes count as separators (Windows zippers write them), so ``..\\x.py`` is refused
    like ``../x.py``.
    """
    name = raw.replace("\\", "/")
    if name.startswith("/"):
        raise ArchiveRefused(f"{label}: {_shown(raw)} is an absolute path")
    if re.match(r"[A-Za-z]:", name):
        raise ArchiveRefused(f"{label}: {_shown(raw)} starts with a drive letter")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise ArchiveRefused(f"{label}: {_shown(raw)} points outside the archive ('..')")
    return "/".join(parts)


def _ignored(path: str) -> bool:
    """Mac resource forks, dotfiles and dot-folders (``.ipynb_checkpoints``) are never work."""
    return any(p.startswith(".") or p == "__MACOSX" for p in path.split("/"))


def _is_metadata(path: str) -> bool:
    """Gradescope's metadata: at the top, or under the one top-level folder of the export."""
    parts = path.split("/")
    return parts[-1].lower() == METADATA and len(parts) <= 2


def _kind(path: str) -> str | None:
    """"py", "metadata" or "archive" for the entries that matter; None for the rest."""
    lower = path.lower()
    if lower.endswith(".py"):
        return "py"
    if _is_metadata(path):
        return "metadata"
    if lower.endswith(ARCHIVE_SUFFIXES):
        return "archive"
    return None


def _check_zip_member(info: zipfile.ZipInfo, label: str) -> str:
    """Refuse a member that makes the whole zip untrustworthy; return its clean path."""
    path = _clean_path(info.filename, label)
    if stat.S_ISLNK(info.external_attr >> 16):
        raise ArchiveRefused(f"{label}: {_shown(info.filename)} is a symbolic link")
    if info.flag_bits & 0x1:
        raise ArchiveRefused(f"{label}: {_shown(info.filename)} is encrypted "
                             "(password-protected zips are not accepted)")
    if info.file_size > BOMB_MIN_BYTES and info.file_size > MAX_RATIO * max(info.compress_size,
                                                                            1):
        ratio = info.file_size // max(info.compress_size, 1)
        raise ArchiveRefused(f"{label}: {_shown(info.filename)} looks like a zip bomb (it "
                             f"compresses {ratio}:1; the limit is {MAX_RATIO}:1)")
    return path


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int,
                 label: str) -> bytes:
    """The member's bytes, read with a bound; inflating past the declared size is a refusal.

    CPython stops at the declared size and then checks the CRC, so a lie shows as a CRC
    error; the length check below keeps the guarantee with any zip implementation.
    """
    try:
        with archive.open(info) as f:
            data = f.read(limit + 1)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, RuntimeError,
            NotImplementedError) as exc:
        raise ArchiveRefused(f"{label}: {_shown(info.filename)} is corrupt or inflates past "
                             f"its declared size ({exc})") from None
    if len(data) > info.file_size:
        raise ArchiveRefused(f"{label}: {_shown(info.filename)} inflates past its declared "
                             "size (a zip bomb?)")
    return data


def read_archive(data: bytes, filename: str = "upload.zip", prefer: str | None = None) -> Upload:
    """Read a zip upload in memory, member by member, never extracting it.

    ``prefer`` names the exercise's expected file (``"backward.py"``), which picks one file in
    a Gradescope submission holding several. Raises :class:`ArchiveRefused`.
    """
    label = _label(filename)
    if len(data) > MAX_TOTAL_BYTES:
        raise ArchiveRefused(f"{label} is larger than {MAX_TOTAL_BYTES // 2**20} MiB")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except UnicodeDecodeError:
        raise ArchiveRefused(f"{label}: a member name is marked UTF-8 but is not "
                             "(a damaged zip)") from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError):
        raise ArchiveRefused(f"{label} is not a readable zip file") from None
    with archive:
        infos = archive.infolist()
        if len(infos) > MAX_MEMBERS:
            raise ArchiveRefused(f"{label} has {len(infos)} entries; the limit is {MAX_MEMBERS}")
        paths = [_check_zip_member(info, label) for info in infos]
        total = sum(info.file_size for info in infos)
        if total > MAX_TOTAL_BYTES:
            raise ArchiveRefused(f"{label} unpacks to {total / 2**20:.0f} MiB; the limit is "
                                 f"{MAX_TOTAL_BYTES // 2**20} MiB")
        raws: list[_Raw] = []
        metadata: list[_Raw] = []
        skipped: list[str] = []
        for info, path in zip(infos, paths, strict=True):
            if info.is_dir() or not path or _ignored(path):
                continue
            kind = _kind(path)
            if kind == "py":
                too_big = info.file_size > MAX_FILE_BYTES
                body = None if too_big else _read_member(archive, info, MAX_FILE_BYTES, label)
                raws.append(_Raw(path, body))
            elif kind == "metadata":
                if info.file_size > MAX_METADATA_BYTES:
                    raise ArchiveRefused(f"{label}: {METADATA} is larger than "
                                         f"{MAX_METADATA_BYTES // 2**20} MiB")
                metadata.append(_Raw(path, _read_member(archive, info, MAX_METADATA_BYTES,
                                                        label)))
            elif kind == "archive":
                skipped.append(f"{path}: an archive inside the upload is not opened")
    return _assemble(raws, metadata, skipped, label, prefer)


def _read_file(path: Path, limit: int) -> bytes | None:
    """A regular file's first ``limit + 1`` bytes, or None if it is no longer a regular file.

    O_NOFOLLOW and the fstat close the gap between listing and opening (a file swapped for a
    symlink or a FIFO is not followed or waited on).
    """
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        return f.read(limit + 1)


def read_directory(path: Path, prefer: str | None = None) -> Upload:
    """Read a folder with the rules of :func:`read_archive`; symlinks are skipped with a note.

    The walk stops (refused) after :data:`MAX_MEMBERS` entries; dot-folders and ``__MACOSX``
    are not entered.
    """
    root = Path(path)
    label = _label(str(root))
    if not root.is_dir():
        raise ArchiveRefused(f"{label} is not a folder")
    raws: list[_Raw] = []
    metadata: list[_Raw] = []
    skipped: list[str] = []
    count = total = 0
    stack: list[tuple[Path, str]] = [(root, "")]
    while stack:
        folder, prefix = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError as exc:
            raise ArchiveRefused(f"{label}: cannot list {_shown(prefix or '.')} "
                                 f"({exc.strerror})") from None
        for entry in entries:
            count += 1
            if count > MAX_MEMBERS:
                raise ArchiveRefused(f"{label} has more than {MAX_MEMBERS} entries; "
                                     f"the limit is {MAX_MEMBERS}")
            # Undecodable bytes (surrogate escapes) become U+FFFD: the name must print.
            name = entry.name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
            rel = f"{prefix}{name}"
            if _ignored(rel):
                continue
            if entry.is_symlink():
                skipped.append(f"{rel}: a symbolic link is not followed")
            elif entry.is_dir(follow_symlinks=False):
                stack.append((Path(entry.path), rel + "/"))
            elif not entry.is_file(follow_symlinks=False):
                skipped.append(f"{rel}: not a regular file")
            else:
                size = entry.stat(follow_symlinks=False).st_size
                total += size
                if total > MAX_TOTAL_BYTES:
                    raise ArchiveRefused(f"{label} holds more than "
                                         f"{MAX_TOTAL_BYTES // 2**20} MiB")
                kind = _kind(rel)
                if kind == "py" and size > MAX_FILE_BYTES:
                    raws.append(_Raw(rel, None))
                elif kind == "py":
                    body = _read_file(Path(entry.path), MAX_FILE_BYTES)
                    if body is None:
                        skipped.append(f"{rel}: could not be read")
                    else:
                        raws.append(_Raw(rel, body))
                elif kind == "metadata":
                    if size > MAX_METADATA_BYTES:
                        raise ArchiveRefused(f"{label}: {METADATA} is larger than "
                                             f"{MAX_METADATA_BYTES // 2**20} MiB")
                    body = _read_file(Path(entry.path), MAX_METADATA_BYTES)
                    if body is None or len(body) > MAX_METADATA_BYTES:
                        raise ArchiveRefused(f"{label}: {METADATA} changed while being read")
                    metadata.append(_Raw(rel, body))
                elif kind == "archive":
                    skipped.append(f"{rel}: an archive inside the upload is not opened")
    return _assemble(raws, metadata, skipped, label, prefer)


def _decode(raw: _Raw) -> tuple[str | None, str | None]:
    """(code, None) or (None, problem). A leading BOM is dropped: Python rejects it in a str."""
    if raw.data is None or len(raw.data) > MAX_FILE_BYTES:
        return None, TOO_LARGE
    if b"\x00" in raw.data:
        return None, f"{NOT_TEXT} (it contains NUL bytes)"
    try:
        return raw.data.decode("utf-8-sig"), None
    except UnicodeDecodeError:
        return None, NOT_TEXT


# --- layouts -------------------------------------------------------------------------------


def _assemble(raws: list[_Raw], metadata: list[_Raw], skipped: list[str], label: str,
              prefer: str | None) -> Upload:
    """Detect the layout and turn the raw files into :class:`UploadFile` with their keys."""
    if metadata:
        upload = _gradescope(raws, metadata, skipped, label, prefer)
    else:
        if raws and _most(raws, lambda parts: any(SUBMISSION_DIR.fullmatch(p)
                                                   for p in parts[:-1])):
            raise ArchiveRefused(f"{label} looks like a Gradescope export but has no "
                                 f"{METADATA}")
        layout = CANVAS if raws and _most(
            raws, lambda parts: CANVAS_NAME.fullmatch(parts[-1]) is not None) else PLAIN
        files = [_file(raw, _canvas_keys(raw.name) if layout == CANVAS else None)
                 for raw in raws]
        upload = Upload(layout, files, skipped)
    if not upload.files:
        raise ArchiveRefused(f"{label} holds no .py files")
    upload.files.sort(key=lambda f: f.name)
    return upload


def _most(raws: list[_Raw], test: Any) -> bool:
    """Whether more than half of the files' paths (split in parts) pass ``test``."""
    return sum(1 for raw in raws if test(raw.name.split("/"))) * 2 > len(raws)


def _file(raw: _Raw, keys: Keys | None) -> UploadFile:
    code, problem = _decode(raw)
    return UploadFile(raw.name, code, problem, keys if keys is not None else _plain_keys(raw.name))


def _plain_keys(path: str) -> Keys:
    """The stem is an e-mail if it has an @; else a student number candidate (compared
    exactly, so a name there cannot fit by accident) and, without digits, a name."""
    stem = PurePosixPath(path).name[:-3].strip()
    if not stem:
        return Keys()
    if "@" in stem:
        return Keys(emails=(stem,))
    names = () if any(c.isdigit() for c in stem) else (stem,)
    return Keys(student_numbers=(stem,), names=names)


def _canvas_keys(path: str) -> Keys:
    """Canvas user id and ``lastnamefirstname``; a file not named the Canvas way is plain."""
    found = CANVAS_NAME.fullmatch(PurePosixPath(path).name)
    if found is None:
        return _plain_keys(path)
    return Keys(names=(found["name"].lower(),), canvas_id=found["uid"])


class _MetadataLoader(yaml.SafeLoader):
    """safe_load, except that unknown tags (Gradescope's Ruby ``!ruby/object:BigDecimal``
    scores) load as the plain scalar, list or dict they tag instead of failing, and aliases
    are refused: Gradescope writes none, and a list aliased into every folder makes a few
    kilobytes cost the product of their sizes in memory and time."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.events.AliasEvent):
            raise ValueError("YAML aliases are not accepted")
        return super().compose_node(parent, index)


def _untagged(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    return loader.construct_mapping(node)  # type: ignore[arg-type]


_MetadataLoader.add_constructor(None, _untagged)


def _unsym(value: Any) -> Any:
    """Gradescope writes Ruby symbols (``:email:``): drop the colon from a dict's keys."""
    if isinstance(value, dict):
        return {str(k).lstrip(":"): v for k, v in value.items()}
    return value


def _text(value: Any) -> str | None:
    if isinstance(value, str | int) and not isinstance(value, bool):
        return str(value).strip() or None
    return None


def _load_metadata(raw: _Raw, label: str) -> dict[str, Keys]:
    """Gradescope's ``submission_metadata.yml`` as the keys of each ``submission_N`` folder."""
    where = f"{label}: {raw.name}"
    try:
        data = yaml.load(raw.data or b"", Loader=_MetadataLoader)  # a SafeLoader
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = f" at line {mark.line + 1}" if mark is not None else ""
        raise ArchiveRefused(f"{where} is not valid YAML{line}") from None
    except ValueError as exc:
        raise ArchiveRefused(f"{where}: {exc}") from None
    except (yaml.YAMLError, RecursionError):
        raise ArchiveRefused(f"{where} is not valid YAML") from None
    data = _unsym(data)
    items = data.items() if isinstance(data, dict) else ()
    entries = {str(k): _unsym(v) for k, v in items if isinstance(v, dict)}
    if not entries:
        raise ArchiveRefused(f"{where} is not a Gradescope submission list")
    out: dict[str, Keys] = {}
    for folder, entry in entries.items():
        submitters = entry.get("submitters")
        people = [_unsym(s) for s in submitters] if isinstance(submitters, list) else []
        people = [p for p in people if isinstance(p, dict)]
        if len(people) > MAX_SUBMITTERS:
            raise ArchiveRefused(f"{where}: {_shown(folder)} lists {len(people)} submitters; "
                                 f"a group has at most {MAX_SUBMITTERS}")

        def values(key: str, people: list[dict[str, Any]] = people) -> tuple[str, ...]:
            return tuple(v for p in people if (v := _text(p.get(key))) is not None)

        out[folder] = Keys(emails=values("email"), student_numbers=values("sid"),
                           names=values("name"))
    return out


def _gradescope(raws: list[_Raw], metadata: list[_Raw], skipped: list[str], label: str,
                prefer: str | None) -> Upload:
    """One file per ``submission_N`` folder next to the metadata, keyed by its submitters."""
    top = min(len(m.name.split("/")) for m in metadata)
    shallowest = [m for m in metadata if len(m.name.split("/")) == top]
    if len(shallowest) > 1:
        names = ", ".join(sorted(m.name for m in shallowest))
        raise ArchiveRefused(f"{label} holds several {METADATA} files: {names}")
    meta = shallowest[0]
    keys = _load_metadata(meta, label)
    root = meta.name.rsplit("/", 1)[0] + "/" if "/" in meta.name else ""
    groups: dict[str, list[_Raw]] = defaultdict(list)
    for raw in raws:
        rest = raw.name[len(root):].split("/") if raw.name.startswith(root) else []
        if len(rest) >= 2 and SUBMISSION_DIR.fullmatch(rest[0]):
            groups[rest[0]].append(raw)
        else:
            skipped.append(f"{raw.name}: not in a submission_… folder")
    files: list[UploadFile] = []
    for folder, members in groups.items():
        file_keys = keys.get(folder, Keys())
        chosen = _choose(members, prefer)
        if chosen is not None:
            files.append(_file(chosen, file_keys))
        else:
            inside = sorted(m.name[len(root) + len(folder) + 1:] for m in members)
            files.append(UploadFile(f"{root}{folder}/", None,
                                    f"several .py files: {', '.join(inside)}", file_keys))
    for folder in sorted(set(keys) - set(groups)):
        skipped.append(f"{root}{folder}: no .py file in this submission")
    return Upload(GRADESCOPE, files, skipped)


def _choose(members: list[_Raw], prefer: str | None) -> _Raw | None:
    """The one file, or the one named ``prefer``; None when that leaves no single file."""
    if len(members) == 1:
        return members[0]
    if prefer:
        named = [m for m in members
                 if PurePosixPath(m.name).name.casefold() == prefer.casefold()]
        if len(named) == 1:
            return named[0]
    return None


# --- matching ------------------------------------------------------------------------------


def normalize_name(name: str) -> str:
    """A name reduced to its letters, casefolded and without accents, for comparison.

    >>> normalize_name("Zoë O'Brien-Smith")
    'zoeobriensmith'
    >>> normalize_name("alice_smith") == normalize_name("Alice Smith")
    True
    """
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    return "".join(c for c in decomposed if c.isalpha())  # accents are marks, not letters


def name_forms(name: str) -> set[str]:
    """The normalized name in every first/last order, so ``smithalice`` fits "Alice Smith".

    Every split between words is tried, as the roster does not say where the last name
    starts (Canvas writes Juan de la Cruz as ``delacruzjuan``); "Smith, Alice" comes out the
    same.

    >>> sorted(name_forms("Alice Smith"))
    ['alicesmith', 'smithalice']
    >>> sorted(name_forms("Smith, Alice"))
    ['alicesmith', 'smithalice']
    """
    words = [w for w in (normalize_name(w) for w in name.split()) if w]
    forms = {"".join(words[i:] + words[:i]) for i in range(len(words))}
    return {f for f in forms if len(f) >= 2}


def _index(values: Iterable[tuple[str, int]]) -> dict[str, set[int]]:
    out: dict[str, set[int]] = defaultdict(set)
    for key, user_id in values:
        if key:
            out[key].add(user_id)
    return out


def match(files: list[UploadFile], roster: list[RosterEntry]) -> list[Match]:
    """Pair each file with a roster entry, without ever guessing.

    Keys are tried in order: e-mail (any case), Canvas user id, student number (exact), then
    name in any first/last order. The first kind that fits anyone decides: one student is a
    match; several are ambiguous (a group submission, two "Alex Kim"). Two files matching one
    student are both ``duplicate_student``. A file's problem does not stop its matching.
    """
    by_email = _index((r.email.strip().casefold(), r.user_id) for r in roster)
    by_canvas = _index(((r.canvas_id or "").strip(), r.user_id) for r in roster)
    by_number = _index(((r.student_number or "").strip(), r.user_id) for r in roster)
    by_name = _index((form, r.user_id) for r in roster for form in name_forms(r.name))
    out: list[Match] = []
    for file in files:
        k = file.keys
        tries = (
            ("e-mail", by_email, [e.strip().casefold() for e in k.emails]),
            ("Canvas user id", by_canvas, [k.canvas_id.strip()] if k.canvas_id else []),
            ("student number", by_number, [n.strip() for n in k.student_numbers]),
            ("name", by_name, [normalize_name(n) for n in k.names]),
        )
        result = Match(file, None, UNMATCHED, [], "no e-mail, student number or name fits")
        if not any(keys for _, _, keys in tries):
            result = replace(result, how="nothing in the file's name or metadata identifies "
                                         "a student")
        for how, index, keys in tries:
            found = sorted(set().union(*(index.get(key, set()) for key in keys)))
            if len(found) == 1:
                result = Match(file, found[0], MATCHED, found, how)
                break
            if found:
                result = Match(file, None, AMBIGUOUS, found, f"{how} fits {len(found)} students")
                break
        out.append(result)
    counts = Counter(m.user_id for m in out if m.status == MATCHED)
    return [replace(m, user_id=None, status=DUPLICATE,
                    how=f"{m.how}; {counts[m.user_id]} files for this student")
            if m.status == MATCHED and counts[m.user_id] > 1 else m for m in out]

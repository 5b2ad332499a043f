"""Batch uploads (web.services.archive): safe reading, layout detection, roster matching.

Pure: zips are built in memory, folders in tmp_path; no database, no app.
"""

from __future__ import annotations

import io
import os
import stat
import struct
import zipfile
from pathlib import Path

import pytest

from web.services import archive
from web.services.archive import (
    AMBIGUOUS,
    CANVAS,
    DUPLICATE,
    GRADESCOPE,
    MATCHED,
    PLAIN,
    UNMATCHED,
    ArchiveRefused,
    Keys,
    RosterEntry,
    UploadFile,
    match,
    read_archive,
    read_directory,
)

CODE = "def backward(ctx):\n    return ctx\n"


def make_zip(members: dict[str, bytes | str], *,
             compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def by_name(upload: archive.Upload) -> dict[str, UploadFile]:
    return {f.name: f for f in upload.files}


def refused(data: bytes, *words: str, **kwargs: object) -> str:
    """Assert that the upload is refused with a one-line message naming the reason."""
    with pytest.raises(ArchiveRefused) as info:
        read_archive(data, **kwargs)  # type: ignore[arg-type]
    message = str(info.value)
    assert "\n" not in message
    for word in words:
        assert word in message, message
    return message


GRADESCOPE_YML = """\
submission_101:
  :submitters:
  - :name: Alice Smith
    :sid: s1234567
    :email: alice@example.edu
  :created_at: 2024-03-01 10:00:00.000000000 -08:00
  :score: !ruby/object:BigDecimal 18:0.1e2
submission_102:
  submitters:
  - name: Bob Jones
    sid: 7654321
    email: bob@example.edu
submission_103:
  :submitters:
  - :name: Carol Diaz
    :email: carol@example.edu
submission_104:
  :submitters:
  - :name: Dan Wu
    :email: dan@example.edu
submission_105:
  :submitters:
  - :name: Eve Li
    :email: eve@example.edu
"""


# --- layouts -------------------------------------------------------------------------------


def test_plain_layout_keys_from_the_stem() -> None:
    upload = read_archive(make_zip({
        "alice@example.edu.py": CODE,
        "s1234567.py": CODE,
        "batch/Alice Smith.py": CODE,
        "batch/alice_smith.py": "\ufeff" + CODE,
    }))
    assert upload.layout == PLAIN
    files = by_name(upload)
    assert sorted(files) == ["alice@example.edu.py", "batch/Alice Smith.py",
                             "batch/alice_smith.py", "s1234567.py"]
    assert files["alice@example.edu.py"].keys == Keys(emails=("alice@example.edu",))
    assert files["s1234567.py"].keys == Keys(student_numbers=("s1234567",))
    assert files["batch/Alice Smith.py"].keys.names == ("Alice Smith",)
    assert files["s1234567.py"].code == CODE
    assert files["batch/alice_smith.py"].code == CODE  # the BOM is dropped
    assert all(f.problem is None for f in upload.files)


def test_canvas_layout_user_id_and_name() -> None:
    upload = read_archive(make_zip({
        "smithalice_123_456_backward.py": CODE,
        "jonesbob_LATE_789_1011_backward-1.py": CODE,
        "kimalex_55_66_my_back_ward.py": CODE,
        "notes.txt": "skipped",
    }))
    assert upload.layout == CANVAS
    files = by_name(upload)
    assert len(files) == 3
    assert files["smithalice_123_456_backward.py"].keys == Keys(names=("smithalice",),
                                                                canvas_id="123")
    assert files["jonesbob_LATE_789_1011_backward-1.py"].keys == Keys(names=("jonesbob",),
                                                                      canvas_id="789")
    assert files["kimalex_55_66_my_back_ward.py"].keys.canvas_id == "55"


def test_canvas_needs_most_names_in_the_canvas_form() -> None:
    upload = read_archive(make_zip({"smithalice_123_456_backward.py": CODE,
                                    "bob.py": CODE, "carol.py": CODE}))
    assert upload.layout == PLAIN
    assert by_name(upload)["smithalice_123_456_backward.py"].keys.canvas_id is None


def test_gradescope_layout() -> None:
    upload = read_archive(make_zip({
        "submission_metadata.yml": GRADESCOPE_YML,
        "submission_101/backward.py": CODE,
        "submission_102/src/solution.py": CODE,
        "submission_103/a.py": CODE,
        "submission_103/b.py": CODE,
        "submission_104/helpers.py": CODE,
        "submission_104/backward.py": "x = 1\n",
        "submission_104/README.md": "skipped",
        "stray.py": CODE,
    }), prefer="backward.py")
    assert upload.layout == GRADESCOPE
    files = by_name(upload)
    assert sorted(files) == ["submission_101/backward.py", "submission_102/src/solution.py",
                             "submission_103/", "submission_104/backward.py"]
    alice = files["submission_101/backward.py"]
    assert alice.keys == Keys(emails=("alice@example.edu",), student_numbers=("s1234567",),
                              names=("Alice Smith",))
    assert alice.code == CODE
    # Keys without the Ruby colon work too; a numeric sid becomes text.
    assert files["submission_102/src/solution.py"].keys.student_numbers == ("7654321",)
    several = files["submission_103/"]
    assert several.code is None and several.problem == "several .py files: a.py, b.py"
    assert several.keys.emails == ("carol@example.edu",)
    assert files["submission_104/backward.py"].code == "x = 1\n"  # prefer picked it
    assert any("stray.py" in note for note in upload.skipped)
    assert any("submission_105" in note and "no .py file" in note for note in upload.skipped)


def test_gradescope_several_files_without_prefer_is_a_problem() -> None:
    upload = read_archive(make_zip({"submission_metadata.yml": GRADESCOPE_YML,
                                    "submission_104/helpers.py": CODE,
                                    "submission_104/backward.py": CODE}))
    (only,) = upload.files
    assert only.problem == "several .py files: backward.py, helpers.py"


def test_gradescope_under_one_top_folder() -> None:
    upload = read_archive(make_zip({"export_42/submission_metadata.yml": GRADESCOPE_YML,
                                    "export_42/submission_101/backward.py": CODE}))
    assert upload.layout == GRADESCOPE
    (only,) = upload.files
    assert only.name == "export_42/submission_101/backward.py"
    assert only.keys.emails == ("alice@example.edu",)


def test_gradescope_without_metadata_is_refused() -> None:
    data = make_zip({"submission_101/backward.py": CODE, "submission_102/backward.py": CODE})
    refused(data, "Gradescope", "submission_metadata.yml")


@pytest.mark.parametrize("text, reason", [
    ("submission_101: [unclosed\n", "not valid YAML at line"),
    ("- just\n- a list\n", "not a Gradescope submission list"),
    ("", "not a Gradescope submission list"),
    ("[" * 5000, "not valid YAML"),
])
def test_malformed_metadata_is_refused(text: str, reason: str) -> None:
    data = make_zip({"submission_metadata.yml": text, "submission_101/backward.py": CODE})
    refused(data, "submission_metadata.yml", reason)


def test_oversized_metadata_is_refused() -> None:
    big = "#" * (archive.MAX_METADATA_BYTES + 1)
    data = make_zip({"submission_metadata.yml": big, "submission_101/backward.py": CODE},
                    compression=zipfile.ZIP_STORED)
    refused(data, "submission_metadata.yml", "larger than 2 MiB")


# --- refusals ------------------------------------------------------------------------------


def test_not_a_zip() -> None:
    refused(b"def backward(): pass\n", "not a readable zip", filename="alice.py")
    refused(b"PK\x03\x04garbage", "not a readable zip")


@pytest.mark.parametrize("name, reason", [
    ("../x.py", "outside the archive"),
    ("a/../../x.py", "outside the archive"),
    ("..\\x.py", "outside the archive"),
    ("a\\..\\..\\x.py", "outside the archive"),
    ("__MACOSX/../../x.py", "outside the archive"),
    ("/etc/x.py", "absolute path"),
    ("\\\\server\\share\\x.py", "absolute path"),
    ("C:/x.py", "drive letter"),
    ("c:\\x.py", "drive letter"),
])
def test_path_traversal_refuses_the_whole_upload(name: str, reason: str) -> None:
    data = make_zip({"alice.py": CODE, name: CODE})
    message = refused(data, reason, filename="course.zip")
    assert message.startswith("course.zip: ")
    assert repr(name) in message


def test_windows_separators_without_traversal_are_fine() -> None:
    upload = read_archive(make_zip({"batch\\alice.py": CODE}))
    assert [f.name for f in upload.files] == ["batch/alice.py"]


def test_symlink_member_is_refused() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("alice.py", CODE)
        link = zipfile.ZipInfo("bob.py")
        link.create_system = 3
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, "/etc/passwd")
    refused(buf.getvalue(), "'bob.py'", "symbolic link")


def test_ten_thousand_empty_files_are_refused() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for i in range(10_000):
            zf.writestr(f"f{i}.py", b"")
    refused(buf.getvalue(), "10000 entries", "limit is 2000")


def test_zip_bomb_is_refused() -> None:
    data = make_zip({"alice.py": CODE, "data.bin": bytes(50 * 2**20)})
    refused(data, "'data.bin'", "zip bomb", "the limit is 200:1")


def test_total_declared_size_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(archive, "MAX_TOTAL_BYTES", 1000)
    data = make_zip({"alice.py": "x" * 600, "bob.py": "y" * 600})
    refused(data, "unpacks to", "limit is 0 MiB")


def test_oversized_zip_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    data = make_zip({"alice.py": CODE})
    monkeypatch.setattr(archive, "MAX_TOTAL_BYTES", len(data) - 1)
    refused(data, "larger than")


def _patch_central(data: bytes, offset: int, fmt: str, value: int) -> bytes:
    """Overwrite a field of the (only) central directory header."""
    at = data.index(b"PK\x01\x02") + offset
    return data[:at] + struct.pack(fmt, value) + data[at + struct.calcsize(fmt):]


@pytest.mark.parametrize("compression", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
def test_declared_size_lie_is_refused(compression: int) -> None:
    honest = make_zip({"alice.py": CODE * 50}, compression=compression)
    assert read_archive(honest).files[0].code == CODE * 50
    lying = _patch_central(honest, 24, "<I", 10)  # uncompressed size: 10 bytes
    refused(lying, "'alice.py'", "declared size")


@pytest.mark.parametrize("name", ["alice.py", "notes.txt"])
def test_encrypted_member_is_refused(name: str) -> None:
    """Even a member that would be skipped: an encrypted zip is refused as a whole."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("bob.py", CODE)
        zf.writestr(name, CODE)
        zf.infolist()[1].flag_bits |= 0x1  # written into the central directory on close
    refused(buf.getvalue(), repr(name), "encrypted (password-protected")


def test_no_py_files_is_refused() -> None:
    refused(make_zip({"notes.txt": "hi", "__MACOSX/._a.py": "x"}), "no .py files")


# --- names and content ---------------------------------------------------------------------


def test_cp437_member_name_does_not_crash() -> None:
    data = make_zip({"cafX.py": CODE, "bob.py": CODE}).replace(b"cafX.py", b"caf\x82.py")
    files = by_name(read_archive(data))
    assert files["café.py"].code == CODE
    assert files["café.py"].keys.names == ("café",)


def test_member_name_falsely_marked_utf8_is_refused() -> None:
    data = make_zip({"caf\u00e9.py": CODE}).replace("caf\u00e9".encode(), b"caf\xff\xfe")
    refused(data, "marked UTF-8")


def test_control_characters_in_names_stay_on_one_line() -> None:
    data = make_zip({"a\nb/../../x.py": CODE})
    refused(data, "'a\\nb/../../x.py'", "outside the archive", filename="bad\nname.zip")


@pytest.mark.parametrize("content, problem", [
    (b"caf\xe9 = 1\n", "not UTF-8 text"),
    (b"x = 1\x00\n", "not UTF-8 text (it contains NUL bytes)"),
])
def test_bad_content_is_a_problem_not_a_refusal(content: bytes, problem: str) -> None:
    files = by_name(read_archive(make_zip({"alice.py": content, "bob.py": CODE})))
    assert files["alice.py"].problem == problem and files["alice.py"].code is None
    assert files["bob.py"].problem is None and files["bob.py"].code == CODE


def test_oversized_py_is_a_problem_not_a_refusal() -> None:
    big = ("x = 1  # " + "y" * 70 + "\n") * 4000  # 320 KB, well under the bomb ratio
    files = by_name(read_archive(make_zip({"alice.py": big, "bob.py": CODE})))
    assert files["alice.py"] == UploadFile("alice.py", None, "larger than 256 KiB",
                                           Keys(student_numbers=("alice",), names=("alice",)))
    assert files["bob.py"].code == CODE


def test_oversized_py_is_not_even_read() -> None:
    """Its declared size is enough: a zeroed CRC would refuse the zip if it were inflated."""
    data = make_zip({"alice.py": "#" * (archive.MAX_FILE_BYTES + 1)},
                    compression=zipfile.ZIP_STORED)
    (only,) = read_archive(_patch_central(data, 16, "<I", 0)).files
    assert only.problem == "larger than 256 KiB"
    small = _patch_central(make_zip({"alice.py": CODE}), 16, "<I", 0)
    refused(small, "'alice.py'", "corrupt")


def test_exactly_the_limit_is_accepted() -> None:
    code = "#" * archive.MAX_FILE_BYTES
    assert read_archive(make_zip({"alice.py": code})).files[0].code == code


def test_junk_is_skipped_and_nested_archives_noted() -> None:
    upload = read_archive(make_zip({
        "__MACOSX/._alice.py": b"\x00\x05\x16\x07",
        "__MACOSX/batch/bob.py": CODE,
        ".DS_Store": b"\x00\x00",
        "._alice.py": b"\x00\x05",
        "batch/.ipynb_checkpoints/alice-checkpoint.py": CODE,
        "batch/": b"",
        "batch/notes.pdf": b"%PDF",
        "batch/carol.zip": make_zip({"carol.py": CODE}),
        "batch/alice.py": CODE,
    }))
    assert [f.name for f in upload.files] == ["batch/alice.py"]
    assert upload.skipped == ["batch/carol.zip: an archive inside the upload is not opened"]


def test_grader_limit_is_the_same() -> None:
    """The constant is repeated (this module imports nothing of the grader); keep it equal."""
    from grader.result import MAX_SOURCE_BYTES

    assert archive.MAX_FILE_BYTES == MAX_SOURCE_BYTES


def test_archive_module_imports_no_framework() -> None:
    source = Path(archive.__file__).read_text()
    for banned in ("torch", "flask", "sqlalchemy", "grader", "web.models"):
        assert f"import {banned}" not in source and f"from {banned}" not in source


# --- folders -------------------------------------------------------------------------------


def test_read_directory_plain(tmp_path: Path) -> None:
    (tmp_path / "batch").mkdir()
    (tmp_path / "batch" / "alice@example.edu.py").write_text(CODE)
    (tmp_path / "batch" / "bob.py").write_bytes(b"\xff\xfe")
    (tmp_path / "big.py").write_text("#" * (archive.MAX_FILE_BYTES + 1))
    (tmp_path / ".DS_Store").write_bytes(b"\x00")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "hook.py").write_text(CODE)
    (tmp_path / "outside.py").symlink_to("/etc/passwd")
    os.mkfifo(tmp_path / "pipe.py")
    upload = read_directory(tmp_path)
    assert upload.layout == PLAIN
    files = by_name(upload)
    assert sorted(files) == ["batch/alice@example.edu.py", "batch/bob.py", "big.py"]
    assert files["batch/alice@example.edu.py"].code == CODE
    assert files["batch/bob.py"].problem == "not UTF-8 text"
    assert files["big.py"].problem == "larger than 256 KiB"
    assert sorted(upload.skipped) == ["outside.py: a symbolic link is not followed",
                                      "pipe.py: not a regular file"]


def test_read_directory_gradescope(tmp_path: Path) -> None:
    (tmp_path / "submission_metadata.yml").write_text(GRADESCOPE_YML)
    (tmp_path / "submission_101").mkdir()
    (tmp_path / "submission_101" / "backward.py").write_text(CODE)
    upload = read_directory(tmp_path)
    assert upload.layout == GRADESCOPE
    assert upload.files[0].keys.emails == ("alice@example.edu",)


def test_read_directory_bounds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for i in range(6):
        (tmp_path / f"s{i}.py").write_text(CODE)
    monkeypatch.setattr(archive, "MAX_MEMBERS", 5)
    with pytest.raises(ArchiveRefused, match="more than 5 entries"):
        read_directory(tmp_path)
    monkeypatch.setattr(archive, "MAX_MEMBERS", 2000)
    monkeypatch.setattr(archive, "MAX_TOTAL_BYTES", len(CODE) * 3)
    with pytest.raises(ArchiveRefused, match="holds more than"):
        read_directory(tmp_path)
    with pytest.raises(ArchiveRefused, match="is not a folder"):
        read_directory(tmp_path / "s0.py")


# --- matching ------------------------------------------------------------------------------

ROSTER = [
    RosterEntry(1, "Alice@Example.edu", "s1234567", "Alice Smith", canvas_id="123"),
    RosterEntry(2, "bob@example.edu", "S7654321", "Bob Jones"),
    RosterEntry(3, "ak1@example.edu", None, "Alex Kim"),
    RosterEntry(4, "ak2@example.edu", None, "Alex Kim"),
    RosterEntry(5, "zoe@example.edu", " 99 ", "Zoë O'Brien"),
    RosterEntry(6, "juan@example.edu", None, "Juan de la Cruz"),
]


def one(keys: Keys, name: str = "f.py") -> archive.Match:
    (result,) = match([UploadFile(name, CODE, None, keys)], ROSTER)
    return result


@pytest.mark.parametrize("keys, user_id, how", [
    (Keys(emails=("ALICE@example.EDU",)), 1, "e-mail"),
    (Keys(student_numbers=(" s1234567 ",)), 1, "student number"),
    (Keys(student_numbers=("99",)), 5, "student number"),
    (Keys(names=("alice_smith",)), 1, "name"),
    (Keys(names=("smithalice",)), 1, "name"),
    (Keys(names=("Smith, Alice",)), 1, "name"),
    (Keys(names=("obrienzoe",)), 5, "name"),
    (Keys(names=("ZOE O BRIEN",)), 5, "name"),
    (Keys(names=("delacruzjuan",)), 6, "name"),
    (Keys(canvas_id="123", names=("someoneelse",)), 1, "Canvas user id"),
    (Keys(canvas_id="999", names=("jonesbob",)), 2, "name"),
    # E-mail comes first: a name pointing elsewhere does not matter.
    (Keys(emails=("bob@example.edu",), names=("Alice Smith",)), 2, "e-mail"),
])
def test_match_by_each_key(keys: Keys, user_id: int, how: str) -> None:
    result = one(keys)
    assert (result.status, result.user_id, result.candidates, result.how) == (
        MATCHED, user_id, [user_id], how)


def test_student_number_is_exact() -> None:
    assert one(Keys(student_numbers=("s7654321",))).status == UNMATCHED


def test_ambiguous_name_never_guesses() -> None:
    result = one(Keys(names=("Alex Kim",)))
    assert (result.status, result.user_id, result.candidates) == (AMBIGUOUS, None, [3, 4])
    assert result.how == "name fits 2 students"


def test_ambiguity_is_not_resolved_by_a_weaker_key() -> None:
    """A group submission (two e-mails) stays ambiguous even if a name would fit one."""
    result = one(Keys(emails=("bob@example.edu", "ak1@example.edu"), names=("Bob Jones",)))
    assert (result.status, result.user_id, result.candidates) == (AMBIGUOUS, None, [2, 3])


def test_stronger_key_resolves_a_name_clash() -> None:
    result = one(Keys(emails=("ak2@example.edu",), names=("Alex Kim",)))
    assert (result.status, result.user_id) == (MATCHED, 4)


@pytest.mark.parametrize("keys", [
    Keys(names=("Nobody Here",)), Keys(emails=("eve@example.edu",)), Keys(),
    Keys(names=("a",)),
])
def test_unmatched(keys: Keys) -> None:
    result = one(keys)
    assert (result.status, result.user_id, result.candidates) == (UNMATCHED, None, [])
    assert result.how


def test_two_files_for_one_student_are_both_flagged() -> None:
    files = [UploadFile("a/alice.py", CODE, None, Keys(names=("alice smith",))),
             UploadFile("b/alice.py", None, "not UTF-8 text", Keys(emails=("alice@example.edu",))),
             UploadFile("bob.py", CODE, None, Keys(names=("bob jones",)))]
    results = match(files, ROSTER)
    assert [(r.status, r.user_id, r.candidates) for r in results] == [
        (DUPLICATE, None, [1]), (DUPLICATE, None, [1]), (MATCHED, 2, [2])]
    assert "2 files for this student" in results[0].how
    assert results[1].file.problem == "not UTF-8 text"  # the problem is kept


def test_a_file_with_a_problem_is_still_matched() -> None:
    bad = UploadFile("bob.py", None, "larger than 256 KiB", Keys(names=("bob",)))
    result = match([bad], [RosterEntry(7, "b@example.edu", None, "Bob")])[0]
    assert (result.status, result.user_id, result.file.problem) == (
        MATCHED, 7, "larger than 256 KiB")


def test_canvas_upload_end_to_end() -> None:
    upload = read_archive(make_zip({
        "smithalice_123_456_backward.py": CODE,
        "jonesbob_LATE_789_1011_backward.py": CODE,
        "kimalex_55_66_backward.py": CODE,
        "doejane_77_88_backward.py": CODE,
    }))
    results = {r.file.name: r for r in match(upload.files, ROSTER)}
    assert results["smithalice_123_456_backward.py"].user_id == 1
    assert results["jonesbob_LATE_789_1011_backward.py"].user_id == 2
    assert results["kimalex_55_66_backward.py"].status == AMBIGUOUS
    assert results["doejane_77_88_backward.py"].status == UNMATCHED

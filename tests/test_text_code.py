"""ingest/text.py, ingest/code.py and ingest/detect.py."""

from __future__ import annotations

import gzip
import io
import os
import zipfile
from pathlib import Path

import pytest

from core.domain import DocumentKind, Locator, SegmentKind, Status
from core.settings import Settings
from core.tokens import count_text_tokens
from ingest.base import FileInput
from ingest.code import (
    CodeFiles,
    code_sha256,
    collect_folder,
    collect_members,
    is_source_file,
    looks_like_codebase,
    parse_codebase,
)
from ingest.detect import describe_content, detect_kind
from ingest.text import LOSSY_NOTE, MAX_SEGMENT_LINES, parse_text, split_lines

# --- text ----------------------------------------------------------------------------------------


def test_markdown_title_lines_and_crlf(settings: Settings) -> None:
    data = b"\xef\xbb\xbfIntro line\r\n\r\n# The Title #\r\nBody\r\n"
    parsed = parse_text(FileInput.of("notes/readme.md", data), settings)
    doc = parsed.document
    assert (doc.kind, doc.status, doc.title, doc.error) == (
        DocumentKind.TEXT, Status.OK, "The Title", None
    )  # fmt: skip
    (segment,) = parsed.segments
    assert segment.text == "Intro line\n\n# The Title #\nBody"  # BOM dropped, CRLF normalised
    assert segment.locator == Locator(path="notes/readme.md", line_start=1, line_end=4)
    assert segment.tokens == count_text_tokens(segment.text) == doc.text_tokens


def test_plain_text_title_is_the_stem(settings: Settings) -> None:
    parsed = parse_text(FileInput.of("a/b/minutes.txt", b"# not a title here\nhello\n"), settings)
    assert parsed.document.title == "minutes"


def test_long_text_is_cut_at_headings_and_blank_lines(settings: Settings) -> None:
    lines = []
    for section in range(6):
        lines.append(f"## Section {section}")
        lines += [f"paragraph {section} line {i}" if i % 10 != 5 else "" for i in range(1, 121)]
    data = "\n".join(lines).encode()
    segments = parse_text(FileInput.of("long.md", data), settings).segments
    starts = [s.locator.line_start or 0 for s in segments]
    ends = [s.locator.line_end or 0 for s in segments]
    assert starts[0] == 1 and ends[-1] == len(lines)
    assert starts[1:] == [end + 1 for end in ends[:-1]]  # contiguous, nothing lost
    assert all(e - s + 1 <= MAX_SEGMENT_LINES for s, e in zip(starts, ends, strict=True))
    assert all(s.text.startswith("## Section") for s in segments)  # each cut before a heading
    for segment, start, end in zip(segments, starts, ends, strict=True):
        assert segment.text == "\n".join(lines[start - 1 : end])  # exactly those lines


def test_text_without_structure_is_cut_hard(settings: Settings) -> None:
    data = "\n".join(f"row,{i}" for i in range(450)).encode()
    segments = parse_text(FileInput.of("table.csv", data), settings).segments
    assert [(s.locator.line_start, s.locator.line_end) for s in segments] == [
        (1, 200), (201, 400), (401, 450)
    ]  # fmt: skip


def test_lossy_decode_is_partial_not_failed(settings: Settings) -> None:
    parsed = parse_text(FileInput.of("latin1.txt", "café au lait\n".encode("latin-1")), settings)
    assert parsed.document.status == Status.PARTIAL
    assert parsed.document.error == LOSSY_NOTE == (
        "not valid UTF-8: decoded with replacement characters"
    )
    assert parsed.segments[0].text == "caf\ufffd au lait"


def test_utf16_with_bom(settings: Settings) -> None:
    parsed = parse_text(FileInput.of("win.txt", "héllo\r\nwörld\r\n".encode("utf-16")), settings)
    assert parsed.document.status == Status.OK
    assert parsed.segments[0].text == "héllo\nwörld"


def test_empty_text_fails_with_a_reason(settings: Settings) -> None:
    parsed = parse_text(FileInput.of("empty.txt", b"\n\n  \n"), settings)
    assert parsed.document.status == Status.FAILED
    assert parsed.document.error == "no readable content"


def test_split_lines_counts_like_an_editor() -> None:
    assert split_lines("") == []
    assert split_lines("\n") == [""]
    assert split_lines("a\nb") == split_lines("a\nb\n") == split_lines("a\r\nb\r\n") == ["a", "b"]
    assert split_lines("a\rb\x0cc\u2028d") == ["a", "b\x0cc\u2028d"]


# --- code: collecting ----------------------------------------------------------------------------

PROJECT = {
    ".gitignore": b"*.log\n!keep.log\n/secret.txt\ngenerated/\n*.tmp\n",
    "main.py": b"import os\n\nprint(os.name)\n",
    "app.log": b"noise\n",
    "keep.log": b"kept by negation\n",
    "secret.txt": b"ignored at the root only\n",
    "generated/out.py": b"x = 1\n",
    "sub/.gitignore": b"!important.tmp\nlocal.cfg\n",
    "sub/secret.txt": b"kept: /secret.txt is anchored to the root\n",
    "sub/scratch.tmp": b"ignored by the root .gitignore\n",
    "sub/important.tmp": b"re-included by the nested .gitignore\n",
    "sub/local.cfg": b"ignored by the nested .gitignore\n",
    "other/local.cfg": b"kept: the nested rule applies under sub/ only\n",
    "sub/empty.py": b"",
    ".git/HEAD": b"ref: refs/heads/main\n",
    "node_modules/left-pad/index.js": b"module.exports = 1;\n",
    "node_modules/left-pad/package.json": b"{}\n",
    ".venv/lib/site.py": b"x = 1\n",
    "myenv/pyvenv.cfg": b"home = /usr/bin\n",
    "myenv/lib/x.py": b"x = 1\n",
    "pkg/__pycache__/m.cpython-311.pyc": b"\x00\x01",
    "build/lib/m.py": b"x = 1\n",
    "pkg/build/__init__.py": b"# a package called build is source\n",
    "rust/Cargo.toml": b"[package]\n",
    "rust/target/debug/app.d": b"junk\n",
    "vendor/lib.go": b"package lib\n",
    "logo.png": b"\x89PNG\r\n\x1a\n....",
    "blob": b"header\x00\x01\x02binary",
    "package-lock.json": b'{"a": "' + b"x" * 200_000 + b'"}',
    "poetry.lock": b"[[package]]\n",
    "huge.py": b"# big\n" * 400,
    "latin1.c": "/* café */\n".encode("latin-1"),
}
EXPECTED_FILES = [
    ".gitignore", "keep.log", "latin1.c", "main.py", "other/local.cfg", "pkg/build/__init__.py",
    "poetry.lock", "rust/Cargo.toml", "sub/.gitignore", "sub/empty.py", "sub/important.tmp",
    "sub/secret.txt",
]  # fmt: skip
EXPECTED_SKIPPED = {
    "app.log": "ignored by .gitignore",
    "secret.txt": "ignored by .gitignore",
    "generated/": "ignored by .gitignore",
    "sub/scratch.tmp": "ignored by .gitignore",
    "sub/local.cfg": "ignored by .gitignore",
    ".git/": "version control data",
    "node_modules/": "installed dependencies",
    ".venv/": "virtual environment",
    "myenv/": "virtual environment",
    "pkg/__pycache__/": "bytecode cache",
    "build/": "build output",
    "rust/target/": "build output",
    "vendor/": "vendored code",
    "logo.png": "binary file",
    "blob": "binary file",
    "package-lock.json": "lockfile over 100 KiB",
    "huge.py": "larger than 2 KiB (max_code_file_bytes)",
}


@pytest.fixture
def code_settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", workers=1, max_code_file_bytes=2048)


def write_tree(root: Path, files: dict[str, bytes]) -> Path:
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return root


def test_collect_folder(tmp_path: Path, code_settings: Settings) -> None:
    root = write_tree(tmp_path / "proj", PROJECT)
    os.symlink("main.py", root / "link.py")
    os.symlink("/etc", root / "etc-link")
    code = collect_folder(root, code_settings)
    assert [path for path, _ in code.files] == EXPECTED_FILES
    assert dict(code.files)["main.py"] == PROJECT["main.py"]
    assert dict(code.skipped) == {
        **EXPECTED_SKIPPED,
        "link.py": "symbolic link (not followed)",
        "etc-link": "symbolic link (not followed)",
    }
    assert len(code.skipped) == len(EXPECTED_SKIPPED) + 2  # each skipped folder once


def test_collect_members_matches_collect_folder(tmp_path: Path, code_settings: Settings) -> None:
    members = [(f"proj-main/{path}", data) for path, data in PROJECT.items()]
    code = collect_members(members, code_settings)
    folder = collect_folder(write_tree(tmp_path / "proj", PROJECT), code_settings)
    assert code.files == folder.files
    assert sorted(code.skipped) == sorted(folder.skipped)


def test_collect_members_keeps_several_top_folders(settings: Settings) -> None:
    members = [("a/x.py", b"1\n"), ("b/y.py", b"2\n")]
    code = collect_members(members, settings)
    assert [p for p, _ in code.files] == ["a/x.py", "b/y.py"]


def test_gitignore_cannot_reinclude_below_an_ignored_folder(code_settings: Settings) -> None:
    members = [(".gitignore", b"logs/\n!logs/keep.txt\n"), ("logs/keep.txt", b"x\n")]
    code = collect_members(members, code_settings)
    assert [p for p, _ in code.files] == [".gitignore"]
    assert code.skipped == [("logs/", "ignored by .gitignore")]


def test_docscoutignore_has_the_last_word_in_a_codebase(code_settings: Settings) -> None:
    members = [(".gitignore", b"*.log\n"), (".docscoutignore", b"fixtures/\n!keep.log\n"),
               ("app.py", b"x = 1\n"), ("fixtures/big.json", b"{}\n"), ("keep.log", b"k\n"),
               ("drop.log", b"d\n")]
    code = collect_members(members, code_settings)
    assert [p for p, _ in code.files] == [".docscoutignore", ".gitignore", "app.py", "keep.log"]
    assert ("fixtures/", "ignored by .docscoutignore") in code.skipped
    assert ("drop.log", "ignored by .gitignore") in code.skipped


def test_code_sha256() -> None:
    files = [("b.py", b"2"), ("a.py", b"1")]
    assert code_sha256(files) == code_sha256(list(reversed(files)))
    assert code_sha256(files) != code_sha256([("b.py", b"2"), ("a.py", b"1 ")])
    assert code_sha256(files) != code_sha256([("b.py", b"2"), ("c.py", b"1")])


# --- code: parsing -------------------------------------------------------------------------------


def test_parse_codebase(tmp_path: Path, code_settings: Settings) -> None:
    code = collect_folder(write_tree(tmp_path / "proj", PROJECT), code_settings)
    parsed = parse_codebase("proj", code, code_settings)
    doc = parsed.document
    assert (doc.kind, doc.title, doc.source, doc.files) == (DocumentKind.CODE, "proj", "proj", 12)
    assert doc.sha256 == code_sha256(code.files)
    assert doc.size_bytes == sum(len(data) for _, data in code.files)
    assert doc.status == Status.PARTIAL
    assert doc.error == "1 file not valid UTF-8, decoded with replacement characters: latin1.c"

    overview, *files = parsed.segments
    assert overview.kind == SegmentKind.TEXT and overview.locator == Locator(path=".")
    lines = overview.text.splitlines()
    assert lines[:2] == ["Codebase: proj", "12 files, 18 lines, 306 bytes"]
    assert "main.py (3)" in lines and "sub/" in lines and "  important.tmp (1)" in lines
    assert "Skipped 17 paths:" in lines
    assert "- ignored by .gitignore (5): app.log, generated/, secret.txt, sub/local.cfg, " \
        "sub/scratch.tmp" in lines
    assert "- installed dependencies (1): node_modules/" in lines

    by_path = {segment.locator.path: segment for segment in files}
    main = by_path["main.py"]
    assert main.kind == SegmentKind.CODE
    assert main.text == "import os\n\nprint(os.name)"  # stored as is: search indexes code
    assert main.prompt_text == "File: main.py\n1| import os\n2| \n3| print(os.name)"
    assert main.locator == Locator(path="main.py", line_start=1, line_end=3)
    assert main.locator.label() == "main.py:1-3"
    assert main.tokens == count_text_tokens(main.prompt_text)
    assert by_path["latin1.c"].prompt_text == "File: latin1.c\n1| /* caf\ufffd */"
    empty = by_path["sub/empty.py"]
    assert empty.prompt_text == "File: sub/empty.py\n" and empty.locator == Locator(path="sub/empty.py")
    assert empty.locator.label() == "sub/empty.py"
    assert doc.text_tokens == sum(s.tokens for s in parsed.segments)


def test_parse_codebase_numbers_long_files(settings: Settings) -> None:
    source = "".join(f"x{i} = {i}\n" for i in range(1, 1201)).encode()
    parsed = parse_codebase("one", CodeFiles([("big.py", source)], []), settings)
    segment = parsed.segments[1]
    assert segment.locator.label() == "big.py:1-1200"
    assert segment.prompt_text.splitlines()[40] == "40| x40 = 40"
    assert segment.prompt_text.endswith("\n1200| x1200 = 1200")


def test_blank_lines_keep_their_numbers(settings: Settings) -> None:
    parsed = parse_codebase("one", CodeFiles([("blank.py", b"\n"), ("two.py", b"a\r\n\r\nb")], []),
                            settings)
    blank, two = parsed.segments[1:]
    assert blank.locator.line_end == 1 and blank.prompt_text == "File: blank.py\n1| "
    assert two.prompt_text == "File: two.py\n1| a\n2| \n3| b"
    assert [s.tokens for s in (blank, two)] == [count_text_tokens(s.prompt_text) for s in (blank, two)]


def test_parse_codebase_without_files_fails(settings: Settings) -> None:
    code = CodeFiles([], [("logo.png", "binary file")])
    parsed = parse_codebase("pics", code, settings)
    assert parsed.document.status == Status.FAILED
    assert parsed.document.error == (
        "no source files found; skipped: binary file (1): logo.png"
    )


# --- recognising code and kinds ------------------------------------------------------------------


@pytest.mark.parametrize(
    "paths,expected",
    [
        (["repo-main/pyproject.toml", "repo-main/docs/a.pdf", "repo-main/docs/b.pdf"], True),
        ([".git/", "notes.txt"], True),
        (["a.py", "b.py", "README.md"], True),
        (["src/main.rs", "src/lib.rs", "a.pdf", "b.pdf", "c.pdf"], False),
        (["contracts/2021.pdf", "contracts/2022.pdf", "index.txt", "scan.png"], False),
        (["Solution.sln", "x.pdf"], True),
        ([], False),
    ],
)
def test_looks_like_codebase(paths: list[str], expected: bool) -> None:
    assert looks_like_codebase(paths) is expected


@pytest.mark.parametrize(
    "path,expected",
    [("src/a.py", True), ("Makefile", True), ("docker/Dockerfile", True), ("Dockerfile.dev", True),
     ("x/pyproject.toml", True), ("web/app.tsx", True), ("notes.md", False), ("a.pdf", False),
     ("README", False), ("data.bin", False)],
)  # fmt: skip
def test_is_source_file(path: str, expected: bool) -> None:
    assert is_source_file(path) is expected


def _zip_bytes() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("a.txt", "a")
    return buf.getvalue()


@pytest.mark.parametrize(
    "name,head,kind",
    [
        ("report.pdf", b"%PDF-1.7\n%\xe2\xe3", "pdf"),
        ("weird.pdf", b"junk before the header\n%PDF-1.4\n", "pdf"),
        ("scan.jpg", b"%PDF-1.5\n", "pdf"),  # content wins over the name
        ("about-pdf.md", b"# PDFs\nThey start with %PDF-1.7 ...\n", "text"),
        ("a.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "image"),
        ("a", b"\xff\xd8\xff\xe0\x00\x10JFIF", "image"),
        ("a.gif", b"GIF89a\x01\x00", "image"),
        ("a.webp", b"RIFF\x10\x00\x00\x00WEBPVP8 ", "image"),
        ("a.tif", b"II*\x00\x08\x00", "image"),
        ("a.bmp", b"BM" + bytes(12) + (40).to_bytes(4, "little"), "image"),
        ("bmw.txt", b"BMW annual report\n", "text"),
        ("code.zip", _zip_bytes(), "archive"),
        ("x.tar.gz", gzip.compress(b"not even a tar"), "archive"),  # the name says tar
        ("notes.md", b"# Notes\n", "text"),
        ("data.csv", b"a,b\n1,2\n", "text"),
        ("config.yaml", b"a: 1\n", "text"),
        ("latin1.txt", "café".encode("latin-1"), "text"),
        ("main.py", b"print(1)\n", "code"),
        ("Makefile", b"all:\n\techo hi\n", "code"),
        ("LICENSE", b"MIT License\n", "text"),
        ("program.exe", b"MZ\x90\x00\x03\x00\x00\x00", None),
        ("mystery", b"\x81\x82\x83 not utf-8", None),
        ("utf16.txt", "hi".encode("utf-16"), "text"),
        ("empty.pdf", b"", "pdf"),  # nothing to judge: the name decides
        ("bad.pdf", b"\x00\x13\xfe random bytes", "pdf"),  # the PDF parser says what it is
        ("page.pdf", b"<!DOCTYPE html><html>", "pdf"),
        ("chart.pdf", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "image"),  # content wins
        ("broken.png", b"\x00\x01 not an image", "image"),  # Pillow says what is wrong
        ("empty.png", b"", "image"),
        ("empty.txt", b"", "text"),
        ("empty.py", b"", "code"),
    ],
)
def test_detect_kind(name: str, head: bytes, kind: str | None) -> None:
    assert detect_kind(name, head) == kind


@pytest.mark.parametrize(
    "head,what",
    [(b"\x89PNG\r\n\x1a\n", "a PNG image"), (b"\xff\xd8\xff\xe0", "a JPEG image"),
     (b"PK\x03\x04\x14\x00", "a ZIP archive (Word, Excel and PowerPoint files are ZIP archives "
      "too)"), (b"MZ\x90\x00", "a Windows program"), (b"  <!doctype html>\n<p>", "an HTML page"),
     (b"just words\n", "text"), (b"%PDF-1.4\n", "a PDF"), (b"", "an empty file"),
     (b"\x00\x9f\x92\x96", "unrecognised binary data (damaged, or not a document)")],
)  # fmt: skip
def test_describe_content_names_what_a_file_is(head: bytes, what: str) -> None:
    assert describe_content(head) == what


def test_overview_of_a_huge_tree_lists_folders(settings: Settings) -> None:
    files = [(f"pkg{i % 7}/sub{i % 3}/m{i}.py", b"x = 1\n") for i in range(3500)]
    parsed = parse_codebase("mono", CodeFiles(sorted(files), []), settings)
    overview = parsed.segments[0].text
    assert "3500 files, 3500 lines" in overview
    assert "Folders (too many files to list; 2 levels shown):" in overview
    assert "pkg0/sub0/ (" in overview and "m1.py" not in overview
    assert parsed.segments[0].tokens < 2000 and parsed.document.files == 3500

"""Hostile inputs, generated: each case makes its files in a folder of its own and says what the
batch must answer for them. tests/test_hostile.py runs every case alone and all of them as one
batch, into a database already holding sample_docs, with integrity checks after each run.

Names are unique across cases and so are contents (each carries its case's name), so that in one
batch no case is answered "unchanged, same content as" another case's file.
"""

from __future__ import annotations

import codecs
import io
import os
import subprocess
import tarfile
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pymupdf

OK, PARTIAL, FAILED, UNCHANGED = "ok", "partial", "failed", "unchanged"
READABLE = {OK, PARTIAL}


@dataclass
class Case:
    """The paths to ingest, and per source the statuses allowed and a part of its message."""

    paths: list[Path]
    expect: dict[str, tuple[set[str], str | None]] = field(default_factory=dict)
    # extra checks on (outcomes by source, the store), e.g. that each member kept its own bytes
    check: Callable[[dict, object], None] | None = None


CASES: dict[str, Callable[[Path], Case]] = {}


def case(fn: Callable[[Path], Case]) -> Callable[[Path], Case]:
    CASES[fn.__name__] = fn
    return fn


def expect(status: str | set[str], message: str | None = None) -> tuple[set[str], str | None]:
    return ({status} if isinstance(status, str) else status), message


# --- builders -------------------------------------------------------------------------------


def pdf_bytes(*pages: str, password: str | None = None) -> bytes:
    doc = pymupdf.open()
    for text in pages:
        doc.new_page().insert_text((72, 72), text)
    if password:
        return doc.tobytes(encryption=pymupdf.PDF_ENCRYPT_AES_256, user_pw=password,
                           owner_pw=password + "-owner")
    return doc.tobytes()


def raw_pdf(objects: list[bytes], trailer: bytes = b"/Root 1 0 R") -> bytes:
    """A PDF from its object bodies (object n is objects[n-1]), with a correct xref table."""
    out = io.BytesIO()
    out.write(b"%PDF-1.7\n")
    offsets = []
    for n, body in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n%s\nendobj\n" % (n, body))
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    out.write(b"".join(b"%010d 00000 n \n" % o for o in offsets))
    out.write(b"trailer\n<< /Size %d %s >>\nstartxref\n%d\n%%%%EOF\n"
              % (len(objects) + 1, trailer, xref))
    return out.getvalue()


def zip_bytes(members: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members:
            zf.writestr(name, data)
    return buffer.getvalue()


def tar_bytes(members: list[tarfile.TarInfo | tuple[str | bytes, bytes]], mode: str = "w"
              ) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode, format=tarfile.GNU_FORMAT) as tf:
        for member in members:
            if isinstance(member, tarfile.TarInfo):
                tf.addfile(member)
                continue
            name, data = member
            if isinstance(name, bytes):
                name = name.decode("utf-8", "surrogateescape")
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def tar_entry(name: str, kind: bytes, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, linkname
    return info


class _Zeros(io.RawIOBase):
    def __init__(self, n: int) -> None:
        self.left = n

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = min(len(buffer), self.left)
        buffer[:n] = bytes(n)
        self.left -= n
        return n


def write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def deep_folder_at(root: Path, levels: int) -> Path:
    """`levels` nested folders (one at a time: os.makedirs recurses); the deepest one."""
    root.mkdir(parents=True, exist_ok=True)
    folder = root
    for _ in range(levels):
        folder = folder / "d"
        folder.mkdir()
    return folder


def remove_tree(path: Path) -> None:
    """shutil.rmtree (and so pytest's own clean-up) recurses, and a folder 1,900 deep exceeds
    its recursion limit: `rm -rf` does not."""
    subprocess.run(["rm", "-rf", str(path)], check=True)


# --- 1. one input must not kill the call ----------------------------------------------------


# Folders on disk: as deep as a path stays under PATH_MAX (4096 bytes) below pytest's tmp_path;
# far past Python's recursion limit (1000) all the same. Archive members go to 2,000.
DISK_LEVELS = 1900


@case
def deep_folder(d: Path) -> Case:
    root = d / "deepdir"
    write(deep_folder_at(root, DISK_LEVELS) / "bottom.txt", "the bottom of deepdir\n")
    return Case([root], {f"deepdir{'/d' * DISK_LEVELS}/bottom.txt": expect(OK)})


@case
def deep_codebase(d: Path) -> Case:
    root = d / "deepcode"
    write(root / "pyproject.toml", "[project]\nname = 'deepcode'\n")
    write(deep_folder_at(root, DISK_LEVELS) / "leaf.py", "LEAF = 'deepcode'\n")
    return Case([root], {"deepcode": expect(OK)})


@case
def deep_archive_members_2000(d: Path) -> Case:
    members = [("pyproject.toml", b"[project]\nname = 'deepzip'\n"),
               ("d/" * 2000 + "leaf.py", b"LEAF = 'deepzip'\n")]
    return Case([write(d / "deepzip.zip", zip_bytes(members))], {"deepzip.zip": expect(OK)})


@case
def deep_tar_documents_2000(d: Path) -> Case:
    data = tar_bytes([("d/" * 2000 + "note.txt", b"the bottom of deeptar\n")], "w:gz")
    return Case([write(d / "deeptar.tar.gz", data)],
                {"deeptar.tar.gz" + "/d" * 2000 + "/note.txt": expect(OK)})


@case
def non_utf8_name_on_disk(d: Path) -> Case:
    name = b"caf\xe9-latin1.txt".decode("utf-8", "surrogateescape")
    path = write(d / name, "a file named in Latin-1\n")
    return Case([path], {"caf\\xe9-latin1.txt": expect(OK)})


@case
def non_utf8_name_in_folder(d: Path) -> Case:
    name = b"r\xe9sum\xe9.md".decode("utf-8", "surrogateescape")
    write(d / "latin1folder" / name, "# Resume\n\nnamed in Latin-1, in a folder\n")
    write(d / "latin1folder" / "plain.md", "# Plain\n\nbeside it\n")
    return Case([d / "latin1folder"], {"latin1folder/r\\xe9sum\\xe9.md": expect(OK),
                                       "latin1folder/plain.md": expect(OK)})


@case
def non_utf8_name_in_tar(d: Path) -> Case:
    data = tar_bytes([(b"bad\xffname.txt", b"a tar member named in bytes\n"),
                      ("good.txt", b"the good member of badtar\n")])
    return Case([write(d / "badtar.tar", data)], {"badtar.tar/bad\\xffname.txt": expect(OK),
                                                   "badtar.tar/good.txt": expect(OK)})


@case
def non_utf8_names_in_codebase(d: Path) -> Case:
    root = d / "latin1repo"
    write(root / "setup.py", "print('latin1repo')\n")
    write(root / b"m\xf6dule.py".decode("utf-8", "surrogateescape"), "X = 'latin1repo'\n")

    def check(outcomes, store) -> None:
        paths = {s.locator.path for s in store.segments("hostile", "latin1repo")}
        assert "m\\xf6dule.py" in paths, paths

    return Case([root], {"latin1repo": expect(OK)}, check)


@case
def missing_path_beside_a_readable_one(d: Path) -> Case:
    return Case([d / "does-not-exist.pdf", write(d / "beside-missing.txt", "still read\n")],
                {str(d / "does-not-exist.pdf"): expect(FAILED, "no such file"),
                 "beside-missing.txt": expect(OK)})


# --- 2. messages name the content -----------------------------------------------------------


@case
def random_bytes_named_png(d: Path) -> Case:
    data = bytes((i * 131 + 7) % 251 for i in range(4000)) + b"random-png"
    return Case([write(d / "random.png", data)],
                {"random.png": expect(FAILED, "not a PNG: the content looks like unrecognised")})


@case
def heic_named_png(d: Path) -> Case:
    data = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(200) + b"heic-case"
    return Case([write(d / "iphone.png", data)],
                {"iphone.png": expect(FAILED, "not a PNG: the content looks like a HEIC image")})


@case
def nul_bytes_in_text(d: Path) -> Case:
    data = b"header\x00\x01\x02 then text " * 20 + b"nul-case"
    return Case([write(d / "nul.txt", data)],
                {"nul.txt": expect(FAILED, "binary content (NUL bytes")})


@case
def elf_named_txt(d: Path) -> Case:
    data = b"\x7fELF\x02\x01\x01" + bytes(100) + b"elf-case"
    return Case([write(d / "program.txt", data)],
                {"program.txt": expect(FAILED, "binary content (NUL bytes; it is a Linux program")})


@case
def utf16_source_without_bom(d: Path) -> Case:
    path = write(d / "utf16le.py", "def hello():\n    return 'utf16le'\n".encode("utf-16-le"))

    def check(outcomes, store) -> None:
        text = " ".join(s.text for s in store.segments("hostile", "utf16le.py"))
        assert "return 'utf16le'" in text

    return Case([path], {"utf16le.py": expect(OK)}, check)


@case
def utf16_be_text_without_bom(d: Path) -> Case:
    path = write(d / "utf16be.txt", "Big-endian notes, utf16be case.\n".encode("utf-16-be"))

    def check(outcomes, store) -> None:
        assert "Big-endian notes" in store.segments("hostile", "utf16be.txt")[0].text

    return Case([path], {"utf16be.txt": expect(OK)}, check)


@case
def utf32_text_with_bom(d: Path) -> Case:
    path = write(d / "utf32.md", codecs.BOM_UTF32_LE + "# UTF-32\n\nutf32 case\n".encode(
        "utf-32-le"))

    def check(outcomes, store) -> None:
        assert "utf32 case" in store.segments("hostile", "utf32.md")[0].text

    return Case([path], {"utf32.md": expect(OK)}, check)


@case
def utf16_files_in_codebase(d: Path) -> Case:
    root = d / "utf16repo"
    write(root / "pyproject.toml", "[project]\nname = 'utf16repo'\n")
    write(root / "bom.py", "BOM = 'utf16repo with BOM'\n".encode("utf-16"))
    write(root / "nobom.py", "NOBOM = 'utf16repo without BOM'\n".encode("utf-16-le"))
    write(root / "blob.py", b"\x00\x01\x02\x03binary\x00" * 10)

    def check(outcomes, store) -> None:
        segments = {s.locator.path: s.text for s in store.segments("hostile", "utf16repo")}
        assert "utf16repo with BOM" in segments["bom.py"]
        assert "utf16repo without BOM" in segments["nobom.py"]
        assert "blob.py" not in segments and "binary file" in segments["."]

    return Case([root], {"utf16repo": expect(OK)}, check)


@case
def fifo_argument(d: Path) -> Case:
    os.mkfifo(d / "pipe.fifo")
    return Case([d / "pipe.fifo"], {"pipe.fifo": expect(FAILED, "not a regular file (FIFO)")})


@case
def empty_folder(d: Path) -> Case:
    (d / "nothing-here").mkdir()
    return Case([d / "nothing-here"],
                {"nothing-here": expect(FAILED, "nothing to ingest: the folder is empty")})


@case
def only_hidden_files(d: Path) -> Case:
    write(d / "hidden-only" / ".secret.txt", "hidden-only case\n")
    return Case([d / "hidden-only"], {"hidden-only": expect(FAILED, "every file in the folder")})


@case
def all_ignored_codebase_beside_an_empty_pdf(d: Path) -> Case:
    """Both hash like empty content: neither may be taken for the other."""
    root = d / "ignoredrepo"
    write(root / ".gitignore", "*\n")
    write(root / "main.py", "print('ignoredrepo')\n")
    empty = write(d / "empty.pdf", b"")
    return Case([empty, root], {"ignoredrepo": expect(FAILED, "no source files found"),
                                "empty.pdf": expect(FAILED, "empty file")})


# --- 3. stored data is the right data -------------------------------------------------------


def _own_bytes(archive: str, names: list[str], marks: list[str]) -> Callable:
    def check(outcomes, store) -> None:
        for name, mark in zip(names, marks):
            source = f"{archive}/{name}"
            text = " ".join(s.text for s in store.segments("hostile", source))
            assert mark in text, (source, text[:200])
            original = store.original("hostile", source)
            if original is not None:
                assert mark.encode() in pymupdf.open(stream=original.data).load_page(0) \
                    .get_text().encode()

    return check


@case
def duplicate_names_in_zip(d: Path) -> Case:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf, warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "Duplicate name": the point of the case
        zf.writestr("a.pdf", pdf_bytes("first dupzip member"))
        zf.writestr("a.pdf", pdf_bytes("second dupzip member"))
    path = write(d / "dupzip.zip", buffer.getvalue())
    return Case([path], {"dupzip.zip/a.pdf": expect(OK), "dupzip.zip/a (2).pdf": expect(OK)},
                _own_bytes("dupzip.zip", ["a.pdf", "a (2).pdf"],
                           ["first dupzip member", "second dupzip member"]))


@case
def duplicate_names_in_tar(d: Path) -> Case:
    data = tar_bytes([("notes.txt", b"first duptar member\n"),
                      ("notes.txt", b"second duptar member\n")])
    return Case([write(d / "duptar.tar", data)],
                {"duptar.tar/notes.txt": expect(OK), "duptar.tar/notes (2).txt": expect(OK)},
                _own_bytes("duptar.tar", ["notes.txt", "notes (2).txt"],
                           ["first duptar member", "second duptar member"]))


# --- classic ones: traversal, links, devices, bombs, limits ---------------------------------


@case
def zip_traversal(d: Path) -> Case:
    data = zip_bytes([("../../escape.txt", b"out"), ("..\\..\\win.txt", b"out"),
                      ("/etc/abs.txt", b"out"), ("C:/drive.txt", b"out"),
                      ("inside.txt", b"zip traversal inside\n")])
    return Case([write(d / "traversal.zip", data)], {
        "traversal.zip/../../escape.txt": expect(FAILED, "escapes the archive"),
        "traversal.zip/..\\..\\win.txt": expect(FAILED, "escapes the archive"),
        "traversal.zip//etc/abs.txt": expect(FAILED, "absolute path"),
        "traversal.zip/C:/drive.txt": expect(FAILED, "absolute path"),
        "traversal.zip/inside.txt": expect(OK)})


@case
def tar_links_and_devices(d: Path) -> Case:
    data = tar_bytes([tar_entry("sym", tarfile.SYMTYPE, "/etc/passwd"),
                      tar_entry("hard", tarfile.LNKTYPE, "inside.txt"),
                      tar_entry("dev", tarfile.CHRTYPE), tar_entry("fifo", tarfile.FIFOTYPE),
                      ("inside.txt", b"tar links inside\n")])
    return Case([write(d / "links.tar", data)], {
        "links.tar/sym": expect(FAILED, "symbolic link"),
        "links.tar/hard": expect(FAILED, "hard link"),
        "links.tar/dev": expect(FAILED, "device"), "links.tar/fifo": expect(FAILED, "fifo"),
        "links.tar/inside.txt": expect(OK)})


@case
def symlink_argument_and_inside_folder(d: Path) -> Case:
    target = write(d / "linked-target.txt", "symlink case target\n")
    (d / "link.txt").symlink_to(target)
    write(d / "linkfolder" / "real.txt", "symlink case real file\n")
    (d / "linkfolder" / "escape.txt").symlink_to("/etc/passwd")
    return Case([d / "link.txt", d / "linkfolder"], {
        "link.txt": expect(FAILED, "symbolic link"), "linkfolder/real.txt": expect(OK)},
        lambda outcomes, store: _absent(outcomes, "linkfolder/escape.txt"))


def _absent(outcomes: dict, source: str) -> None:
    assert source not in outcomes


@case
def tar_gz_bomb(d: Path) -> Case:
    path = d / "bomb.tar.gz"
    with tarfile.open(path, "w:gz", compresslevel=9) as tf:
        info = tarfile.TarInfo("zeros.txt")
        info.size = 40 * 2**20  # over max_file_bytes, under max_expanded_bytes: the ratio stops it
        tf.addfile(info, _Zeros(info.size))
    return Case([path], {"bomb.tar.gz": expect(FAILED, "possible zip bomb")})


@case
def zip_bomb(d: Path) -> Case:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        with zf.open("zeros.txt", "w", force_zip64=True) as member:
            for _ in range(40):
                member.write(bytes(2**20))
        zf.writestr("fine.txt", b"zip bomb neighbour\n")
    return Case([write(d / "bomb.zip", buffer.getvalue())],
                {"bomb.zip": expect(FAILED, "possible zip bomb")})


@case
def too_many_members(d: Path) -> Case:
    data = zip_bytes([(f"m{i}.txt", f"member {i} of many\n".encode()) for i in range(150)])
    return Case([write(d / "many.zip", data)], {"many.zip": expect(FAILED, "more than 100")})


@case
def member_over_size_limit(d: Path) -> Case:
    sixteen_values = bytes.maketrans(bytes(range(256)), bytes(b"0123456789abcdef" * 16))
    big = os.urandom(9 * 2**20).translate(sixteen_values)  # compresses about 2:1: no bomb
    data = tar_bytes([("big.txt", big), ("small.txt", b"size limit small\n")], "w:gz")
    return Case([write(d / "oversize.tar.gz", data)], {
        "oversize.tar.gz/big.txt": expect(FAILED, "larger than the limit"),
        "oversize.tar.gz/small.txt": expect(OK)})


@case
def file_over_size_limit(d: Path) -> Case:
    return Case([write(d / "huge.txt", b"x" * (9 * 2**20))],
                {"huge.txt": expect(FAILED, "file too large")})


@case
def archives_nested_too_deep(d: Path) -> Case:
    inner = zip_bytes([("core.txt", b"nested core\n")])
    middle = zip_bytes([("inner.zip", inner)])
    outer = zip_bytes([("middle.zip", middle)])
    return Case([write(d / "nested.zip", outer)],
                {"nested.zip/middle.zip/inner.zip": expect(FAILED, "nested deeper")})


@case
def corrupt_zip(d: Path) -> Case:
    return Case([write(d / "corrupt.zip", b"PK\x03\x04" + b"\xff" * 300 + b"corrupt-zip")],
                {"corrupt.zip": expect(FAILED, "not a readable zip")})


@case
def truncated_tar_gz(d: Path) -> Case:
    data = tar_bytes([("a.txt", os.urandom(50_000))], "w:gz")
    return Case([write(d / "truncated.tar.gz", data[: len(data) // 2])],
                {"truncated.tar.gz": expect(FAILED, "not a readable archive")})


@case
def encrypted_zip_member(d: Path) -> Case:
    data = bytearray(zip_bytes([("locked.txt", b"encrypted member\n")]))
    data[6] |= 0x1  # the local header's "encrypted" flag ...
    central = data.rfind(b"PK\x01\x02")
    data[central + 8] |= 0x1  # ... and the central directory's
    return Case([write(d / "encrypted.zip", bytes(data))],
                {"encrypted.zip/locked.txt": expect(FAILED, "encrypted")})


@case
def corrupt_pdf(d: Path) -> Case:
    data = b"%PDF-1.7\n" + bytes((i * 97 + 13) % 256 for i in range(3000)) + b"corrupt-pdf"
    return Case([write(d / "corrupt.pdf", data)], {"corrupt.pdf": expect(FAILED, "PDF")})


@case
def encrypted_pdf(d: Path) -> Case:
    return Case([write(d / "locked.pdf", pdf_bytes("encrypted pdf", password="pw"))],
                {"locked.pdf": expect(FAILED, "password")})


@case
def truncated_pdf(d: Path) -> Case:
    data = pdf_bytes(*(f"truncated pdf page {i} " * 30 for i in range(6)))
    return Case([write(d / "truncated.pdf", data[: len(data) * 2 // 3])],
                {"truncated.pdf": expect({OK, PARTIAL, FAILED})})


@case
def html_named_pdf(d: Path) -> Case:
    return Case([write(d / "download.pdf", "<!DOCTYPE html><html>html-named-pdf</html>")],
                {"download.pdf": expect(FAILED, "it is an HTML page")})


@case
def pdf_with_javascript(d: Path) -> Case:
    data = raw_pdf([
        b"<< /Type /Catalog /Pages 2 0 R /OpenAction 4 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 5 0 R "
        b"/Resources << /Font << /F1 6 0 R >> >> >>",
        b"<< /S /JavaScript /JS (app.alert('pdf-js');) >>",
        b"<< /Length 44 >>\nstream\nBT /F1 12 Tf 72 700 Td (script pdf) Tj ET\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ])
    return Case([write(d / "script.pdf", data)], {"script.pdf": expect(READABLE)})


@case
def pdf_with_cyclic_page_tree(d: Path) -> Case:
    data = raw_pdf([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [2 0 R 3 0 R] /Count 2 >>",
        b"<< /Type /Pages /Parent 2 0 R /Kids [3 0 R] /Count 1 >>",
    ])
    return Case([write(d / "cyclic.pdf", data)],
                {"cyclic.pdf": expect(FAILED, "cycle in page tree")})


@case
def image_pixel_bomb(d: Path) -> Case:
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(
            ">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")
    return Case([write(d / "pixels.png", data)], {"pixels.png": expect(FAILED, "too large")})


@case
def one_line_text(d: Path) -> Case:
    path = write(d / "oneline.txt", b"one-line case " * 200_000)  # 2.8 MB, no newline

    def check(outcomes, store) -> None:
        segments = store.segments("hostile", "oneline.txt")
        assert len(segments) > 10 and all(len(s.text) <= 64_000 for s in segments)
        assert {(s.locator.line_start, s.locator.line_end) for s in segments} == {(1, 1)}

    return Case([path], {"oneline.txt": expect(OK)}, check)


@case
def invalid_utf8_text(d: Path) -> Case:
    return Case([write(d / "latin1.txt", "caf\u00e9 latin1 text\n".encode("latin-1"))],
                {"latin1.txt": expect(PARTIAL, "not valid UTF-8")})


@case
def office_document_is_not_an_archive(d: Path) -> Case:
    data = zip_bytes([("word/document.xml", b"<w:document>office case</w:document>")])
    return Case([write(d / "letter.docx", data)],
                {"letter.docx": expect(FAILED, "it is a ZIP archive")})


@case
def control_characters_in_name(d: Path) -> Case:
    return Case([write(d / "tab\tand\x1bescape.txt", "control characters case\n")],
                {"tab\tand\x1bescape.txt": expect(OK)})


@case
def long_file_name(d: Path) -> Case:
    name = "n" * 240 + ".txt"
    return Case([write(d / name, "long name case\n")], {name: expect(OK)})


@case
def crlf_and_cr_text(d: Path) -> Case:
    path = write(d / "crlf.txt", b"first crlf line\r\nsecond\rthird\n")

    def check(outcomes, store) -> None:
        assert store.segments("hostile", "crlf.txt")[0].locator.line_end == 3

    return Case([path], {"crlf.txt": expect(OK)}, check)


@case
def same_file_twice_in_one_call(d: Path) -> Case:
    path = write(d / "twice.txt", "given twice case\n")
    return Case([path, path], {"twice.txt": expect({OK, UNCHANGED})})

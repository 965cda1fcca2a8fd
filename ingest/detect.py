"""Which parser a file goes to, from its name and its first bytes.

Content wins over the name where content is conclusive (a PDF named `scan.jpg` is a PDF, a PNG
named `chart.pdf` an image); the name decides between text and code, which bytes cannot tell
apart, and for a file whose content is none of the known formats: a `.pdf` (or image) name sends
it to that parser, which says what is wrong with it (an empty `report.pdf`: "empty file"; random
bytes: "not a PDF: ..." with `describe_content`'s guess of what it is instead). Text is
recognised in UTF-8, UTF-16 and UTF-32, with or without a BOM (ingest.text.text_encoding); anything
else with a NUL byte in its head is binary content, and so unsupported, as is undecodable text
under an unknown extension: `unsupported_reason` says which, and what the content looks like.
"""

from __future__ import annotations

import codecs
import re
from pathlib import PurePosixPath
from typing import Literal

from ingest.archive import is_archive
from ingest.code_rules import is_source_file
from ingest.text import text_encoding

Kind = Literal["pdf", "image", "archive", "text", "code"]

HEAD_BYTES = 4096  # how much of a file callers should pass as `head`
_PDF_WINDOW = 1024  # the PDF spec tolerates junk before %PDF; Acrobat looks this far
TEXT_EXTS = set(
    """txt text md markdown mdx mkd rst adoc asciidoc org tex csv tsv psv json jsonl ndjson
    yaml yml xml html htm xhtml svg log ini cfg conf toml""".split()
)
_PDF_MAGIC = re.compile(rb"%PDF-\d")
_BMP_DIB_SIZES = {12, 40, 52, 56, 64, 108, 124}
_KIND_BY_EXT: dict[str, Kind] = {
    "pdf": "pdf",
    **dict.fromkeys(("png", "jpg", "jpeg", "gif", "webp", "tif", "tiff", "bmp"), "image"),
}


def is_image_head(head: bytes) -> bool:
    """PNG, JPEG, GIF, WebP, TIFF or BMP magic bytes."""
    if head.startswith((b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a")):
        return True
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return True
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return True
    # "BM" alone is too weak (a text file may start with it): check the DIB header size too.
    return head.startswith(b"BM") and int.from_bytes(head[14:18], "little") in _BMP_DIB_SIZES


def has_pdf_header(head: bytes) -> bool:
    """%PDF-n within the first KB, where the PDF spec (and Acrobat) look for it."""
    return _PDF_MAGIC.search(head[:_PDF_WINDOW]) is not None


def _is_pdf_head(name: str, head: bytes) -> bool:
    """%PDF-n at the start; or within the first KB (the spec tolerates junk before it) when the
    name says .pdf, so a README quoting "%PDF-1.7" stays text."""
    if _PDF_MAGIC.match(head):
        return True
    return name.lower().endswith(".pdf") and has_pdf_header(head)


def _decodes_as_text(head: bytes) -> bool:
    """Text in UTF-16 or UTF-32 (`text_encoding` found one), or valid UTF-8 with no NUL byte (a
    multi-byte character cut at the end of the head is fine)."""
    encoding = text_encoding(head)
    if encoding is None or encoding not in ("utf-8", "utf-8-sig"):
        return encoding is not None
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return False
    return True


def detect_kind(name: str, head: bytes) -> Kind | None:
    """"pdf", "image", "archive", "text", "code", or None for an unsupported or binary file."""
    if _is_pdf_head(name, head):
        return "pdf"
    if is_image_head(head):
        return "image"
    if is_archive(name, head):
        return "archive"
    ext = PurePosixPath(name).suffix.lower().lstrip(".")
    if ext in _KIND_BY_EXT:  # named a PDF or an image, and none: its parser says what it is
        return _KIND_BY_EXT[ext]
    if text_encoding(head) is None:
        return None  # binary content
    if ext in TEXT_EXTS:
        return "text"  # the text parser reads undecodable bytes lossily and says so
    if is_source_file(name):
        return "code"
    return "text" if _decodes_as_text(head) else None


def unsupported_reason(name: str, head: bytes) -> str:
    """Why `detect_kind` found no parser for a file, naming what its content looks like:
    "binary content (NUL bytes; it is a Linux program)" or "unsupported file type (.xyz; it is
    unrecognised binary data ...)"."""
    what = describe_content(head)
    if text_encoding(head) is None:
        return f"binary content (NUL bytes; it is {what})"
    suffix = PurePosixPath(name).suffix or "no extension"
    return f"unsupported file type ({suffix}; it is {what})"


# Formats a misnamed or damaged file often turns out to be, by their first bytes.
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"PK\x03\x04", "a ZIP archive (Word, Excel and PowerPoint files are ZIP archives too)"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old Microsoft Office document (.doc, .xls, .ppt)"),
    (b"{\\rtf", "an RTF document"),
    (b"%!PS", "a PostScript file"),
    (b"\x1f\x8b", "a gzip-compressed file"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!\x1a\x07", "a RAR archive"),
    (b"MZ", "a Windows program"),
    (b"\x7fELF", "a Linux program"),
)
# ISO-BMFF images (an iPhone photo saved as .png is HEIC): "ftyp" at 4, then the brand.
_FTYP_BRANDS = ((b"heic", "HEIC"), (b"heix", "HEIC"), (b"hevc", "HEIC"), (b"heim", "HEIC"),
                (b"heis", "HEIC"), (b"mif1", "HEIF"), (b"msf1", "HEIF"), (b"avif", "AVIF"))
_IMAGE_NAMES = ((b"\x89PNG", "PNG"), (b"\xff\xd8\xff", "JPEG"), (b"GIF8", "GIF"),
                (b"RIFF", "WebP"), (b"II*\x00", "TIFF"), (b"MM\x00*", "TIFF"), (b"BM", "BMP"))


def describe_content(head: bytes) -> str:
    """What a file's first bytes say it is, in words that follow "it is", for an error about a
    file that is not what its name says: "a PNG image", "an HTML page", "text", or
    "unrecognised binary data (damaged, or not a document)"."""
    if not head:
        return "an empty file"
    if has_pdf_header(head):
        return "a PDF"
    if is_image_head(head):
        return next(f"a {kind} image" for magic, kind in _IMAGE_NAMES if head.startswith(magic))
    if head[4:8] == b"ftyp":
        brand = next((kind for magic, kind in _FTYP_BRANDS if head[8:12] == magic), None)
        return f"a {brand} image" if brand else "an MP4 or QuickTime video"
    for magic, what in _SIGNATURES:
        if head.startswith(magic):
            return what
    if _decodes_as_text(head):
        start = head.lstrip(codecs.BOM_UTF8).lstrip()[:64].lower()
        if start.startswith((b"<!doctype html", b"<html")) or b"<html" in head[:1024].lower():
            return "an HTML page"
        return "text"
    return "unrecognised binary data (damaged, or not a document)"

"""Plain text (.txt, .md, .rst, .csv-like) as one TEXT document of line-addressed segments.

Bytes are decoded as UTF-8 (a BOM is dropped; a UTF-16 BOM switches to UTF-16). Bytes that are
not valid UTF-8 do not fail the document: they become U+FFFD and the document is stored `partial`
with the note "not valid UTF-8: decoded with replacement characters", so a user knows why some
characters look wrong. Lines are counted as editors count them (CRLF, CR and LF each end a
line), and each segment covers at most MAX_SEGMENT_LINES lines, cut before a Markdown heading or
after a blank line where the text offers one, so a citation `notes.md:41-80` lands on a readable
unit.
"""

from __future__ import annotations

import codecs
import re
from pathlib import PurePosixPath

from core.domain import DocumentKind, Locator, ParsedDocument, Segment, SegmentKind
from core.settings import Settings
from core.tokens import count_text_tokens
from ingest.base import FileInput, sha256_bytes

MAX_SEGMENT_LINES = 200
MIN_SEGMENT_LINES = 50  # never cut earlier than this just to land on a heading or blank line
MAX_SEGMENT_CHARS = 64_000  # long-line files (CSV, logs) are cut by size too
LOSSY_NOTE = "not valid UTF-8: decoded with replacement characters"
_HEADING = re.compile(r"^#{1,6}(\s|$)")
_TITLE = re.compile(r"^#\s+(.+?)\s*#*\s*$")
_MARKDOWN_EXTS = {".md", ".markdown", ".mdx", ".mkd"}


def decode_text(data: bytes) -> tuple[str, bool]:
    """(text, lossy): UTF-8 without its BOM, or UTF-16 when a UTF-16 BOM says so; undecodable
    bytes become U+FFFD and lossy is True."""
    encoding = "utf-8"
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    try:
        return data.decode(encoding), False
    except UnicodeDecodeError:
        return data.decode(encoding, errors="replace"), True


def split_lines(text: str) -> list[str]:
    """Lines as an editor numbers them: \\r\\n, \\r and \\n end a line; a final newline does not
    start another one. (str.splitlines also splits on form feeds and U+2028, which would shift
    line numbers away from what editors and `grep -n` show.)"""
    if not text:
        return []
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if lines[-1] == "":
        lines.pop()
    return lines


def chunk_bounds(lines: list[str]) -> list[tuple[int, int]]:
    """0-based [start, end) ranges covering all lines, each at most MAX_SEGMENT_LINES long and
    MAX_SEGMENT_CHARS large (unless a single line is larger)."""
    bounds, start = [], 0
    while start < len(lines):
        end = _hard_end(lines, start)
        if end < len(lines):
            end = _soft_end(lines, start, end)
        bounds.append((start, end))
        start = end
    return bounds


def _hard_end(lines: list[str], start: int) -> int:
    end, chars = start, 0
    limit = min(len(lines), start + MAX_SEGMENT_LINES)
    while end < limit and (end == start or chars + len(lines[end]) <= MAX_SEGMENT_CHARS):
        chars += len(lines[end]) + 1
        end += 1
    return end


def _soft_end(lines: list[str], start: int, end: int) -> int:
    """Move a cut back to just before the last heading, else just after the last blank line."""
    floor = start + min(MIN_SEGMENT_LINES, (end - start) // 2) + 1
    for i in range(end - 1, floor - 1, -1):
        if _HEADING.match(lines[i]):
            return i
    for i in range(end - 1, floor - 2, -1):
        if not lines[i].strip():
            return i + 1
    return end


def title_of(lines: list[str], name: str) -> str:
    """A Markdown file's first `# ` heading, else the file's stem (in other text a `# ` line is
    more often a comment than a title)."""
    path = PurePosixPath(name)
    if path.suffix.lower() in _MARKDOWN_EXTS:
        for line in lines:
            match = _TITLE.match(line)
            if match:
                return match.group(1)
    return path.stem or name


def parse_text(file: FileInput, settings: Settings) -> ParsedDocument:
    """A plain-text file as one TEXT document; never raises for undecodable bytes."""
    text, lossy = decode_text(file.data)
    lines = split_lines(text)
    segments = []
    for start, end in chunk_bounds(lines):
        body = "\n".join(lines[start:end])
        if not body.strip():
            continue
        locator = Locator(path=file.name, line_start=start + 1, line_end=end)
        segments.append(Segment(SegmentKind.TEXT, body, locator, count_text_tokens(body)))
    return ParsedDocument.build(
        source=file.name,
        kind=DocumentKind.TEXT,
        sha256=file.sha256 or sha256_bytes(file.data),
        title=title_of(lines, file.name),
        segments=segments,
        images=[],
        errors=[LOSSY_NOTE] if lossy else [],
        size_bytes=len(file.data),
    )

"""Plain text (.txt, .md, .rst, .csv-like) as one TEXT document of line-addressed segments.

Bytes are decoded as UTF-8, or as UTF-16 or UTF-32 when a byte-order mark says so or, without
one, when NUL bytes sit where those encodings put them (`text_encoding`). Bytes that are not
valid in the encoding do not fail the document: they become U+FFFD and the document is stored
`partial` with the note "not valid UTF-8: decoded with replacement characters", so a user knows why some
characters look wrong. Lines are counted as editors count them (CRLF, CR and LF each end a
line), and each segment covers at most MAX_SEGMENT_LINES lines, cut before a Markdown heading or
after a blank line where the text offers one, so a citation `notes.md:41-80` lands on a readable
unit. A line longer than MAX_SEGMENT_CHARS (a minified file, a one-line dump) is cut into pieces of
that size, each cited by its line, so no segment (and no tokenizer call) grows with the file.
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
HEAD_BYTES = 4096  # how much of a file `text_encoding` looks at
LOSSY_NOTE = "not valid UTF-8: decoded with replacement characters"
_HEADING = re.compile(r"^#{1,6}(\s|$)")
_TITLE = re.compile(r"^#\s+(.+?)\s*#*\s*$")
_MARKDOWN_EXTS = {".md", ".markdown", ".mdx", ".mkd"}


_BOMS = (  # UTF-32-LE's BOM starts with UTF-16-LE's: the longer ones first
    (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"),
)
# Without a BOM: (encoding, code unit width, the byte of each unit that is NUL for any character
# (UTF-32) or for ASCII (UTF-16)).
_NUL_PATTERNS = (("utf-32-le", 4, 3), ("utf-32-be", 4, 0), ("utf-16-le", 2, 1),
                 ("utf-16-be", 2, 0))


def text_encoding(head: bytes) -> str | None:
    """The encoding of text whose first bytes are `head`, or None for binary content.

    A BOM decides. Without one, bytes with no NUL are UTF-8 (decoded lossily where invalid), and
    NUL bytes are text only in the pattern UTF-32 or UTF-16 leave in ASCII-heavy text (one byte
    of every 2 or 4 zero, the others not) and when the head then decodes to printable text;
    any other NUL byte means binary content. (A few lines of stdlib codecs: the detector
    libraries guess legacy 8-bit code pages too, which DocScout does not want to guess.)"""
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            return encoding
    if b"\x00" not in head:
        return "utf-8"
    for encoding, width, nul_at in _NUL_PATTERNS:
        if _nul_pattern_fits(head, width, nul_at) and _printable(head, encoding):
            return encoding
    return None


def _nul_pattern_fits(head: bytes, width: int, nul_at: int) -> bool:
    units = len(head) // width
    if units < 2:
        return False
    zero_where_expected = sum(head[i * width + nul_at] == 0 for i in range(units))
    zero_elsewhere = head[: units * width].count(0) - zero_where_expected
    if width == 4:  # every character of UTF-32 has its top byte zero
        return zero_where_expected == units and zero_elsewhere <= units * 2
    return zero_where_expected >= units * 0.3 and zero_elsewhere <= units * 0.02


def _printable(head: bytes, encoding: str) -> bool:
    text = codecs.getincrementaldecoder(encoding)(errors="strict")
    try:
        decoded = text.decode(head, final=False)
    except UnicodeDecodeError:
        return False
    return all(ch.isprintable() or ch in "\t\n\r\f\v" for ch in decoded)


def decode_text(data: bytes) -> tuple[str, bool]:
    """(text, lossy): in the encoding `text_encoding` finds (a BOM is dropped); undecodable
    bytes become U+FFFD and lossy is True."""
    encoding = text_encoding(data[:HEAD_BYTES]) or "utf-8"
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


def _pieces(lines: list[str], start: int, end: int) -> list[str]:
    """The text of lines [start, end); one line over MAX_SEGMENT_CHARS comes in pieces of it."""
    if end - start == 1 and len(lines[start]) > MAX_SEGMENT_CHARS:
        line = lines[start]
        return [line[i : i + MAX_SEGMENT_CHARS] for i in range(0, len(line), MAX_SEGMENT_CHARS)]
    return ["\n".join(lines[start:end])]


def parse_text(file: FileInput, settings: Settings) -> ParsedDocument:
    """A plain-text file as one TEXT document; never raises for undecodable bytes."""
    text, lossy = decode_text(file.data)
    lines = split_lines(text)
    del text  # a large file: hold its text once (as lines), not twice
    segments = []
    for start, end in chunk_bounds(lines):
        for body in _pieces(lines, start, end):
            if body.strip():
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

"""Citations as footnotes: numbered across the report, each with what it points to.

Citations are numbered in order of first appearance; two citations of the same place (same
document and page, or the same lines of a file) share one footnote, wherever they occur. What a
footnote shows, from what the database keeps (segments and page images; not the original file):
- a page: a thumbnail, the page image stored at ingestion (figure and scanned pages, image
  files) or else the page's stored text drawn on a page; and the passage of the page that
  shares the most words and numbers with the sentence that cites it;
- lines of a source file or text document: those lines, numbered as the model read them (at most
  EXCERPT_LINES);
- a codebase's tree: its first lines;
- a citation that points to nothing the model read: says so.
"""

from __future__ import annotations

import html
import io
import re
from dataclasses import dataclass, field

import pymupdf
from PIL import Image, ImageOps

from core.domain import (
    Answer,
    Citation,
    Document,
    DocumentKind,
    Segment,
    SegmentKind,
    numbered_code,
)
from core.errors import StorageError
from storage.repository import Store

THUMBNAIL_PX = 300  # width; shown at half that in points, so thumbnails print sharp
EXCERPT_LINES = 12
PASSAGE_CHARS = 320
CLAIM_CHARS = 240  # how much of the answer before a citation is its claim
_PAGE = pymupdf.paper_rect("letter")
_FRAME = (170, 170, 170)  # thumbnails get a thin frame, so a white page stands out
_TERM = re.compile(r"\d[\d,.]*\d|\d|[^\W\d_]{3,}")
_CHUNK = re.compile(r"(?<=[.!?;:])\s+|\n+")


@dataclass(frozen=True, slots=True)
class Footnote:
    number: int
    label: str  # the citation as the answer wrote it, e.g. "[D3 p.12]"
    where: str  # "contract.pdf, page 2", "sample_repo: shelfmark/fees.py:9-20"
    valid: bool  # False: it points to nothing the model read
    excerpt: str = ""  # the cited passage, or numbered lines
    code: bool = False  # the excerpt is numbered lines (show it monospaced)
    image: bytes | None = field(default=None, repr=False)  # the page's thumbnail
    image_mime: str = "image/png"


class Footnotes:
    """Numbers the citations of a report's answers and resolves each number once."""

    def __init__(self, store: Store, collection: str) -> None:
        self.store, self.collection = store, collection
        self._numbers: dict[tuple, int] = {}
        self._notes: list[Footnote] = []
        self._segments: dict[str, list[Segment]] = {}
        self._documents: dict[str, Document] | None = None

    @property
    def notes(self) -> list[Footnote]:
        return list(self._notes)

    def numbers(self, answer: Answer) -> dict[str, list[int]]:
        """Footnote numbers for each citation label in `answer`'s text (a label such as
        "[D3 p.1, p.2]" holds several citations)."""
        out: dict[str, list[int]] = {}
        for citation in answer.citations:
            number = self._number(citation, answer.text)
            out.setdefault(citation.label, [])
            if number not in out[citation.label]:
                out[citation.label].append(number)
        return out

    def _number(self, citation: Citation, answer_text: str) -> int:
        key = _key(citation)
        if key not in self._numbers:
            self._numbers[key] = len(self._notes) + 1
            self._notes.append(self._resolve(len(self._notes) + 1, citation, answer_text))
        return self._numbers[key]

    # -- what a footnote shows -------------------------------------------------------------------

    def _resolve(self, number: int, citation: Citation, answer_text: str) -> Footnote:
        document = self._document(citation.document) if citation.valid else None
        if document is None:
            return Footnote(number, citation.label, "points to nothing the model read", False)
        segments = self._document_segments(document.source)
        if citation.path == ".":
            tree = next((s.text for s in segments if s.locator.path == "."), "")
            return Footnote(number, citation.label, f"{document.source}: list of files",
                            True, _first_lines(tree), code=True)
        if citation.line_start is not None:
            return self._lines(number, citation, document, segments)
        if citation.page is not None:
            return self._page(number, citation, document, segments, answer_text)
        return Footnote(number, citation.label, document.source, True, document.title)

    def _page(self, number: int, citation: Citation, document: Document,
              segments: list[Segment], answer_text: str) -> Footnote:
        on_page = [s for s in segments if s.locator.page == citation.page]
        text = "\n".join(s.text for s in on_page if s.kind == SegmentKind.TEXT).strip()
        where = document.source if document.kind == DocumentKind.IMAGE \
            else f"{document.source}, page {citation.page}"
        passage = passage_for(text, _claim(answer_text, citation.label))
        stored = next((self.store.image(s.image_sha256) for s in on_page
                       if s.kind == SegmentKind.IMAGE and s.image_sha256), None)
        if stored is not None:
            image, mime = thumbnail(stored.data), "image/jpeg"
        else:
            image, mime = text_page_thumbnail(text or "(no text on this page)"), "image/png"
        return Footnote(number, citation.label, where, True, passage, image=image,
                        image_mime=mime)

    def _lines(self, number: int, citation: Citation, document: Document,
               segments: list[Segment]) -> Footnote:
        start, end = citation.line_start or 1, citation.line_end or citation.line_start or 1
        lines: dict[int, str] = {}
        for s in segments:
            if s.locator.line_start is not None and citation.path in (None, s.locator.path):
                lines.update(enumerate(s.text.split("\n"), s.locator.line_start))
        shown = [lines.get(n, "") for n in range(start, min(end, start + EXCERPT_LINES - 1) + 1)]
        excerpt = numbered_code(citation.path or document.source, shown, start)
        if end - start + 1 > EXCERPT_LINES:
            excerpt += f"\n… {end - start + 1 - EXCERPT_LINES} more lines"
        if document.kind == DocumentKind.CODE:
            where = f"{document.source}: {citation.path}:{start}-{end}"
        else:
            where = f"{document.source}, lines {start}-{end}"
        return Footnote(number, citation.label, where, True, excerpt, code=True)

    def _document(self, source: str | None) -> Document | None:
        if self._documents is None:
            try:
                self._documents = {d.source: d for d in self.store.documents(self.collection)}
            except StorageError:
                self._documents = {}
        return self._documents.get(source or "")

    def _document_segments(self, source: str) -> list[Segment]:
        if source not in self._segments:
            self._segments[source] = self.store.segments(self.collection, source)
        return self._segments[source]


def _key(citation: Citation) -> tuple:
    if not citation.valid or citation.document is None:
        return ("nowhere", citation.label)
    return (citation.document, citation.page, citation.path, citation.line_start,
            citation.line_end)


def _first_lines(text: str) -> str:
    lines = text.split("\n")
    more = f"\n… {len(lines) - EXCERPT_LINES} more lines" if len(lines) > EXCERPT_LINES else ""
    return "\n".join(lines[:EXCERPT_LINES]) + more


def _claim(answer_text: str, label: str) -> str:
    at = answer_text.find(label)
    return answer_text[max(0, at - CLAIM_CHARS):at] if at >= 0 else ""


def _terms(text: str) -> set[str]:
    return {t.lower().rstrip(".,") for t in _TERM.findall(text)}


def passage_for(page_text: str, claim: str) -> str:
    """The run of the page's sentences (up to PASSAGE_CHARS) that starts with the sentence
    sharing the most words and numbers (numbers count double) with the claim."""
    chunks = [c.strip() for c in _CHUNK.split(page_text) if c and c.strip()]
    if not chunks:
        return ""
    wanted = _terms(claim)

    def score(chunk: str) -> int:
        return sum(2 if t[0].isdigit() else 1 for t in _terms(chunk) & wanted)

    best = max(range(len(chunks)), key=lambda i: (score(chunks[i]), -i))
    out = chunks[best]
    for chunk in chunks[best + 1:]:
        if len(out) + len(chunk) + 1 > PASSAGE_CHARS:
            break
        out += " " + chunk
    return out if len(out) <= PASSAGE_CHARS else out[:PASSAGE_CHARS - 1].rstrip() + "…"


def thumbnail(data: bytes) -> bytes:
    """A stored page or chart image as a JPEG THUMBNAIL_PX wide."""
    with Image.open(io.BytesIO(data)) as image:
        image = image.convert("RGB")
        image.thumbnail((THUMBNAIL_PX - 2, THUMBNAIL_PX * 2))
        out = io.BytesIO()
        ImageOps.expand(image, border=1, fill=_FRAME).save(out, "JPEG", quality=80)
        return out.getvalue()


def text_page_thumbnail(text: str) -> bytes:
    """A page's stored text drawn on a Letter page (shrunk to fit), as a PNG THUMBNAIL_PX wide:
    what the page holds, when no image of it was kept."""
    with pymupdf.open() as doc:
        page = doc.new_page(width=_PAGE.width, height=_PAGE.height)
        body = f'<div style="white-space: pre-wrap; font-family: sans-serif; font-size: 10pt">' \
               f"{html.escape(text)}</div>"
        page.insert_htmlbox(page.rect + (48, 48, -48, -48), body, scale_low=0)
        page.draw_rect(page.rect, color=tuple(c / 255 for c in _FRAME), width=3)
        zoom = THUMBNAIL_PX / _PAGE.width
        return page.get_pixmap(matrix=pymupdf.Matrix(zoom, zoom), alpha=False).tobytes("png")

"""Citations as footnotes: numbered across the report, each with what it points to.

Citations are numbered in order of first appearance; two citations of the same place (same
document and page, or the same lines of a file) share one footnote, wherever they occur. What a
footnote shows comes from the UI's resolver (app.evidence), so a report shows what the UI shows:
- a page: a thumbnail of the page drawn from the kept original, its claim highlighted (else the
  page image stored at ingestion, else the page's text drawn on a page), and the passage of the
  page that shares the most words and numbers with the sentence that cites it;
- lines of a source file or text document: those lines, numbered as the model read them (at most
  EXCERPT_LINES);
- a codebase's tree: its first lines;
- a citation that points to nothing the model read (or to a document no longer stored): says so.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field

import pymupdf
from PIL import Image, ImageOps

from app.escape import html_text
from app.evidence import claim_text, evidence
from core.domain import Answer, Citation
from storage.repository import Store

THUMBNAIL_PX = 300  # width; shown at half that in points, so thumbnails print sharp
EXCERPT_LINES = 12
PASSAGE_CHARS = 320
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

    def _resolve(self, number: int, citation: Citation, answer_text: str) -> Footnote:
        shown = evidence(self.store, self.collection, citation, answer_text, context_lines=0,
                         max_lines=EXCERPT_LINES)
        if not shown.found:
            return Footnote(number, citation.label, "points to nothing the model read", False)
        if shown.lines:
            return Footnote(number, citation.label, shown.where, True, shown.text or "",
                            code=True)
        passage = passage_for(shown.text or "", claim_text(answer_text, citation.label))
        if shown.image is not None:
            image, mime = thumbnail(shown.image), "image/jpeg"
        else:
            image, mime = text_page_thumbnail(shown.text or "(no text on this page)"), \
                "image/png"
        return Footnote(number, citation.label, shown.where, True, passage, image=image,
                        image_mime=mime)


def _key(citation: Citation) -> tuple:
    if not citation.valid or citation.document is None:
        return ("nowhere", citation.label)
    return (citation.document, citation.page, citation.path, citation.line_start,
            citation.line_end)






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
               f"{html_text(text)}</div>"
        page.insert_htmlbox(page.rect + (48, 48, -48, -48), body, scale_low=0)
        page.draw_rect(page.rect, color=tuple(c / 255 for c in _FRAME), width=3)
        zoom = THUMBNAIL_PX / _PAGE.width
        return page.get_pixmap(matrix=pymupdf.Matrix(zoom, zoom), alpha=False).tobytes("png")

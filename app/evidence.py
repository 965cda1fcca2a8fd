"""What a citation points to, ready to show: the cited page as an image, or the cited lines.

A page citation is drawn from the PDF's kept original (the answer's numbers and quoted phrases
highlighted, the segment's region outlined when known); without an original, the page image
stored at ingestion (figure and scanned pages); failing both, the page's text. A code citation
shows the cited lines, numbered as the model read them; an image document shows the image.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from core.domain import Citation, DocumentKind, Segment, SegmentKind, numbered_code
from core.errors import StorageError
from engine.citations import answer_terms
from ingest.preview import render_page
from storage.repository import Store

CONTEXT_LINES = 2  # shown around cited code lines
MAX_EXCERPT_LINES = 200

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z(\[])|\n+")


@dataclass(frozen=True, slots=True)
class Evidence:
    citation: Citation
    title: str  # "contract.pdf p.2", "sample_repo shelfmark/fees.py:3-9"
    image: bytes | None = field(default=None, repr=False)  # PNG or JPEG to show
    text: str | None = None  # page text or numbered code lines, shown as plain text
    language: str | None = None  # code highlighting hint
    highlights: int = 0  # term occurrences marked on the page image
    note: str = ""  # what is shown instead, when the best view is not available


def claim_terms(answer_text: str, label: str) -> tuple[str, ...]:
    """The distinctive terms of the sentence that carries `label` (of the whole answer when the
    label was inferred, not written in it)."""
    at = answer_text.find(label)
    if at < 0:
        return answer_terms(answer_text)
    sentences = _SENTENCE_END.split(answer_text[:at])
    return answer_terms(sentences[-1] if sentences else "")


def evidence(store: Store, collection: str, citation: Citation, answer_text: str = "") -> Evidence:
    """The view of one citation. Invalid citations get a note and nothing to show."""
    if citation.document is None or not citation.valid:
        return Evidence(citation, citation.label,
                        note="this citation points to nothing the model read")
    try:
        segments = store.segments(collection, citation.document)
        kind = next(d.kind for d in store.documents(collection) if d.source == citation.document)
    except (StorageError, StopIteration):
        return Evidence(citation, citation.label, note="the cited document is no longer stored")
    if citation.path is not None:
        return _code(citation, segments)
    if kind == DocumentKind.PDF:
        return _page(store, collection, citation, segments, answer_text)
    return _whole(store, citation, segments)


def _page(store: Store, collection: str, citation: Citation, segments: list[Segment],
          answer_text: str) -> Evidence:
    page = citation.page or 1
    on_page = [s for s in segments if s.locator.page == page]
    text = "\n\n".join(s.text for s in on_page if s.kind == SegmentKind.TEXT).strip()
    title = f"{citation.document} p.{page}"
    original = store.original(collection, citation.document)
    if original is not None:
        region = next((s.locator.bbox for s in on_page if s.locator.bbox), None)
        terms = claim_terms(answer_text, citation.label)
        try:
            png, hits = render_page(original.data, page, terms=terms, region=region)
            return Evidence(citation, title, png, text or None, highlights=hits)
        except (ValueError, RuntimeError):  # pymupdf raises RuntimeError subclasses
            pass
    picture = next((s for s in on_page if s.kind == SegmentKind.IMAGE and s.image_sha256), None)
    image = store.image(picture.image_sha256) if picture else None
    if image is not None:
        return Evidence(citation, title, image.data, text or None,
                        note="the page as stored at ingestion")
    return Evidence(citation, title, None, text or "(no text on this page)",
                    note="no image of this page is kept: showing its text")


def _code(citation: Citation, segments: list[Segment]) -> Evidence:
    path = citation.path or "."
    files = [s for s in segments if s.locator.path == path]
    if not files:
        return Evidence(citation, citation.label, note=f"{path} is not in the stored codebase")
    if path == ".":
        return Evidence(citation, f"{citation.document} tree", text=files[0].text)
    start = citation.line_start or files[0].locator.line_start or 1
    end = citation.line_end or start
    lines: dict[int, str] = {}
    for segment in files:
        first = segment.locator.line_start or 1
        for n, line in enumerate(segment.text.split("\n"), first):
            lines[n] = line
    low = max(min(lines), start - CONTEXT_LINES)
    high = min(max(lines), end + CONTEXT_LINES, low + MAX_EXCERPT_LINES - 1)
    shown = [lines.get(n, "") for n in range(low, high + 1)]
    span = f"{start}-{end}" if citation.line_start else "whole file"
    return Evidence(citation, f"{citation.document} {path}:{span}",
                    text=numbered_code(path, shown, low), language=_language(path))


def _whole(store: Store, citation: Citation, segments: list[Segment]) -> Evidence:
    """An image or text document cited as a whole (or by lines, for text)."""
    picture = next((s for s in segments if s.kind == SegmentKind.IMAGE and s.image_sha256), None)
    image = store.image(picture.image_sha256) if picture else None
    text = "\n\n".join(s.text for s in segments if s.kind == SegmentKind.TEXT).strip()
    if citation.line_start is not None:
        wanted = [s.text for s in segments if s.locator.line_start is not None
                  and s.locator.line_start <= citation.line_end
                  and (s.locator.line_end or s.locator.line_start) >= citation.line_start]
        text = "\n\n".join(wanted) or text
    return Evidence(citation, citation.document, image.data if image else None, text or None)


_LANGUAGES = {"py": "python", "js": "javascript", "ts": "typescript", "go": "go", "rs": "rust",
              "java": "java", "c": "c", "h": "c", "cpp": "cpp", "rb": "ruby", "sh": "bash",
              "md": "markdown", "toml": "toml", "yaml": "yaml", "yml": "yaml", "json": "json",
              "sql": "sql", "html": "html", "css": "css"}


def _language(path: str) -> str | None:
    return _LANGUAGES.get(path.rsplit(".", 1)[-1].lower()) if "." in path else None

"""What a citation points to, ready to show: the one resolver behind the UI's previews and the
reports' footnotes (app.reports.footnotes draws its thumbnails and passages from it).

- A page: drawn from the PDF's kept original (the claim's numbers and quoted phrases highlighted,
  the segment's region outlined when known); without an original, the page image stored at
  ingestion (figure and scanned pages); failing both, no image. The page's text comes along.
- Lines (of a source file or a text document): those lines, numbered as the model read them,
  with `context_lines` around them and at most `max_lines`.
- A codebase's tree: its list of files. An image document: the image and its OCR text.
- A citation that points to nothing the model read, or to a document no longer stored: a note,
  nothing to show.

The claim of a citation is the sentence that carries its label (the whole answer when the label
was inferred, not written in it): it picks the terms to highlight and the passage to quote.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from core.domain import Citation, Document, DocumentKind, Segment, SegmentKind, numbered_code
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
    where: str = ""  # in words: "contract.pdf, page 2", "sample_repo: shelfmark/fees.py:3-9"
    lines: bool = False  # `text` is numbered lines (show it monospaced)

    @property
    def found(self) -> bool:
        """Whether the citation resolved to something stored."""
        return self.image is not None or self.text is not None


def claim_text(answer_text: str, label: str) -> str:
    """The sentence that carries `label` (the whole answer when the label is not in it)."""
    at = answer_text.find(label)
    if at < 0:
        return answer_text
    sentences = _SENTENCE_END.split(answer_text[:at])
    return sentences[-1] if sentences else ""


def claim_terms(answer_text: str, label: str) -> tuple[str, ...]:
    """The distinctive terms of the citation's claim (see claim_text)."""
    return answer_terms(claim_text(answer_text, label))


def evidence(store: Store, collection: str, citation: Citation, answer_text: str = "", *,
             context_lines: int = CONTEXT_LINES, max_lines: int = MAX_EXCERPT_LINES
             ) -> Evidence:
    """The view of one citation. Invalid citations get a note and nothing to show."""
    if citation.document is None or not citation.valid:
        return Evidence(citation, citation.label,
                        note="this citation points to nothing the model read")
    try:
        segments = store.segments(collection, citation.document)
        document = next(d for d in store.documents(collection) if d.source == citation.document)
    except (StorageError, StopIteration):
        return Evidence(citation, citation.label, note="the cited document is no longer stored")
    if citation.path == ".":
        return _tree(citation, document, segments, max_lines)
    if citation.path is not None or citation.line_start is not None:
        return _lines(citation, document, segments, context_lines, max_lines)
    if document.kind == DocumentKind.PDF:
        return _page(store, collection, citation, segments, answer_text)
    return _whole(store, citation, segments)


def _page(store: Store, collection: str, citation: Citation, segments: list[Segment],
          answer_text: str) -> Evidence:
    page = citation.page or 1
    on_page = [s for s in segments if s.locator.page == page]
    text = "\n\n".join(s.text for s in on_page if s.kind == SegmentKind.TEXT).strip()
    title, where = f"{citation.document} p.{page}", f"{citation.document}, page {page}"
    original = store.original(collection, citation.document)
    if original is not None:
        region = next((s.locator.bbox for s in on_page if s.locator.bbox), None)
        terms = claim_terms(answer_text, citation.label)
        try:
            png, hits = render_page(original.data, page, terms=terms, region=region)
            return Evidence(citation, title, png, text or None, highlights=hits, where=where)
        except (ValueError, RuntimeError):  # pymupdf raises RuntimeError subclasses
            pass
    picture = next((s for s in on_page if s.kind == SegmentKind.IMAGE and s.image_sha256), None)
    image = store.image(picture.image_sha256) if picture else None
    if image is not None:
        return Evidence(citation, title, image.data, text or None,
                        note="the page as stored at ingestion", where=where)
    return Evidence(citation, title, None, text or "(no text on this page)",
                    note="no image of this page is kept: showing its text", where=where)


def _tree(citation: Citation, document: Document, segments: list[Segment],
          max_lines: int) -> Evidence:
    tree = next((s.text for s in segments if s.locator.path == "."), None)
    if tree is None:
        return Evidence(citation, citation.label, note="the codebase's list of files is not stored")
    return Evidence(citation, f"{citation.document} tree", text=_first(tree.split("\n"), max_lines),
                    where=f"{document.source}: list of files", lines=True)


def _lines(citation: Citation, document: Document, segments: list[Segment], context_lines: int,
           max_lines: int) -> Evidence:
    """Cited lines of a source file (citation.path) or of a text document, numbered."""
    path = citation.path
    files = [s for s in segments if s.locator.line_start is not None
             and (path is None or s.locator.path == path)]
    if not files:
        return Evidence(citation, citation.label,
                        note=f"{path or document.source} is not in the stored document")
    lines: dict[int, str] = {}
    for segment in files:
        lines.update(enumerate(segment.text.split("\n"), segment.locator.line_start or 1))
    start = citation.line_start or min(lines)
    end = citation.line_end or (start if citation.line_start else max(lines))
    low = max(min(lines), start - context_lines)
    high = min(max(lines), end + context_lines)
    shown = [lines.get(n, "") for n in range(low, min(high, low + max_lines - 1) + 1)]
    text = numbered_code(path or document.source, shown, low)
    if high - low + 1 > max_lines:
        text += f"\n… {high - low + 1 - max_lines} more lines"
    span = f"{start}-{end}" if citation.line_start else "whole file"
    if path is not None:
        title, where = f"{citation.document} {path}:{span}", f"{document.source}: {path}:{span}"
    else:
        title, where = f"{citation.document} lines {span}", f"{document.source}, lines {span}"
    return Evidence(citation, title, text=text, language=_language(path or document.source),
                    where=where, lines=True)


def _first(lines: list[str], max_lines: int) -> str:
    more = f"\n… {len(lines) - max_lines} more lines" if len(lines) > max_lines else ""
    return "\n".join(lines[:max_lines]) + more


def _whole(store: Store, citation: Citation, segments: list[Segment]) -> Evidence:
    """An image document (or a text one cited without lines): the image and the text."""
    picture = next((s for s in segments if s.kind == SegmentKind.IMAGE and s.image_sha256), None)
    image = store.image(picture.image_sha256) if picture else None
    text = "\n\n".join(s.text for s in segments if s.kind == SegmentKind.TEXT).strip()
    return Evidence(citation, citation.document, image.data if image else None, text or None,
                    where=citation.document)


_LANGUAGES = {"py": "python", "js": "javascript", "ts": "typescript", "go": "go", "rs": "rust",
              "java": "java", "c": "c", "h": "c", "cpp": "cpp", "rb": "ruby", "sh": "bash",
              "md": "markdown", "toml": "toml", "yaml": "yaml", "yml": "yaml", "json": "json",
              "sql": "sql", "html": "html", "css": "css"}


def _language(path: str) -> str | None:
    return _LANGUAGES.get(path.rsplit(".", 1)[-1].lower()) if "." in path else None

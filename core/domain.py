"""Domain types shared by every layer: pure values, no database ids, no ORM.

A `Segment` is what the model sees (a page's text, a rendered page image, a source file); its
`Locator` is what a citation points to (a page, or lines of a file). A `ParsedDocument` is what a
parser returns and what storage persists in one transaction; `Document` is the stored summary that
listings show.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

# The labels of text that OCR reads in a picture (ingest.ocr writes them). A chart's values come
# in a section of their own, one line per label, under the chart's title and axis titles:
# engine.grounding reads a value there as being about that title.
OCR_IMAGE_HEADER = "Text read from the image by OCR:"
OCR_FIGURE_HEADER = "Text read from a figure on this page by OCR:"
OCR_VALUES = "Values over each label (read by their position):"


class SegmentKind(StrEnum):
    TEXT = "text"
    IMAGE = "image"
    CODE = "code"


class DocumentKind(StrEnum):
    PDF = "pdf"
    IMAGE = "image"
    TEXT = "text"
    CODE = "code"


class Status(StrEnum):
    OK = "ok"
    PARTIAL = "partial"  # stored, but something in it could not be read (see error)
    FAILED = "failed"  # nothing usable could be read (see error)
    UNCHANGED = "unchanged"  # the same bytes are already stored in the collection


@dataclass(frozen=True, slots=True)
class Locator:
    """Where a segment comes from: a 1-based page (with an optional bbox in PDF points), or a
    path with 1-based inclusive line numbers inside a codebase."""

    page: int | None = None
    bbox: tuple[float, float, float, float] | None = None
    path: str | None = None
    line_start: int | None = None
    line_end: int | None = None
    # The label the PDF prints on the page ("287", "iv"), where it differs from `page`.
    page_label: str | None = None

    def label(self) -> str:
        if self.path is not None:
            if self.line_start is not None:
                return f"{self.path}:{self.line_start}-{self.line_end}"
            return self.path
        if self.page is not None:
            return f"p.{self.page}"
        return ""


@dataclass(frozen=True, slots=True)
class Image:
    """A normalised RGB image, stored once by the sha256 of its encoded bytes."""

    sha256: str
    width: int
    height: int
    mime: str  # image/png or image/jpeg
    data: bytes = field(repr=False)
    tokens: int  # Llama 4 prompt tokens for this image


@dataclass(frozen=True, slots=True)
class Segment:
    """One piece of a document as the model reads it. `tokens` counts what the model pays for
    it: the tokens of `prompt_text` for text and code, image tokens for images. For an image
    segment `text` is a short caption, not sent (OCR text lives in a neighbouring text segment).
    A code segment stores the file's text as is (so search indexes code, not line numbers); the
    model reads it with its path and numbered lines."""

    kind: SegmentKind
    text: str
    locator: Locator
    tokens: int
    image_sha256: str | None = None

    @property
    def prompt_text(self) -> str:
        """What the model reads for this segment, before the engine adds its citation label."""
        if self.kind == SegmentKind.CODE:
            lines = self.text.split("\n") if self.locator.line_end else []
            return numbered_code(self.locator.path or "", lines, self.locator.line_start or 1)
        return self.text


def numbered_code(path: str, lines: list[str], first: int = 1) -> str:
    """A source file (or part of one, from line `first`) as the model sees it: `File: path`,
    then `12| line` for every line, so that answers can cite `path:12-40`."""
    body = "\n".join(f"{n}| {line}" for n, line in enumerate(lines, first))
    return f"File: {path}\n{body}"


@dataclass(frozen=True, slots=True)
class Document:
    """A stored document as listings show it."""

    source: str  # the name as ingested: a file name, a folder name, or archive.zip/member/path
    kind: DocumentKind
    sha256: str
    title: str
    status: Status
    error: str | None = None
    pages: int | None = None  # PDFs
    files: int | None = None  # codebases
    text_tokens: int = 0
    image_tokens: int = 0
    size_bytes: int = 0
    collection: str | None = None
    # Pages (scanned, or with charts pasted as pictures) whose OCR is still to run: the document
    # is stored with its text layer first and OCRed in the background (ingest.pipeline.run_ocr).
    ocr_pending: int = 0


@dataclass(frozen=True, slots=True)
class ParsedDocument:
    """What a parser returns: the document and its ordered segments and images."""

    document: Document
    segments: tuple[Segment, ...] = ()
    images: tuple[Image, ...] = ()

    @staticmethod
    def build(
        *,
        source: str,
        kind: DocumentKind,
        sha256: str,
        title: str,
        segments: list[Segment],
        images: list[Image],
        errors: list[str],
        size_bytes: int,
        pages: int | None = None,
        files: int | None = None,
        ocr_pending: int = 0,
    ) -> "ParsedDocument":
        """Assemble a parse result; status follows from what was read and what went wrong."""
        if not segments:
            status = Status.FAILED
            errors = ["no readable content", *errors]
        elif errors:
            status = Status.PARTIAL
        else:
            status = Status.OK
        unique_images = tuple({img.sha256: img for img in images}.values())
        text_tokens = sum(s.tokens for s in segments if s.kind != SegmentKind.IMAGE)
        image_tokens = sum(s.tokens for s in segments if s.kind == SegmentKind.IMAGE)
        doc = Document(
            source=source,
            kind=kind,
            sha256=sha256,
            title=title,
            status=status,
            error="; ".join(errors) if errors else None,
            pages=pages,
            files=files,
            text_tokens=text_tokens,
            image_tokens=image_tokens,
            size_bytes=size_bytes,
            ocr_pending=ocr_pending,
        )
        return ParsedDocument(doc, tuple(segments), unique_images)

    @staticmethod
    def failed(
        *, source: str, kind: DocumentKind, sha256: str, error: str, size_bytes: int = 0
    ) -> "ParsedDocument":
        return ParsedDocument(
            Document(
                source=source,
                kind=kind,
                sha256=sha256,
                title=source.rsplit("/", 1)[-1],
                status=Status.FAILED,
                error=error,
                size_bytes=size_bytes,
            )
        )


@dataclass(frozen=True, slots=True)
class CollectionInfo:
    name: str
    documents: int
    text_tokens: int
    image_tokens: int
    failed: int


class Mode(StrEnum):
    """How a question reads the collection. A caller asks for one (AUTO by default); the Analyst
    decides the rest (engine.service.Analyst.plan) and an answer records what was used: FULL,
    FOCUSED or MAP_REDUCE."""

    AUTO = "auto"  # asked for: full when it fits, else focused; map-reduce only far beyond
    FULL = "full"  # the whole collection fits: every segment, in a stable order
    FOCUSED = "focused"  # the most relevant pages and files, in document order
    MAP_REDUCE = "map-reduce"  # one answer per window, then one combined answer


class StopReason(StrEnum):
    """Why generation ended. Only STOP (the model finished) and LENGTH (cut at the answer's
    token limit; the text may still hold the answer) are answers; the others are failures."""

    STOP = "stop"
    LENGTH = "length"
    LOOP = "loop"  # the loop guard saw the output repeating itself and aborted it
    CANCELLED = "cancelled"  # a user stopped it (Ctrl-C, a stop button)
    TIMEOUT = "timeout"  # DOCSCOUT_REQUEST_TIMEOUT_S passed
    EMPTY = "empty"  # the model finished without a word
    ERROR = "error"  # the engine failed (see Answer.error)


STOP_MESSAGES = {
    StopReason.LOOP: "the model started repeating itself and was stopped",
    StopReason.CANCELLED: "stopped by the user",
    StopReason.TIMEOUT: "no complete answer within the time limit (DOCSCOUT_REQUEST_TIMEOUT_S)",
    StopReason.EMPTY: "the model returned no text",
}


@dataclass(frozen=True, slots=True)
class Citation:
    label: str  # as written in the answer, e.g. "[D3 p.12]"
    document: str | None  # source of the document it resolves to, None when it points nowhere
    page: int | None = None
    path: str | None = None
    line_start: int | None = None
    line_end: int | None = None
    # True only when it points at a segment that was in the prompt and, when the answer states
    # figures that some segment holds, at one holding them (engine.citations.confirm_citations).
    valid: bool = False
    # True when the model cited nothing and DocScout found the answer's figures in this item:
    # shown as "found by DocScout", never as the model's own citation.
    inferred: bool = False


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int = 0
    prompt_text_tokens: int = 0
    prompt_image_tokens: int = 0
    cached_tokens: int = 0
    completion_tokens: int = 0
    time_to_first_token_s: float | None = None
    total_time_s: float = 0.0
    wait_s: float = 0.0  # time spent waiting for the engine (questions ahead), before it began


@dataclass(frozen=True, slots=True)
class Answer:
    question: str
    text: str
    mode: Mode
    citations: tuple[Citation, ...] = ()
    usage: Usage = field(default_factory=Usage)
    read_fraction: float = 1.0
    model: str = ""
    error: str | None = None  # why there is no answer; text may hold what came before
    asked_at: datetime | None = None  # set once stored
    stop_reason: StopReason | None = None  # None: stored before stop reasons were kept
    chat_id: int | None = None  # the conversation it is a turn of; None for a lone question
    id: int | None = None  # set once stored

    @property
    def ok(self) -> bool:
        """An answer that may be shown and counted as one: no error, some text, and the model
        finished (or reached the token limit) rather than looping, timing out or being stopped."""
        return (self.error is None and bool(self.text.strip())
                and self.stop_reason in (None, StopReason.STOP, StopReason.LENGTH))


@dataclass(frozen=True, slots=True)
class Chat:
    """A conversation with a collection: its turns are answers (Answer.chat_id), oldest first;
    a follow-up is answered with the earlier turns in the prompt."""

    id: int
    collection: str
    title: str  # the first question, shortened
    created_at: datetime | None = None
    updated_at: datetime | None = None  # the last turn's time
    turns: int = 0


@dataclass(frozen=True, slots=True)
class EvalRun:
    """A stored `docscout eval` run: totals in `summary`, one dict per question in `results`."""

    id: int
    collection: str
    question_set: str
    model: str
    summary: dict
    created_at: datetime | None = None
    results: tuple[dict, ...] = ()


class ReportStatus(StrEnum):
    OK = "ok"  # every question answered
    PARTIAL = "partial"  # some questions failed; the report says which and why
    FAILED = "failed"  # no question could be answered


@dataclass(frozen=True, slots=True)
class RenderedReport:
    """A report as run and rendered: what storage keeps and the CLI writes out."""

    title: str
    spec: str  # the YAML it was made from
    status: ReportStatus
    questions: int
    failed: int
    model: str
    elapsed_s: float
    markdown: str = field(repr=False)
    html: str = field(repr=False)
    pdf: bytes = field(repr=False)


# -- what storage returns -----------------------------------------------------------------------


class SaveResult(StrEnum):
    STORED = "stored"  # a new document
    REPLACED = "replaced"  # a new version of a source that was already stored
    KEPT_PREVIOUS = "kept_previous"  # the new version failed; the readable old one stays
    KEPT_BETTER = "kept_better"  # the new version reads worse (partial over ok); the old stays
    UNCHANGED = "unchanged"  # the same content was already stored (by a concurrent ingest)


@dataclass(frozen=True, slots=True)
class Original:
    """A file's own bytes, as uploaded."""

    data: bytes = field(repr=False)
    mime: str = "application/pdf"


@dataclass(frozen=True, slots=True)
class SearchHit:
    source: str
    ordinal: int  # the segment's position in its document
    segment: Segment
    score: float  # bm25: lower (more negative) is better


@dataclass(frozen=True, slots=True)
class ReportInfo:
    """A stored report as listings show it; `id` is its handle for `Store.report`."""

    id: int
    collection: str
    title: str
    status: ReportStatus
    questions: int
    failed: int
    model: str
    elapsed_s: float
    created_at: datetime


@dataclass(frozen=True, slots=True)
class StoredReport:
    info: ReportInfo
    report: RenderedReport

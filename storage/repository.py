"""The only door to the database: `Store` methods take and return domain types.

Every write is one transaction. A document is saved with all its segments and images or not at
all; a newer version of the same source replaces the old one in the same transaction; a failed
re-ingest never replaces a version that was readable.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import StrEnum

from sqlalchemy import bindparam, delete, func, insert, select, text
from sqlalchemy.orm import Session, sessionmaker

from core.domain import (
    Answer,
    Citation,
    CollectionInfo,
    Document,
    DocumentKind,
    EvalRun,
    Image,
    Locator,
    Mode,
    ParsedDocument,
    RenderedReport,
    ReportStatus,
    Segment,
    SegmentKind,
    Status,
    StopReason,
    Usage,
)
from core.errors import StorageError
from core.settings import Settings
from storage.db import make_engine, migrate
from storage.orm import (
    AnswerRow,
    CollectionRow,
    DocumentRow,
    EvalRunRow,
    ImageRow,
    OriginalRow,
    ReportRow,
    SegmentRow,
)

MAX_COLLECTION_NAME = 200


class SaveResult(StrEnum):
    STORED = "stored"  # a new document
    REPLACED = "replaced"  # a new version of a source that was already stored
    KEPT_PREVIOUS = "kept_previous"  # the new version failed; the readable old one stays


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


class Store:
    """Collections, documents, segments and images in one SQLAlchemy database."""

    def __init__(self, settings: Settings) -> None:
        self.url = settings.resolved_database_url
        try:
            self._engine = make_engine(self.url)
            migrate(self._engine)
        except Exception as exc:  # a bad URL, an unreadable file, a server that refuses
            raise StorageError(f"cannot open the database {self.url}: {exc}") from exc
        self._sessions = sessionmaker(self._engine, expire_on_commit=False)

    def close(self) -> None:
        self._engine.dispose()

    @contextmanager
    def _transaction(self) -> Iterator[Session]:
        with self._sessions.begin() as session:
            yield session

    # -- collections ---------------------------------------------------------------------------

    def ensure_collection(self, name: str) -> None:
        """Create the collection if it does not exist yet."""
        name = _check_collection_name(name)
        with self._transaction() as session:
            if session.scalar(select(CollectionRow.id).where(CollectionRow.name == name)) is None:
                session.add(CollectionRow(name=name))

    def collections(self) -> list[CollectionInfo]:
        failed = func.sum(func.iif(DocumentRow.status == Status.FAILED.value, 1, 0))
        query = (
            select(
                CollectionRow.name,
                func.count(DocumentRow.id),
                func.coalesce(func.sum(DocumentRow.text_tokens), 0),
                func.coalesce(func.sum(DocumentRow.image_tokens), 0),
                func.coalesce(failed, 0),
            )
            .outerjoin(DocumentRow, DocumentRow.collection_id == CollectionRow.id)
            .group_by(CollectionRow.id)
            .order_by(CollectionRow.name)
        )
        with self._sessions() as session:
            return [CollectionInfo(*row) for row in session.execute(query)]

    def delete_collection(self, name: str) -> None:
        with self._transaction() as session:
            row = self._collection(session, name)
            session.delete(row)
            session.flush()
            _drop_orphan_images(session)

    # -- documents -----------------------------------------------------------------------------

    def documents(self, collection: str) -> list[Document]:
        with self._sessions() as session:
            row = self._collection(session, collection)
            rows = session.scalars(
                select(DocumentRow)
                .where(DocumentRow.collection_id == row.id)
                .order_by(DocumentRow.source)
            )
            return [_document(r, collection) for r in rows]

    def find_by_sha256(self, collection: str, sha256: str, parser_version: int
                       ) -> Document | None:
        """A readable (ok or partial) document with these bytes, read by this parser version, if
        the collection has one. A document an older parser read does not count: a parser fix
        re-reads stored files on the next ingest."""
        with self._sessions() as session:
            row = session.scalar(
                select(DocumentRow)
                .join(CollectionRow)
                .where(
                    CollectionRow.name == collection,
                    DocumentRow.sha256 == sha256,
                    DocumentRow.parser_version == parser_version,
                    DocumentRow.status != Status.FAILED.value,
                )
                .limit(1)
            )
            return _document(row, collection) if row else None

    def save(self, collection: str, parsed: ParsedDocument, parser_version: int,
             original: Original | None = None) -> SaveResult:
        """Store a parsed document in one transaction, replacing an older version of its source.
        `original` (the file's own bytes, kept for PDFs) is stored once per sha256."""
        doc = parsed.document
        with self._transaction() as session:
            coll = self._collection(session, collection)
            old = session.scalar(
                select(DocumentRow).where(
                    DocumentRow.collection_id == coll.id, DocumentRow.source == doc.source
                )
            )
            if old is not None and doc.status == Status.FAILED and old.status != Status.FAILED:
                return SaveResult.KEPT_PREVIOUS
            if old is not None:
                session.delete(old)
                session.flush()
            row = _document_row(doc, coll.id, parser_version)
            session.add(row)
            session.flush()
            _insert_images(session, parsed.images)
            _insert_segments(session, row.id, parsed.segments)
            if original is not None and doc.status != Status.FAILED:
                _insert_original(session, doc.sha256, original)
            if old is not None:
                _drop_orphan_images(session)
            return SaveResult.REPLACED if old is not None else SaveResult.STORED

    def delete_document(self, collection: str, source: str) -> None:
        with self._transaction() as session:
            coll = self._collection(session, collection)
            result = session.execute(
                delete(DocumentRow).where(
                    DocumentRow.collection_id == coll.id, DocumentRow.source == source
                )
            )
            if result.rowcount == 0:
                raise StorageError(f"no document {source!r} in collection {collection!r}")
            _drop_orphan_images(session)

    # -- segments, images, search --------------------------------------------------------------

    def segments(self, collection: str, source: str) -> list[Segment]:
        """A document's segments, in reading order."""
        with self._sessions() as session:
            coll = self._collection(session, collection)
            rows = session.scalars(
                select(SegmentRow)
                .join(DocumentRow)
                .where(DocumentRow.collection_id == coll.id, DocumentRow.source == source)
                .order_by(SegmentRow.ordinal)
            )
            return [_segment(r) for r in rows]

    def collection_segments(self, collection: str, sources: Sequence[str] | None = None
                            ) -> list[tuple[Document, list[Segment]]]:
        """Every readable document of a collection (or only those named in `sources`) with its
        segments, in a stable order: documents by source, segments by position. What the engine
        reads."""
        with self._sessions() as session:
            coll = self._collection(session, collection)
            query = (select(DocumentRow)
                     .where(DocumentRow.collection_id == coll.id,
                            DocumentRow.status != Status.FAILED.value)
                     .order_by(DocumentRow.source))
            if sources is not None:
                query = query.where(DocumentRow.source.in_(list(sources)))
            docs = session.scalars(query).all()
            by_doc: dict[int, list[Segment]] = {d.id: [] for d in docs}
            rows = session.execute(
                select(SegmentRow)
                .where(SegmentRow.document_id.in_(list(by_doc)))
                .order_by(SegmentRow.document_id, SegmentRow.ordinal)
            ).scalars()
            for row in rows:
                by_doc[row.document_id].append(_segment(row))
            return [(_document(d, collection), by_doc[d.id]) for d in docs]

    def image(self, sha256: str) -> Image | None:
        with self._sessions() as session:
            row = session.get(ImageRow, sha256)
            if row is None:
                return None
            return Image(row.sha256, row.width, row.height, row.mime, row.data, row.tokens)

    def original(self, collection: str, source: str) -> Original | None:
        """The bytes a document was read from, when they were kept (PDFs)."""
        with self._sessions() as session:
            coll = self._collection(session, collection)
            row = session.scalar(
                select(OriginalRow)
                .join(DocumentRow, DocumentRow.sha256 == OriginalRow.sha256)
                .where(DocumentRow.collection_id == coll.id, DocumentRow.source == source)
                .limit(1)
            )
            return Original(row.data, row.mime) if row else None

    def search(self, collection: str, query: str, limit: int = 20,
               sources: Sequence[str] | None = None) -> list[SearchHit]:
        """Text and code segments matching an FTS5 query, best first (bm25); only in the
        documents named in `sources` when given."""
        terms = _fts_query(query)
        if not terms:
            return []
        scoped = " AND d.source IN :sources" if sources is not None else ""
        sql = text(
            "SELECT d.source, s.id, s.ordinal, bm25(segments_fts) AS score FROM segments_fts "
            "JOIN segments s ON s.id = segments_fts.rowid "
            "JOIN documents d ON d.id = s.document_id "
            "JOIN collections c ON c.id = d.collection_id "
            f"WHERE segments_fts MATCH :q AND c.name = :c{scoped} ORDER BY score LIMIT :n"
        )
        params = {"q": terms, "c": collection, "n": limit}
        if sources is not None:
            sql = sql.bindparams(bindparam("sources", expanding=True))
            params["sources"] = list(sources)
        with self._sessions() as session:
            hits = session.execute(sql, params).all()
            rows = {r.id: r for r in session.scalars(
                select(SegmentRow).where(SegmentRow.id.in_([h.id for h in hits]))
            )}
            return [SearchHit(h.source, h.ordinal, _segment(rows[h.id]), h.score) for h in hits]

    # -- answers (the history) ------------------------------------------------------------------

    def save_answer(self, collection: str, answer: Answer) -> Answer:
        """Store a question and its answer (or error); returns it with its time set."""
        with self._transaction() as session:
            row = AnswerRow(
                collection_id=self._collection(session, collection).id,
                question=answer.question,
                text=answer.text,
                mode=answer.mode.value,
                model=answer.model,
                error=answer.error,
                citations=[asdict(c) for c in answer.citations],
                usage=asdict(answer.usage),
                read_fraction=answer.read_fraction,
                stop_reason=answer.stop_reason.value if answer.stop_reason else None,
            )
            session.add(row)
            session.flush()
            return _answer(row)

    def answers(self, collection: str, limit: int = 100) -> list[Answer]:
        """The latest answers of a collection, newest first."""
        with self._sessions() as session:
            coll = self._collection(session, collection)
            rows = session.scalars(
                select(AnswerRow)
                .where(AnswerRow.collection_id == coll.id)
                .order_by(AnswerRow.id.desc())
                .limit(limit)
            )
            return [_answer(r) for r in rows]

    # -- evaluation runs -------------------------------------------------------------------------

    def save_eval_run(self, collection: str, question_set: str, model: str, summary: dict,
                      results: list[dict]) -> EvalRun:
        """Keep one `docscout eval` run (JSON-ready summary and per-question results)."""
        with self._transaction() as session:
            row = EvalRunRow(collection_id=self._collection(session, collection).id,
                             question_set=question_set, model=model, summary=summary,
                             results=results)
            session.add(row)
            session.flush()
            return EvalRun(row.id, collection, row.question_set, row.model, row.summary,
                           row.created_at, tuple(row.results))

    def eval_runs(self, collection: str, limit: int = 50) -> list[EvalRun]:
        """A collection's evaluation runs, newest first, without their per-question results."""
        with self._sessions() as session:
            coll = self._collection(session, collection)
            rows = session.scalars(select(EvalRunRow).where(EvalRunRow.collection_id == coll.id)
                                   .order_by(EvalRunRow.id.desc()).limit(limit))
            return [EvalRun(r.id, collection, r.question_set, r.model, r.summary, r.created_at)
                    for r in rows]

    # -- reports ---------------------------------------------------------------------------------

    def save_report(self, collection: str, report: RenderedReport) -> ReportInfo:
        """Keep a rendered report (its spec, Markdown, HTML and PDF) with its collection."""
        with self._transaction() as session:
            row = ReportRow(
                collection_id=self._collection(session, collection).id,
                title=report.title,
                spec=report.spec,
                status=report.status.value,
                questions=report.questions,
                failed=report.failed,
                model=report.model,
                elapsed_s=report.elapsed_s,
                markdown=report.markdown,
                html=report.html,
                pdf=report.pdf,
            )
            session.add(row)
            session.flush()
            return _report_info(row, collection)

    def reports(self, collection: str | None = None) -> list[ReportInfo]:
        """Stored reports, newest first: all of them, or one collection's. The renderings
        stay in the database until `report(id)` asks for one."""
        query = select(ReportRow, CollectionRow.name).join(CollectionRow)
        with self._sessions() as session:
            if collection is not None:
                query = query.where(ReportRow.collection_id == self._collection(session,
                                                                                 collection).id)
            rows = session.execute(query.order_by(ReportRow.id.desc()))
            return [_report_info(row, name) for row, name in rows]

    def report(self, report_id: int) -> StoredReport | None:
        """A stored report with its renderings, or None when there is no such report."""
        with self._sessions() as session:
            found = session.execute(select(ReportRow, CollectionRow.name).join(CollectionRow)
                                    .where(ReportRow.id == report_id)).first()
            if found is None:
                return None
            row, name = found
            report = RenderedReport(row.title, row.spec, ReportStatus(row.status), row.questions,
                                    row.failed, row.model, row.elapsed_s, row.markdown,
                                    row.html, row.pdf)
            return StoredReport(_report_info(row, name), report)

    def delete_report(self, report_id: int) -> None:
        with self._transaction() as session:
            result = session.execute(delete(ReportRow).where(ReportRow.id == report_id))
            if result.rowcount == 0:
                raise StorageError(f"no report with id {report_id}")

    @staticmethod
    def _collection(session: Session, name: str) -> CollectionRow:
        row = session.scalar(select(CollectionRow).where(CollectionRow.name == name))
        if row is None:
            raise StorageError(f"no collection named {name!r}")
        return row


# -- row <-> domain ------------------------------------------------------------------------------


def _check_collection_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > MAX_COLLECTION_NAME or any(ord(c) < 32 for c in name):
        raise StorageError(
            f"a collection name must be 1 to {MAX_COLLECTION_NAME} printable characters"
        )
    return name


def _document(row: DocumentRow, collection: str) -> Document:
    return Document(
        source=row.source,
        kind=DocumentKind(row.kind),
        sha256=row.sha256,
        title=row.title,
        status=Status(row.status),
        error=row.error,
        pages=row.pages,
        files=row.files,
        text_tokens=row.text_tokens,
        image_tokens=row.image_tokens,
        size_bytes=row.size_bytes,
        collection=collection,
    )


def _document_row(doc: Document, collection_id: int, parser_version: int) -> DocumentRow:
    return DocumentRow(
        collection_id=collection_id,
        source=doc.source,
        kind=doc.kind.value,
        sha256=doc.sha256,
        title=doc.title,
        status=doc.status.value,
        error=doc.error,
        pages=doc.pages,
        files=doc.files,
        text_tokens=doc.text_tokens,
        image_tokens=doc.image_tokens,
        size_bytes=doc.size_bytes,
        parser_version=parser_version,
    )


def _answer(row: AnswerRow) -> Answer:
    return Answer(
        question=row.question,
        text=row.text,
        mode=Mode(row.mode),
        citations=tuple(Citation(**c) for c in row.citations),
        usage=Usage(**row.usage),
        read_fraction=row.read_fraction,
        model=row.model,
        error=row.error,
        asked_at=row.created_at,
        stop_reason=StopReason(row.stop_reason) if row.stop_reason else None,
    )


def _report_info(row: ReportRow, collection: str) -> ReportInfo:
    return ReportInfo(row.id, collection, row.title, ReportStatus(row.status), row.questions,
                      row.failed, row.model, row.elapsed_s, row.created_at)


def _segment(row: SegmentRow) -> Segment:
    bbox = tuple(row.bbox) if row.bbox else None
    return Segment(
        kind=SegmentKind(row.kind),
        text=row.text,
        locator=Locator(row.page, bbox, row.path, row.line_start, row.line_end),
        tokens=row.tokens,
        image_sha256=row.image_sha256,
    )


def _insert_segments(session: Session, document_id: int, segments: tuple[Segment, ...]) -> None:
    if not segments:
        return
    session.execute(
        insert(SegmentRow),
        [
            {
                "document_id": document_id,
                "ordinal": i,
                "kind": s.kind.value,
                "text": s.text,
                "page": s.locator.page,
                "bbox": list(s.locator.bbox) if s.locator.bbox else None,
                "path": s.locator.path,
                "line_start": s.locator.line_start,
                "line_end": s.locator.line_end,
                "tokens": s.tokens,
                "image_sha256": s.image_sha256,
            }
            for i, s in enumerate(segments)
        ],
    )


def _insert_images(session: Session, images: tuple[Image, ...]) -> None:
    """Images are stored once by sha256, however many documents show them."""
    if not images:
        return
    known = set(
        session.scalars(select(ImageRow.sha256).where(ImageRow.sha256.in_([i.sha256 for i in images])))
    )
    new = [i for i in images if i.sha256 not in known]
    if new:
        session.execute(
            insert(ImageRow),
            [
                {"sha256": i.sha256, "width": i.width, "height": i.height, "mime": i.mime,
                 "tokens": i.tokens, "data": i.data}
                for i in new
            ],
        )


def _insert_original(session: Session, sha256: str, original: Original) -> None:
    if session.get(OriginalRow, sha256) is None:
        session.add(OriginalRow(sha256=sha256, mime=original.mime, data=original.data))


def _drop_orphan_images(session: Session) -> None:
    """Images no segment shows, and originals no document was read from, go."""
    used = select(SegmentRow.image_sha256).where(SegmentRow.image_sha256.is_not(None))
    session.execute(delete(ImageRow).where(ImageRow.sha256.not_in(used)))
    read = select(DocumentRow.sha256)
    session.execute(delete(OriginalRow).where(OriginalRow.sha256.not_in(read)))


def _fts_query(query: str) -> str:
    """A user's words as an FTS5 OR-query of quoted terms, so punctuation cannot break syntax."""
    words = ["".join(ch for ch in w if ch.isalnum() or ch == "_") for w in query.split()]
    return " OR ".join(f'"{w}"' for w in words if w)

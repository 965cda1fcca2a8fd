"""Documents of a collection: save (one transaction, replacement rules), list, delete, their
segments, images and kept originals, and full-text search over them (storage/fulltext.py)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from core.domain import (
    Document,
    DocumentKind,
    Image,
    Locator,
    Original,
    ParsedDocument,
    SaveResult,
    SearchHit,
    Segment,
    SegmentKind,
    Status,
)
from core.errors import StorageError
from storage import fulltext
from storage.orm import CollectionRow, DocumentRow, ImageRow, OriginalRow, SegmentRow
from storage.sessions import Sessions


class DocumentStore(Sessions):
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
             original: Original | None = None, replace: bool = False) -> SaveResult:
        """Store a parsed document in one transaction, replacing an older version of its source.
        `original` (the file's own bytes, kept for PDFs) is stored once per sha256.

        A failed version never replaces a readable one, and a partial one does not replace one
        read fully unless `replace`. When another process stored the same source meanwhile (two
        ingests of one folder at once), the write is retried against what it stored: the same
        content is `UNCHANGED`, other content follows the rules above."""
        return self._write(lambda session: self._save(session, collection, parsed,
                                                      parser_version, original, replace))

    def _save(self, session: Session, collection: str, parsed: ParsedDocument,
              parser_version: int, original: Original | None, replace: bool) -> SaveResult:
        doc = parsed.document
        coll = self._collection(session, collection)
        old = session.scalar(
            select(DocumentRow).where(
                DocumentRow.collection_id == coll.id, DocumentRow.source == doc.source
            )
        )
        if old is not None:
            same = (old.sha256, old.parser_version, old.status) == (
                doc.sha256, parser_version, doc.status.value) and not (
                old.ocr_pending > 0 and doc.ocr_pending == 0)  # OCRed beats OCR pending
            if same and doc.status != Status.FAILED:
                return SaveResult.UNCHANGED
            if doc.status == Status.FAILED and old.status != Status.FAILED:
                return SaveResult.KEPT_PREVIOUS
            if (not replace and doc.status == Status.PARTIAL
                    and old.status == Status.OK.value):
                return SaveResult.KEPT_BETTER
        _put(session, coll.id, old, parsed, parser_version, original)
        return SaveResult.REPLACED if old is not None else SaveResult.STORED

    def pending_ocr(self, collection: str | None = None) -> list[Document]:
        """Documents stored with their OCR still to run (ingest.pipeline.run_ocr), oldest first;
        in one collection, or in all."""
        with self._sessions() as session:
            query = (select(DocumentRow, CollectionRow.name).join(CollectionRow)
                     .where(DocumentRow.ocr_pending > 0).order_by(DocumentRow.id))
            if collection is not None:
                query = query.where(CollectionRow.name == collection)
            return [_document(row, name) for row, name in session.execute(query)]

    def save_ocr(self, collection: str, parsed: ParsedDocument, parser_version: int
                 ) -> SaveResult:
        """Store the OCRed version of a document in place of its text-layer version, only while
        that version is still the stored one: a document deleted, replaced by other content or
        already OCRed (by another process) meanwhile is left alone (`UNCHANGED`). When OCR could
        not read the document at all, the stored version is kept and no longer pending, with
        the error beside its own (`KEPT_PREVIOUS`)."""
        doc = parsed.document

        def write(session: Session) -> SaveResult:
            coll = self._collection(session, collection)
            old = session.scalar(select(DocumentRow).where(
                DocumentRow.collection_id == coll.id, DocumentRow.source == doc.source))
            if old is None or old.sha256 != doc.sha256 or old.ocr_pending == 0:
                return SaveResult.UNCHANGED
            if doc.status == Status.FAILED:
                old.ocr_pending = 0
                old.error = "; ".join(e for e in (old.error, f"OCR failed: {doc.error}") if e)
                return SaveResult.KEPT_PREVIOUS
            _put(session, coll.id, old, parsed, parser_version, None)
            return SaveResult.REPLACED

        return self._write(write)

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
            drop_orphan_images(session)

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
        """Text and code segments holding any of the query's words, best first (bm25: lower is
        better); only in the documents named in `sources` when given. One code path per
        database: storage/fulltext.py."""
        words = fulltext.query_words(query)
        if not words:
            return []
        with self._sessions() as session:
            hits = fulltext.ranked(session, collection, words, limit, sources)
            segments = SegmentRow.__table__  # plain rows: no ORM objects for thousands of hits
            rows = {r.id: r for r in session.execute(
                select(segments).where(segments.c.id.in_([h.id for h in hits]))
            )}
            return [SearchHit(h.source, h.ordinal, _segment(rows[h.id]), h.score) for h in hits]


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
        ocr_pending=row.ocr_pending,
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
        ocr_pending=doc.ocr_pending,
    )


def _put(session: Session, collection_id: int, old: DocumentRow | None, parsed: ParsedDocument,
         parser_version: int, original: Original | None) -> None:
    """Insert a parsed document, in place of `old` when given (its segments and their index
    entries go with it; images no other document uses are dropped)."""
    doc = parsed.document
    if old is not None:
        session.delete(old)
        session.flush()
    row = _document_row(doc, collection_id, parser_version)
    session.add(row)
    session.flush()
    _insert_images(session, parsed.images)
    _insert_segments(session, row.id, parsed.segments)
    if original is not None and doc.status != Status.FAILED:
        _insert_original(session, doc.sha256, original)
    if old is not None:
        drop_orphan_images(session)


def _segment(row: SegmentRow) -> Segment:
    bbox = tuple(row.bbox) if row.bbox else None
    return Segment(
        kind=SegmentKind(row.kind),
        text=row.text,
        locator=Locator(row.page, bbox, row.path, row.line_start, row.line_end,
                        row.page_label),
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
                "page_label": s.locator.page_label,
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


def drop_orphan_images(session: Session) -> None:
    """Images no segment shows, and originals no document was read from, go."""
    used = select(SegmentRow.image_sha256).where(SegmentRow.image_sha256.is_not(None))
    session.execute(delete(ImageRow).where(ImageRow.sha256.not_in(used)))
    read = select(DocumentRow.sha256)
    session.execute(delete(OriginalRow).where(OriginalRow.sha256.not_in(read)))

"""SQLAlchemy 2.0 typed ORM rows. Private to `storage/`: nothing outside it sees these classes.

The schema itself is created by Alembic migrations (storage/migrations); these classes mirror it,
and a test checks that a blank database migrated to head has exactly these tables and columns.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (
    JSON,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def _now() -> datetime:
    return datetime.now(timezone.utc)


class PlainText(TypeDecorator):
    """Text as both databases can keep it: PostgreSQL refuses the NUL character in text (SQLite
    keeps it), and a PDF's text or title may hold one, so it is dropped on the way in, on both,
    rather than failing that document's save on one of them."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect) -> str | None:
        return value.replace("\x00", "") if value and "\x00" in value else value


class Base(DeclarativeBase):
    pass


class CollectionRow(Base):
    __tablename__ = "collections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)

    documents: Mapped[list["DocumentRow"]] = relationship(
        back_populates="collection", cascade="all, delete-orphan", passive_deletes=True
    )


class DocumentRow(Base):
    __tablename__ = "documents"
    __table_args__ = (
        UniqueConstraint("collection_id", "source", name="uq_documents_collection_source"),
        Index("ix_documents_collection_sha256", "collection_id", "sha256"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    collection_id: Mapped[int] = mapped_column(
        ForeignKey("collections.id", ondelete="CASCADE"), index=True
    )
    source: Mapped[str] = mapped_column(PlainText)
    kind: Mapped[str] = mapped_column(String(16))
    sha256: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(PlainText)
    status: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(PlainText)
    pages: Mapped[int | None] = mapped_column(Integer)
    files: Mapped[int | None] = mapped_column(Integer)
    text_tokens: Mapped[int] = mapped_column(Integer, default=0)
    image_tokens: Mapped[int] = mapped_column(Integer, default=0)
    size_bytes: Mapped[int] = mapped_column(Integer, default=0)
    parser_version: Mapped[int] = mapped_column(Integer)
    ocr_pending: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)

    collection: Mapped[CollectionRow] = relationship(back_populates="documents")


class ImageRow(Base):
    __tablename__ = "images"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    mime: Mapped[str] = mapped_column(String(32))
    tokens: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class OriginalRow(Base):
    """An ingested file's own bytes (PDFs), shared by every document with that sha256."""

    __tablename__ = "originals"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    mime: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes] = mapped_column(LargeBinary)


class SegmentRow(Base):
    __tablename__ = "segments"
    __table_args__ = (UniqueConstraint("document_id", "ordinal", name="uq_segments_document_ordinal"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    document_id: Mapped[int] = mapped_column(
        ForeignKey("documents.id", ondelete="CASCADE"), index=True
    )
    ordinal: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(PlainText)
    page: Mapped[int | None] = mapped_column(Integer)
    bbox: Mapped[list[float] | None] = mapped_column(JSON)
    path: Mapped[str | None] = mapped_column(PlainText)
    line_start: Mapped[int | None] = mapped_column(Integer)
    line_end: Mapped[int | None] = mapped_column(Integer)
    page_label: Mapped[str | None] = mapped_column(String(64))
    tokens: Mapped[int] = mapped_column(Integer)
    image_sha256: Mapped[str | None] = mapped_column(
        ForeignKey("images.sha256"), index=True
    )


class ChatRow(Base):
    """A conversation with a collection; its turns are the answers that point to it."""

    __tablename__ = "chats"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    collection_id: Mapped[int] = mapped_column(
        ForeignKey("collections.id", ondelete="CASCADE"), index=True
    )
    title: Mapped[str] = mapped_column(PlainText)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class AnswerRow(Base):
    """A question asked of a collection, and its answer or error: the history."""

    __tablename__ = "answers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    collection_id: Mapped[int] = mapped_column(
        ForeignKey("collections.id", ondelete="CASCADE"), index=True
    )
    # A deleted chat's turns stay in the history, as lone questions.
    chat_id: Mapped[int | None] = mapped_column(
        ForeignKey("chats.id", ondelete="SET NULL"), index=True
    )
    question: Mapped[str] = mapped_column(PlainText)
    text: Mapped[str] = mapped_column(PlainText)
    mode: Mapped[str] = mapped_column(String(16))
    model: Mapped[str] = mapped_column(PlainText)
    error: Mapped[str | None] = mapped_column(PlainText)
    citations: Mapped[list] = mapped_column(JSON)
    usage: Mapped[dict] = mapped_column(JSON)
    read_fraction: Mapped[float] = mapped_column(Float)
    stop_reason: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class EvalRunRow(Base):
    """One `docscout eval` run: a question set scored against a collection."""

    __tablename__ = "eval_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    collection_id: Mapped[int] = mapped_column(
        ForeignKey("collections.id", ondelete="CASCADE"), index=True
    )
    question_set: Mapped[str] = mapped_column(PlainText)
    model: Mapped[str] = mapped_column(PlainText)
    summary: Mapped[dict] = mapped_column(JSON)
    results: Mapped[list] = mapped_column(JSON, deferred=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class ReportRow(Base):
    """A rendered report of a collection: its spec, outcome and the three renderings."""

    __tablename__ = "reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    collection_id: Mapped[int] = mapped_column(
        ForeignKey("collections.id", ondelete="CASCADE"), index=True
    )
    title: Mapped[str] = mapped_column(PlainText)
    spec: Mapped[str] = mapped_column(PlainText)
    status: Mapped[str] = mapped_column(String(16))
    questions: Mapped[int] = mapped_column(Integer)
    failed: Mapped[int] = mapped_column(Integer)
    model: Mapped[str] = mapped_column(PlainText)
    elapsed_s: Mapped[float] = mapped_column(Float)
    markdown: Mapped[str] = mapped_column(PlainText, deferred=True)
    html: Mapped[str] = mapped_column(PlainText, deferred=True)
    pdf: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)

"""The only door to the database: `Store` methods take and return domain types (core.domain).

Every write is one transaction. A document is saved with all its segments and images or not at
all; a newer version of the same source replaces the old one in the same transaction; a failed
re-ingest never replaces a version that was readable.

`Store` is assembled from one part per aggregate, each in its own module:

    storage/sessions.py   the engine, migrations on open, transactions
    storage/repository.py collections (this module)
    storage/documents.py  documents, segments, images, originals, search
    storage/history.py    answers and evaluation runs
    storage/reports.py    stored reports
"""

from __future__ import annotations

from sqlalchemy import case, func, select

from core.domain import CollectionInfo, Status
from core.errors import StorageError
from storage.documents import DocumentStore, drop_orphan_images
from storage.history import HistoryStore
from storage.orm import CollectionRow, DocumentRow
from storage.reports import ReportStore

MAX_COLLECTION_NAME = 200


class Store(DocumentStore, HistoryStore, ReportStore):
    """Collections, documents, segments, images, answers and reports in one SQLAlchemy
    database."""

    # -- collections ---------------------------------------------------------------------------

    def ensure_collection(self, name: str) -> None:
        """Create the collection if it does not exist yet."""
        name = _check_collection_name(name)

        def create(session) -> None:
            if session.scalar(select(CollectionRow.id).where(CollectionRow.name == name)) is None:
                session.add(CollectionRow(name=name))

        self._write(create)  # two processes creating it at once: the second finds it

    def collections(self) -> list[CollectionInfo]:
        failed = func.sum(case((DocumentRow.status == Status.FAILED.value, 1), else_=0))
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
            drop_orphan_images(session)


def _check_collection_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > MAX_COLLECTION_NAME or any(ord(c) < 32 for c in name):
        raise StorageError(
            f"a collection name must be 1 to {MAX_COLLECTION_NAME} printable characters"
        )
    return name

"""The session plumbing every part of the `Store` shares: one engine, migrated on open, and
one transaction per write."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from core.errors import StorageError
from core.settings import Settings
from storage.db import make_engine, migrate
from storage.orm import CollectionRow


class Sessions:
    """An open database: `_sessions()` for reads, `_transaction()` for writes. An error the
    database driver raises inside either leaves as a one-line StorageError (what the server
    said), so every front end shows it, and an answer that failed on it is still kept."""

    def __init__(self, settings: Settings) -> None:
        self.url = settings.resolved_database_url
        try:
            self._engine = make_engine(self.url)
            migrate(self._engine)
        except Exception as exc:  # a bad URL, an unreadable file, a server that refuses
            raise StorageError(
                f"cannot open the database {_shown(self.url)}: {_first_line(exc)}") from exc
        self._factory = sessionmaker(self._engine, expire_on_commit=False)

    def close(self) -> None:
        self._engine.dispose()

    @contextmanager
    def _sessions(self) -> Iterator[Session]:
        with _one_line_errors(), self._factory() as session:
            yield session

    @contextmanager
    def _transaction(self) -> Iterator[Session]:
        with _one_line_errors(), self._factory.begin() as session:
            yield session

    @staticmethod
    def _collection(session: Session, name: str) -> CollectionRow:
        row = session.scalar(select(CollectionRow).where(CollectionRow.name == name))
        if row is None:
            raise StorageError(f"no collection named {name!r}")
        return row


@contextmanager
def _one_line_errors() -> Iterator[None]:
    try:
        yield
    except DBAPIError as exc:
        raise StorageError(f"the database refused the request: {_first_line(exc)}") from exc


def _first_line(exc: Exception) -> str:
    """What the driver or server said, first line only (SQLAlchemy adds the statement and a
    link on lines of their own)."""
    said = exc.orig if isinstance(exc, DBAPIError) else exc
    return (str(said).strip().splitlines() or [type(said).__name__])[0]


def _shown(url: str) -> str:
    """The URL with its password masked, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url.split("@", 1)[-1] if "@" in url else url

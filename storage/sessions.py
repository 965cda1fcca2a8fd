"""The session plumbing every part of the `Store` shares: one engine, migrated on open, and
one transaction per write.

A write that the database refuses (disk full, read-only, locked past the busy timeout) raises a
`StorageError` naming the cause in one line, never a driver's traceback; `_write` also retries
a write that lost a race with another process (the same row inserted by both), so the second
writer sees what the first stored."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from core.errors import StorageError
from core.settings import Settings
from storage.db import make_engine, migrate
from storage.orm import CollectionRow

T = TypeVar("T")
WRITE_ATTEMPTS = 4
_RETRY_SQLSTATES = {"40001", "40P01"}  # PostgreSQL: serialization failure, deadlock


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
            detail = database_problem(exc) if isinstance(exc, DBAPIError) else _first_line(exc)
            raise StorageError(
                f"cannot open the database {_shown(self.url)}: {detail}") from exc
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

    def _write(self, work: Callable[[Session], T]) -> T:
        """`work(session)` in one transaction, retried when it lost a race with another
        process (see the module docstring)."""
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            try:
                with self._transaction() as session:
                    return work(session)
            except StorageError as exc:
                if attempt == WRITE_ATTEMPTS or not _lost_a_race(exc.__cause__):
                    raise
                time.sleep(0.05 * attempt)
        raise AssertionError("unreachable")

    @staticmethod
    def _collection(session: Session, name: str) -> CollectionRow:
        row = session.scalar(select(CollectionRow).where(CollectionRow.name == name))
        if row is None:
            raise StorageError(f"no collection named {name!r}")
        return row


def _lost_a_race(exc: BaseException | None) -> bool:
    if isinstance(exc, IntegrityError):
        return True
    if not isinstance(exc, OperationalError):
        return False
    message = str(exc.orig).lower()
    sqlstate = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    return "locked" in message or "busy" in message or sqlstate in _RETRY_SQLSTATES


def database_problem(exc: DBAPIError) -> str:
    """What the database said, in one line a user can act on."""
    said = (str(exc.orig).strip().splitlines() or [type(exc.orig).__name__])[0]
    lower = said.lower()
    if "full" in lower or "no space" in lower:
        return f"the database cannot be written: the disk is full ({said}); free some space"
    if "readonly" in lower or "read-only" in lower:
        return f"the database is read-only ({said})"
    if "unable to open" in lower:
        return f"{said} (is its folder missing, or on a read-only disk?)"
    if "locked" in lower or "busy" in lower:
        return f"the database is locked by another process ({said}); try again"
    if isinstance(exc, IntegrityError):
        return f"another process wrote the same rows at the same time ({said})"
    return f"database error: {said}"


@contextmanager
def _one_line_errors() -> Iterator[None]:
    try:
        yield
    except DBAPIError as exc:
        raise StorageError(database_problem(exc)) from exc


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

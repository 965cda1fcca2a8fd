"""DocScout's error types: one base class, `DocScoutError`, with a `kind` (input, storage,
engine) for callers that must tell them apart, and one class per concern. The message is written
for the user and names what to do. The CLI (app/cli.py, `Commands`) and the web UI
(app/ui/main.py, `widgets.error_box`) each show them as one line, in one place; anything else
that escapes is a bug and keeps its traceback.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorKind(StrEnum):
    INPUT = "input"  # something the user gave (a file, a spec, a question set) cannot be used
    STORAGE = "storage"  # the database cannot do what was asked (no such collection, ...)
    ENGINE = "engine"  # the model could not be loaded or could not answer


class DocScoutError(Exception):
    """An error with a message for the user; `kind` says which part of DocScout raised it."""

    kind: ErrorKind = ErrorKind.INPUT


class StorageError(DocScoutError):
    """A request the database cannot satisfy, with a message for the user."""

    kind = ErrorKind.STORAGE


class EngineError(DocScoutError):
    """The model could not be loaded or could not answer; the message says what to do."""

    kind = ErrorKind.ENGINE


class IngestError(DocScoutError):
    """A document (or a page or member of it) that cannot be ingested, with a message a user
    can act on: `IngestError("report.pdf", "password required", page=None)`."""

    def __init__(self, source: str, message: str, *, page: int | None = None) -> None:
        self.source = source
        self.message = message
        self.page = page
        where = f"{source} page {page}" if page is not None else source
        super().__init__(f"{where}: {message}")


class SpecError(DocScoutError, ValueError):
    """A report spec that cannot be run; the message names the file and, when known, the line."""

    def __init__(self, source: str, message: str, line: int | None = None) -> None:
        self.source, self.message, self.line = source, message, line
        where = f"{source}, line {line}" if line is not None else source
        super().__init__(f"{where}: {message}")


class QuestionSetError(DocScoutError, ValueError):
    """A question set that cannot be read; the message names the file and the question."""

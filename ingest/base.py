"""The contract every parser satisfies; the error they raise is core.errors.IngestError.

A parser is a plain function `(FileInput, Settings) -> ParsedDocument`. It never touches the
database, never raises for a document it can partly read (it records the problem and returns
status `partial`), and raises `IngestError` only when the whole document is unusable; the
pipeline turns that into a `failed` document with the error's message.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Protocol

from core.domain import ParsedDocument
from core.settings import Settings

# Bump when a parser's output changes, so that stored documents can be told apart from new ones.
# 2: images get a text segment with their OCR text; 3: values by label only; 4: printed page labels
PARSER_VERSION = 4


@dataclass(frozen=True, slots=True)
class FileInput:
    """One file's bytes and the name it will be stored under."""

    name: str
    data: bytes = field(repr=False)
    sha256: str = ""

    @staticmethod
    def of(name: str, data: bytes) -> "FileInput":
        return FileInput(name, data, sha256_bytes(data))


class Parser(Protocol):
    def __call__(self, file: FileInput, settings: Settings) -> ParsedDocument: ...


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def display_name(name: str) -> str:
    """A file or member name that can be stored and shown. Names that are not valid UTF-8 reach
    Python with their bad bytes as lone surrogates (os's and tarfile's "surrogateescape"), which
    no database or terminal accepts; each such byte becomes a visible `\\xNN` escape, so
    `bad\\xffname.txt` still tells the user which file it was (and the bytes can be recovered)."""
    if name.isascii():
        return name
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")

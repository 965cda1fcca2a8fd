"""Safe, in-memory reading of zip and tar (.tar, .tar.gz/.tgz, .tar.bz2, .tar.xz) archives.

Nothing is ever extracted to disk. Two levels of refusal:
- a member is refused (and listed with a reason) for an unsafe name (absolute, `..`, drive letter;
  backslashes count as separators), a link, a device or fifo, its size, or its compression ratio;
- the whole archive is refused (`IngestError`) when it is unreadable, has too many members, or
  expands too far overall, by declared sizes or by bytes actually read.
Declared sizes are never trusted alone: every member is read with a bounded read (limit + 1 bytes),
and tar streams are read sequentially ("r|*") while counting compressed bytes consumed, so the
archive-level ratio is checked as the stream is decompressed (a tar has no per-member compressed
size: for tar that stream check is the ratio guard; a refused member, which the stream must still
decompress to skip, is read through chunk by chunk under the same check, so a bomb member is
stopped a few MB in, not decompressed to the end).
Ratios are only judged once more than `RATIO_FLOOR_BYTES` have expanded: a 20 KB file of spaces
is legitimate, a 1 GB one is a bomb.

Member names that are not valid UTF-8 (tar keeps raw bytes) are returned with those bytes escaped
(ingest.base.display_name); two members with the same name (an archive may hold both) keep their
own bytes under distinct names, `a.pdf` and `a (2).pdf`.
"""

from __future__ import annotations

import io
import lzma
import re
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, BinaryIO

from core.errors import IngestError
from core.settings import Settings
from ingest.base import display_name
from ingest.code_rules import human_size

RATIO_FLOOR_BYTES = 1024 * 1024
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
_GZIP_MAGIC, _BZ2_MAGIC, _XZ_MAGIC = b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00"
_TAR_EXTS = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tbz", ".tar.xz", ".txz")
# Zip containers that are documents or packages, not archives of files to ingest.
_ZIP_DOCUMENT_EXTS = (
    ".docx", ".xlsx", ".pptx", ".odt", ".ods", ".odp", ".epub",
    ".jar", ".war", ".apk", ".whl", ".xpi", ".nupkg", ".vsix",
)  # fmt: skip
_DRIVE = re.compile(r"^[A-Za-z]:")
_CHUNK = 1024 * 1024


@dataclass(frozen=True, slots=True)
class ArchiveContents:
    """Members read from an archive, in archive order, and those refused, with a reason."""

    members: list[tuple[str, bytes]] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)


# --- recognising archives -------------------------------------------------------------------


def is_archive(name: str, head: bytes) -> bool:
    """True for a zip or tar archive (compressed or not), judged by magic bytes with the file
    name as a hint: zip-based documents (.docx, .jar ...) are not archives, and a compressed
    stream is a tar only if its first header says so or the name ends in a tar extension."""
    lower = name.lower()
    if head.startswith(_ZIP_MAGIC):
        return not lower.endswith(_ZIP_DOCUMENT_EXTS)
    if _has_ustar_magic(head):
        return True
    named_tar = lower.endswith(_TAR_EXTS)
    if head.startswith((_GZIP_MAGIC, _BZ2_MAGIC, _XZ_MAGIC)):
        inner = _peek_decompressed(head)
        if len(inner) >= 512:
            return _has_ustar_magic(inner) or (named_tar and _is_tar_header(inner))
        return named_tar
    return named_tar and _is_tar_header(head)


def _has_ustar_magic(block: bytes) -> bool:
    return block[257:262] == b"ustar"


def _is_tar_header(block: bytes) -> bool:
    """A pre-POSIX (v7) tar header has no magic; a valid checksum is the best evidence."""
    try:
        tarfile.TarInfo.frombuf(block[:512], "utf-8", "surrogateescape")
    except tarfile.TarError:
        return False
    return True


def _peek_decompressed(head: bytes) -> bytes:
    """The first bytes a gzip or xz head decompresses to (bzip2 works in 100 KB+ blocks, so a
    head rarely yields anything: the name decides for those)."""
    try:
        if head.startswith(_GZIP_MAGIC):
            return zlib.decompressobj(wbits=31).decompress(head, 4096)
        if head.startswith(_XZ_MAGIC):
            return lzma.LZMADecompressor().decompress(head, 4096)
    except (zlib.error, lzma.LZMAError, EOFError):
        return b""
    return b""


# --- member names and sizes -----------------------------------------------------------------


def member_path(raw: str) -> str:
    """A member name as a normalised posix path: backslashes read as separators, `.` and empty
    components dropped. Only meaningful for names `member_refusal` accepts."""
    return "/".join(p for p in raw.replace("\\", "/").split("/") if p not in ("", "."))


def member_refusal(raw: str) -> str | None:
    """Why a member name is unsafe, or None. Backslashes count as separators, so `..\\..\\x`
    is caught like `../../x`."""
    name = raw.replace("\\", "/")
    if "\x00" in name:
        return "refused: name contains a NUL byte"
    if name.startswith("/") or _DRIVE.match(name):
        return f"refused: absolute path ({raw})"
    if ".." in name.split("/"):
        return f"refused: path escapes the archive ({raw})"
    if not member_path(raw):
        return f"refused: empty member name ({raw!r})"
    return None


def _ratio_message(expanded: int, compressed: int, limit: float) -> str:
    return (
        f"compression ratio {expanded / max(compressed, 1):.0f}:1 exceeds {limit:.0f}:1 "
        "(possible zip bomb)"
    )


def _too_big_message(size: int, settings: Settings) -> str:
    return (
        f"refused: {human_size(size)} is larger than the limit of "
        f"{human_size(settings.max_file_bytes)} (max_file_bytes)"
    )


class _Budget:
    """Counts expanded bytes of the whole archive and refuses it past the limits."""

    def __init__(self, name: str, settings: Settings) -> None:
        self.name, self.settings = name, settings
        self.members = 0
        self.expanded = 0

    def count_member(self) -> None:
        self.members += 1
        if self.members > self.settings.max_archive_members:
            raise IngestError(
                self.name,
                f"archive holds more than {self.settings.max_archive_members} members "
                "(limit max_archive_members)",
            )

    def add(self, size: int, compressed: int | None) -> None:
        """Count expanded bytes; the ratio is judged only when `compressed` covers them."""
        self.expanded += size
        self.check(self.expanded, compressed)

    def check(self, expanded: int, compressed: int | None) -> None:
        if expanded > self.settings.max_expanded_bytes:
            raise IngestError(
                self.name,
                f"archive expands to more than {human_size(self.settings.max_expanded_bytes)} "
                "(limit max_expanded_bytes)",
            )
        limit = self.settings.max_compression_ratio
        if compressed is None or expanded <= RATIO_FLOOR_BYTES:
            return
        if expanded > compressed * limit:
            raise IngestError(self.name, _ratio_message(expanded, compressed, limit))


def _bounded_read(
    stream: IO[bytes], limit: int, on_chunk: Callable[[int], None] | None = None
) -> bytes:
    """At most limit + 1 bytes, so a caller can tell "exactly at the limit" from "over it";
    `on_chunk(bytes_so_far)` runs after every chunk (to check a stream's ratio as it goes)."""
    chunks, total = [], 0
    while total <= limit:
        chunk = stream.read(min(_CHUNK, limit + 1 - total))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
        if on_chunk is not None:
            on_chunk(total)
    return b"".join(chunks)


# --- reading ---------------------------------------------------------------------------------


def read_archive(name: str, source: bytes | Path, settings: Settings) -> ArchiveContents:
    """Read every safe member of a zip or tar archive into memory, refusing the unsafe ones.
    Raises IngestError when the archive as a whole is unreadable or over a limit."""
    head = source[:4096] if isinstance(source, bytes) else _read_head(name, source)
    if head.startswith(_ZIP_MAGIC):
        return _named_apart(_read_zip(name, source, settings))
    return _named_apart(_read_tar(name, source, settings))


def _named_apart(contents: ArchiveContents) -> ArchiveContents:
    """Names that can be stored and shown, and distinct: a second `a.pdf` becomes `a (2).pdf`,
    so each member keeps its own bytes under a name of its own."""
    taken: set[str] = set()
    members = []
    for path, data in contents.members:
        unique = display_name(path)
        n = 2
        while unique in taken:
            folder, slash, base = display_name(path).rpartition("/")
            stem, dot, ext = base.rpartition(".")
            base = f"{stem} ({n}).{ext}" if dot and stem else f"{base} ({n})"
            unique, n = folder + slash + base, n + 1
        taken.add(unique)
        members.append((unique, data))
    refused = [(display_name(path), reason) for path, reason in contents.refused]
    return ArchiveContents(members, refused)


def _read_head(name: str, path: Path) -> bytes:
    try:
        with path.open("rb") as f:
            return f.read(4096)
    except OSError as exc:
        raise IngestError(name, f"cannot open the archive: {exc}") from exc


def _source_size(source: bytes | Path) -> int:
    return len(source) if isinstance(source, bytes) else source.stat().st_size


def _read_zip(name: str, source: bytes | Path, settings: Settings) -> ArchiveContents:
    archive_size = _source_size(source)
    try:
        zf = zipfile.ZipFile(io.BytesIO(source) if isinstance(source, bytes) else source)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        raise IngestError(name, f"not a readable zip archive: {exc}") from exc
    with zf:
        infos = zf.infolist()
        budget = _Budget(name, settings)
        for _ in infos:
            budget.count_member()
        budget.check(sum(i.file_size for i in infos), archive_size)  # declared sizes first
        actual = _Budget(name, settings)
        contents = ArchiveContents()
        for info in infos:
            if info.is_dir():
                continue
            result = _zip_member(zf, info, settings)
            if isinstance(result, str):
                contents.refused.append((info.filename, result))
            else:
                actual.add(len(result[1]), archive_size)
                contents.members.append(result)
    return contents


def _zip_member(
    zf: zipfile.ZipFile, info: zipfile.ZipInfo, settings: Settings
) -> tuple[str, bytes] | str:
    """The member's (path, bytes), or the reason it is refused."""
    reason = member_refusal(info.filename) or _zip_member_refusal(info, settings)
    if reason is not None:
        return reason
    try:
        with zf.open(info) as stream:
            data = _bounded_read(stream, settings.max_file_bytes)
    except (zipfile.BadZipFile, zlib.error, lzma.LZMAError, NotImplementedError, RuntimeError,
            OSError, EOFError, ValueError) as exc:  # fmt: skip
        return f"refused: unreadable member ({exc})"
    if len(data) > settings.max_file_bytes:
        return _too_big_message(len(data), settings)
    return member_path(info.filename), data


def _zip_member_refusal(info: zipfile.ZipInfo, settings: Settings) -> str | None:
    mode = info.external_attr >> 16  # unix st_mode, when a unix zip tool wrote the archive
    if stat.S_ISLNK(mode):
        return "refused: symbolic link"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):
        return "refused: device file or fifo"
    if info.flag_bits & 0x1:
        return "refused: encrypted member (password required)"
    if info.file_size > settings.max_file_bytes:
        return _too_big_message(info.file_size, settings)
    limit = settings.max_compression_ratio
    if info.file_size > RATIO_FLOOR_BYTES and info.file_size > info.compress_size * limit:
        return "refused: " + _ratio_message(info.file_size, info.compress_size, limit)
    return None


class _CountingReader:
    """A read-only stream that counts the (compressed) bytes taken from the one it wraps."""

    def __init__(self, inner: BinaryIO) -> None:
        self.inner = inner
        self.consumed = 0

    def read(self, size: int = -1) -> bytes:
        data = self.inner.read(size)
        self.consumed += len(data)
        return data


def _read_tar(name: str, source: bytes | Path, settings: Settings) -> ArchiveContents:
    raw: BinaryIO
    try:
        raw = io.BytesIO(source) if isinstance(source, bytes) else source.open("rb")
    except OSError as exc:
        raise IngestError(name, f"cannot open the archive: {exc}") from exc
    counter = _CountingReader(raw)
    try:
        with raw, tarfile.open(fileobj=counter, mode="r|*") as tf:  # type: ignore[call-overload]
            return _read_tar_stream(name, tf, counter, settings)
    except (tarfile.TarError, zlib.error, lzma.LZMAError, EOFError, OSError) as exc:
        raise IngestError(name, f"not a readable archive: {exc}") from exc


def _read_tar_stream(
    name: str, tf: tarfile.TarFile, counter: _CountingReader, settings: Settings
) -> ArchiveContents:
    budget = _Budget(name, settings)
    contents = ArchiveContents()
    for info in tf:
        budget.count_member()
        budget.check(budget.expanded, counter.consumed)  # now past the previous member's bytes
        if info.isdir():
            continue
        reason = _tar_member_check(info, settings)
        if reason is None:
            data = _tar_member_read(tf, info, settings, budget, counter)
            budget.add(len(data), counter.consumed)
            contents.members.append((member_path(info.name), data))
        else:
            _tar_member_skip(tf, info, budget, counter)
            contents.refused.append((info.name, reason))
    budget.check(budget.expanded, counter.consumed)
    return contents


def _tar_member_check(info: tarfile.TarInfo, settings: Settings) -> str | None:
    reason = member_refusal(info.name)
    if reason is not None:
        return reason
    if info.issym():
        return "refused: symbolic link"
    if info.islnk():
        return "refused: hard link"
    if info.ischr() or info.isblk() or info.isfifo():
        return "refused: device file or fifo"
    if not info.isreg():
        return "refused: unsupported member type"
    if info.size > settings.max_file_bytes:
        return _too_big_message(info.size, settings)
    return None


def _tar_member_skip(
    tf: tarfile.TarFile, info: tarfile.TarInfo, budget: _Budget, counter: _CountingReader
) -> None:
    """Get past a refused member. The stream must decompress it to reach the next one, so it is
    read through here, with the ratio checked at every chunk (a bomb stops the archive a few MB
    in); its declared size is checked against the total first, before any of that work."""
    budget.check(budget.expanded + info.size, None)
    stream = tf.extractfile(info) if info.isreg() else None
    read = 0
    if stream is not None:
        while chunk := stream.read(_CHUNK):
            read += len(chunk)
            budget.check(budget.expanded + read, counter.consumed)
    budget.add(read, counter.consumed)


def _tar_member_read(
    tf: tarfile.TarFile,
    info: tarfile.TarInfo,
    settings: Settings,
    budget: _Budget,
    counter: _CountingReader,
) -> bytes:
    """Read one member, checking the whole stream's ratio as it decompresses."""
    stream = tf.extractfile(info)
    if stream is None:
        return b""

    def check(read_so_far: int) -> None:
        budget.check(budget.expanded + read_so_far, counter.consumed)

    return _bounded_read(stream, settings.max_file_bytes, check)

"""Batch ingestion: paths in, one stored document (or a clear error) per file out.

1. Plan: expand the given paths into jobs. A folder that looks like a software project, or a zip
   or tar of one, becomes one codebase job; other folders and archives (a legal archive full of
   PDFs) are opened and every member becomes its own job. A folder's `.docscoutignore`
   (gitignore syntax) keeps what it matches out, in that folder and below. Bytes are hashed
   here, and a job whose sha256 is already stored in the collection is reported `unchanged`
   without being parsed.
2. Parse: jobs run in worker processes (one per core), because PDF extraction is CPU-bound.
   A parser error, or even a crashed worker, fails that one document and never the batch.
3. Store: each result is saved in its own transaction as soon as it is parsed; the outcomes
   are returned in the order the jobs were planned.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

from core.domain import Document, DocumentKind, Original, ParsedDocument, SaveResult, Status
from core.errors import IngestError
from core.settings import Settings
from core.tokens import count_text_tokens
from ingest import archive, code, detect
from ingest.base import PARSER_VERSION, FileInput, sha256_bytes
from ingest.images import parse_image
from ingest.pdf import parse_pdf
from ingest.text import parse_text
from storage.repository import Store

log = logging.getLogger(__name__)

HEAD_BYTES = 8192
PARSERS: dict[str, Callable[[FileInput, Settings], ParsedDocument]] = {
    "pdf": parse_pdf,
    "image": parse_image,
    "text": parse_text,
}
KIND_BY_DETECTED = {
    "pdf": DocumentKind.PDF,
    "image": DocumentKind.IMAGE,
    "text": DocumentKind.TEXT,
    "code": DocumentKind.CODE,
}


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one document of a batch."""

    source: str
    status: Status
    kind: DocumentKind | None = None
    error: str | None = None
    document: Document | None = None
    note: str | None = None  # e.g. "replaced an older version"


@dataclass(frozen=True, slots=True)
class FileJob:
    """A file to parse. Files on disk travel by path (the worker reads them), so planning a
    large folder holds no file contents in memory; archive members travel as bytes."""

    name: str
    kind: str  # a detect.detect_kind() result
    sha256: str
    path: Path | None = None
    data: bytes | None = None

    def read(self) -> FileInput:
        data = self.data if self.data is not None else self.path.read_bytes()
        return FileInput(self.name, data, self.sha256)


@dataclass(frozen=True, slots=True)
class CodeJob:
    name: str
    files: code.CodeFiles
    sha256: str


Job = FileJob | CodeJob
Progress = Callable[[int, int, Outcome], None]


def ingest_paths(
    paths: list[Path],
    collection: str,
    store: Store,
    settings: Settings,
    progress: Progress | None = None,
) -> list[Outcome]:
    """Ingest files, folders and archives into `collection`; one Outcome per document."""
    store.ensure_collection(collection)
    early: list[Outcome] = []  # refused, unsupported or unchanged: known without parsing
    jobs: list[Job] = []
    batch: dict[str, str] = {}  # sha256 -> name, for a file given twice in one batch
    for item in _plan(paths, settings):
        if isinstance(item, Outcome):
            early.append(item)
        elif (stored := store.find_by_sha256(collection, item.sha256, PARSER_VERSION)):
            early.append(Outcome(item.name, Status.UNCHANGED, stored.kind, document=stored,
                                 note=f"same content as {stored.source}"))
        elif item.sha256 in batch:
            early.append(Outcome(item.name, Status.UNCHANGED,
                                 note=f"same content as {batch[item.sha256]}"))
        else:
            batch[item.sha256] = item.name
            jobs.append(item)
    total = len(early) + len(jobs)
    done: list[Outcome] = []

    def report(outcome: Outcome) -> None:
        done.append(outcome)
        if progress is not None:
            progress(len(done), total, outcome)

    for outcome in early:
        report(_store(store, collection, _failed_from(outcome))
               if outcome.status == Status.FAILED else outcome)
    by_name = {job.name: job for job in jobs}
    # Biggest first, so that no large document starts last and leaves the other cores idle.
    for parsed in _parse_all(sorted(jobs, key=_job_size, reverse=True), settings):
        job = by_name.get(parsed.document.source)
        original = _original(job, parsed, settings) if job is not None else None
        report(_store(store, collection, parsed, original))
    planned = {job.name: i for i, job in enumerate(jobs)}
    return done[: len(early)] + sorted(done[len(early):], key=lambda o: planned[o.source])


# -- planning ------------------------------------------------------------------------------------


def _plan(paths: list[Path], settings: Settings) -> Iterator[Job | Outcome]:
    for path in paths:
        if path.is_symlink():
            yield Outcome(path.name, Status.FAILED, error="refused: symbolic link")
        elif path.is_dir():
            yield from _plan_folder(path, path.name, settings)
        elif path.is_file():
            yield from _plan_file(path, path.name, settings)
        else:
            yield Outcome(str(path), Status.FAILED, error="no such file or folder")


def _plan_folder(folder: Path, name: str, settings: Settings, rel: str = "",
                 ignores: code.Ignores = ()) -> Iterator[Job | Outcome]:
    """A folder's documents. A `.docscoutignore` (gitignore syntax) in it or any folder below
    keeps the files and folders it matches out, as a .gitignore does for git."""
    ignores = _with_ignore_file(folder, rel, ignores)
    children = [c for c in sorted(folder.iterdir())
                if not code.ignored_by(f"{rel}/{c.name}".lstrip("/"), c.is_dir(), ignores)]
    top = sorted(c.name + ("/" if c.is_dir() else "") for c in children)
    if code.looks_like_codebase(top):
        files = code.collect_folder(folder, settings)
        yield CodeJob(name, files, code.code_sha256(files.files))
        return
    for child in children:
        if child.name.startswith(".") or child.is_symlink():
            continue  # hidden files and links are not documents
        child_name, child_rel = f"{name}/{child.name}", f"{rel}/{child.name}".lstrip("/")
        if child.is_dir():
            yield from _plan_folder(child, child_name, settings, child_rel, ignores)
        elif child.is_file():
            yield from _plan_file(child, child_name, settings)


def _with_ignore_file(folder: Path, rel: str, ignores: code.Ignores) -> code.Ignores:
    path = folder / code.DOCSCOUT_IGNORE
    if path.is_symlink() or not path.is_file():
        return ignores
    try:
        with path.open("rb") as handle:
            data = handle.read(code.GITIGNORE_MAX_BYTES)
    except OSError:
        return ignores
    return (*ignores, (rel, code.DOCSCOUT_IGNORE, code.ignore_patterns(data)))


def _plan_file(path: Path, name: str, settings: Settings) -> Iterator[Job | Outcome]:
    size = path.stat().st_size
    if size > settings.max_file_bytes:
        yield _too_large(name, size, settings)
        return
    try:
        with path.open("rb") as handle:
            kind = detect.detect_kind(name, handle.read(HEAD_BYTES))
            if kind == "archive":
                yield from _plan_archive(name, path, settings, depth=0)
                return
            handle.seek(0)
            sha256 = hashlib.file_digest(handle, "sha256").hexdigest()
    except OSError as exc:
        yield Outcome(name, Status.FAILED, error=f"cannot read file: {exc.strerror or exc}")
        return
    yield _file_job(name, kind, sha256, path=path)


def _plan_bytes(name: str, data: bytes, settings: Settings, depth: int) -> Iterator[Job | Outcome]:
    kind = detect.detect_kind(name, data[:HEAD_BYTES])
    if kind == "archive":
        yield from _plan_archive(name, data, settings, depth)
    else:
        yield _file_job(name, kind, sha256_bytes(data), data=data)


def _file_job(name: str, kind: str | None, sha256: str, **where) -> FileJob | Outcome:
    if kind is None:
        suffix = Path(name).suffix or "no extension"
        return Outcome(name, Status.FAILED, error=f"unsupported file type ({suffix})")
    return FileJob(name, kind, sha256, **where)


def _plan_archive(
    name: str, source: bytes | Path, settings: Settings, depth: int
) -> Iterator[Job | Outcome]:
    if depth >= settings.max_archive_depth:
        yield Outcome(name, Status.FAILED,
                      error=f"refused: archive nested deeper than {settings.max_archive_depth}")
        return
    try:
        contents = archive.read_archive(name, source, settings)
    except IngestError as exc:
        yield Outcome(name, Status.FAILED, error=exc.message)
        return
    for member, reason in contents.refused:
        yield Outcome(f"{name}/{member}", Status.FAILED, error=reason)
    if code.looks_like_codebase([m for m, _ in contents.members]):
        files = code.collect_members(contents.members, settings)
        yield CodeJob(name, files, code.code_sha256(files.files))
        return
    for member, member_data in contents.members:
        if not Path(member).name.startswith("."):
            yield from _plan_bytes(f"{name}/{member}", member_data, settings, depth + 1)


def _too_large(name: str, size: int, settings: Settings) -> Outcome:
    mib = 1024 * 1024
    return Outcome(name, Status.FAILED, error=f"file too large: {size / mib:.0f} MiB exceeds the "
                   f"limit of {settings.max_file_bytes / mib:.0f} MiB (max_file_bytes)")


# -- parsing -------------------------------------------------------------------------------------


def parse_job(job: Job, settings: Settings) -> ParsedDocument:
    """Parse one job; never raises: every error becomes a failed document with its message."""
    try:
        if isinstance(job, CodeJob):
            return code.parse_codebase(job.name, job.files, settings)
        file = job.read()
        if job.kind == "code":  # a lone source file: a one-file codebase, cited by path:lines
            files = code.collect_members([(file.name.rsplit("/", 1)[-1], file.data)], settings)
            return code.parse_codebase(file.name, files, settings)
        return PARSERS[job.kind](file, settings)
    except OSError as exc:
        error = f"cannot read file: {exc.strerror or exc}"
    except IngestError as exc:
        error = exc.message if exc.page is None else f"page {exc.page}: {exc.message}"
    except MemoryError:
        error = "out of memory while reading this document"
    except Exception as exc:  # a parser bug must cost one document, not the batch
        log.exception("unexpected error while parsing %s", job.name)
        error = f"unexpected error ({type(exc).__name__}: {exc})"
    return _failed_job(job, error)


def _job_size(job: Job) -> int:
    """Bytes to parse: a rough, free estimate of the work a job is."""
    if isinstance(job, CodeJob):
        return sum(len(data) for _, data in job.files.files)
    if job.data is not None:
        return len(job.data)
    try:
        return job.path.stat().st_size
    except OSError:
        return 0


def _failed_job(job: Job, error: str) -> ParsedDocument:
    kind = DocumentKind.CODE if isinstance(job, CodeJob) else KIND_BY_DETECTED[job.kind]
    return ParsedDocument.failed(source=job.name, kind=kind, sha256=job.sha256, error=error)


def _parse_all(jobs: list[Job], settings: Settings) -> Iterator[ParsedDocument]:
    workers = settings.workers or os.cpu_count() or 1
    if workers == 1 or len(jobs) <= 1:
        for job in jobs:
            yield parse_job(job, settings)
        return
    yield from _parse_in_pool(jobs, settings, workers)


def _parse_in_pool(jobs: list[Job], settings: Settings, workers: int) -> Iterator[ParsedDocument]:
    """Results as they complete, with at most 2 jobs per worker in flight to bound memory.

    When a worker dies (a native crash on a hostile file) every job in flight is retried alone in
    a fresh single-worker pool, so only the one that really crashes is failed."""
    count_text_tokens("warm-up")  # load the tokenizer once, before the workers fork and share it
    queue = deque(jobs)
    in_flight: dict[Future, Job] = {}
    pool = ProcessPoolExecutor(max_workers=workers)
    try:
        while queue or in_flight:
            try:
                while queue and len(in_flight) < 2 * workers:
                    in_flight[pool.submit(parse_job, queue[0], settings)] = queue[0]
                    queue.popleft()
                done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                results = [future.result() for future in done]
            except BrokenProcessPool:
                pool.shutdown(cancel_futures=True)
                suspects = list(in_flight.values())
                in_flight.clear()
                yield from (_parse_isolated(job, settings) for job in suspects)
                pool = ProcessPoolExecutor(max_workers=workers)
                continue
            for future in done:
                del in_flight[future]
            yield from results
    finally:
        pool.shutdown(cancel_futures=True)


def _parse_isolated(job: Job, settings: Settings) -> ParsedDocument:
    with ProcessPoolExecutor(max_workers=1) as solo:
        try:
            return solo.submit(parse_job, job, settings).result()
        except BrokenProcessPool:
            return _failed_job(job, "the reader crashed on this file (damaged or hostile content)")


# -- storing -------------------------------------------------------------------------------------


def _failed_from(outcome: Outcome) -> ParsedDocument:
    return ParsedDocument.failed(source=outcome.source, kind=outcome.kind or DocumentKind.TEXT,
                                 sha256="", error=outcome.error or "failed")


def _original(job: Job, parsed: ParsedDocument, settings: Settings) -> Original | None:
    """A PDF's own bytes, kept so that a citation can show its page as the reader saw it."""
    if not settings.keep_originals or not isinstance(job, FileJob) or job.kind != "pdf":
        return None
    if parsed.document.status == Status.FAILED:
        return None
    try:
        return Original(job.read().data, "application/pdf")
    except OSError:  # gone since it was parsed: the document is still worth storing
        return None


def _store(store: Store, collection: str, parsed: ParsedDocument,
           original: Original | None = None) -> Outcome:
    doc = parsed.document
    result = store.save(collection, parsed, PARSER_VERSION, original)
    note = {
        SaveResult.REPLACED: "replaced an older version",
        SaveResult.KEPT_PREVIOUS: "the readable older version was kept",
    }.get(result)
    return Outcome(doc.source, doc.status, doc.kind, doc.error, doc, note)

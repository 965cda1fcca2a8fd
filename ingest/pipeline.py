"""Batch ingestion: paths in, one stored document (or a clear error) per file out.

1. Plan: expand the given paths into jobs. Whatever one path turns out to be (missing,
   unreadable, a FIFO, a folder nested thousands deep, a name that is not UTF-8), it becomes
   outcomes of its own and never stops the batch; folders are walked with a stack, not
   recursion, and an unreadable sub-folder is a failed outcome beside the readable rest.
   A folder that looks like a software project, or a zip or tar of one, becomes one codebase
   job; other folders and archives (a legal archive full of PDFs) are opened and every member
   becomes its own job. A folder's `.docscoutignore` (gitignore syntax) keeps what it matches
   out, in that folder and below. Bytes are hashed here, and a job whose sha256 is already stored in the collection is reported `unchanged`
   without being parsed.
2. Parse: jobs run in worker processes (one per core), because PDF extraction is CPU-bound.
   A parser error, or even a crashed worker, fails that one document and never the batch.
   Workers die with the process that started them (a kill -9 of the CLI leaves no orphans).
3. Store: each result is saved in its own transaction as soon as it is parsed; the outcomes
   are returned in the order the jobs were planned. A database that cannot be written (disk
   full, locked, read-only) fails the documents it could not store, one line each; a version
   that reads worse than the stored one (partial over ok) is not stored unless `replace`.
"""

from __future__ import annotations

import ctypes
import dataclasses
import hashlib
import logging
import os
import signal
import stat
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

from core.domain import Document, DocumentKind, Original, ParsedDocument, SaveResult, Status
from core.errors import IngestError, StorageError
from core.settings import Settings
from core.tokens import count_text_tokens
from ingest import archive, code, detect
from ingest.base import PARSER_VERSION, FileInput, display_name, sha256_bytes
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

    @property
    def message(self) -> str | None:
        """The error and the note, as one line."""
        return "; ".join(part for part in (self.error, self.note) if part) or None


@dataclass(frozen=True, slots=True)
class FileJob:
    """A file to parse. Files on disk travel by path (the worker reads them), so planning a
    large folder holds no file contents in memory; archive members travel as bytes."""

    name: str
    kind: str  # a detect.detect_kind() result
    sha256: str
    path: Path | None = None
    data: bytes | None = None
    defer_ocr: bool = False  # PDFs: store the text layer now, OCR later (run_ocr)

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
    replace: bool = False,
    ocr_later: bool = False,
) -> list[Outcome]:
    """Ingest files, folders and archives into `collection`; one Outcome per document.
    `replace`: store a new version even where it reads worse than the stored one.
    `ocr_later`: store PDFs with their text layer only, their scanned pages and figures counted
    as OCR pending, for `run_ocr` to read afterwards (with kept originals only: run_ocr reads
    the file again from its kept copy); the documents can be searched and asked at once."""
    defer = ocr_later and settings.keep_originals and settings.ocr
    store.ensure_collection(collection)
    early: list[Outcome] = []  # refused, unsupported or unchanged: known without parsing
    jobs: list[Job] = []
    batch: dict[str, str] = {}  # sha256 -> name, for a file given twice in one batch
    for item in _plan(paths, settings):
        if isinstance(item, Outcome):
            early.append(item)
        elif (stored := _stored_copy(store, collection, item.sha256)):
            early.append(Outcome(item.name, Status.UNCHANGED, stored.kind, document=stored,
                                 note=f"same content as {stored.source}"))
        elif item.sha256 in batch:
            early.append(Outcome(item.name, Status.UNCHANGED,
                                 note=f"same content as {batch[item.sha256]}"))
        else:
            batch[item.sha256] = item.name
            defer_this = defer and isinstance(item, FileJob) and item.kind == "pdf"
            jobs.append(dataclasses.replace(item, defer_ocr=True) if defer_this else item)
    total = len(early) + len(jobs)
    done: list[Outcome] = []

    def report(outcome: Outcome) -> Outcome:
        done.append(outcome)
        if progress is not None:
            progress(len(done), total, outcome)
        return outcome

    for outcome in early:
        report(_store_failure(store, collection, outcome)
               if outcome.status == Status.FAILED else outcome)
    planned = {id(job): i for i, job in enumerate(jobs)}
    parsed_outcomes: list[tuple[int, Outcome]] = []
    # Biggest first, so that no large document starts last and leaves the other cores idle.
    for job, parsed in _parse_all(sorted(jobs, key=_job_size, reverse=True), settings):
        outcome = _store(store, collection, parsed, _original(job, parsed, settings), replace)
        parsed_outcomes.append((planned[id(job)], report(outcome)))
    return done[: len(early)] + [outcome for _, outcome in sorted(parsed_outcomes,
                                                                  key=lambda pair: pair[0])]


def run_ocr(store: Store, settings: Settings, collection: str | None = None,
            progress: Progress | None = None, workers: int | None = None) -> list[Outcome]:
    """Phase two of `ingest_paths(..., ocr_later=True)`: every document stored with OCR pending
    (in `collection`, or in all) is parsed again from its kept original with OCR, and stored in
    place of its text-layer version, unless that version was deleted, replaced or OCRed
    meanwhile. One Outcome per document; `workers` processes (default: settings.workers)."""
    try:
        pending = store.pending_ocr(collection)
    except StorageError as exc:
        log.warning("cannot list documents waiting for OCR: %s", exc)
        return []
    settings = settings.model_copy(update={"workers": workers or settings.workers})
    outcomes: list[Outcome] = []
    # The originals go to a temporary folder, so that the jobs travel by path like files on disk
    # and no more than the documents being parsed are held in memory.
    with tempfile.TemporaryDirectory(prefix="docscout-ocr-") as folder:
        jobs, where = [], {}
        for n, doc in enumerate(pending):
            original = _kept_original(store, doc)
            if original is None:  # deleted meanwhile, or its copy is gone: nothing to read
                outcomes.append(Outcome(doc.source, Status.UNCHANGED, doc.kind,
                                        note="OCR skipped: the document or its kept copy is gone"))
                continue
            path = Path(folder) / f"{n}.pdf"
            path.write_bytes(original.data)
            job = FileJob(doc.source, "pdf", doc.sha256, path=path)
            jobs.append(job)
            where[id(job)] = doc
        for n, outcome in enumerate(outcomes, 1):
            if progress is not None:
                progress(n, len(pending), outcome)
        for job, parsed in _parse_all(sorted(jobs, key=_job_size, reverse=True), settings):
            doc = where[id(job)]
            outcome = _store_ocr(store, doc, parsed)
            outcomes.append(outcome)
            if progress is not None:
                progress(len(outcomes), len(pending), outcome)
    return outcomes


def with_ocr(outcomes: list[Outcome], ocr: list[Outcome]) -> list[Outcome]:
    """An ingest's outcomes, each brought up to date with what `run_ocr` then did to its
    document (its new token counts, errors and note)."""
    after = {o.source: o for o in ocr}
    merged = []
    for outcome in outcomes:
        later = after.get(outcome.source)
        if later is None or outcome.document is None or not outcome.document.ocr_pending:
            merged.append(outcome)
            continue
        merged.append(Outcome(
            outcome.source,
            outcome.status if later.status == Status.UNCHANGED else later.status,
            outcome.kind,
            later.error or outcome.error,
            later.document or outcome.document,
            "; ".join(part for part in (outcome.note, later.note) if part) or None,
        ))
    return merged


def _kept_original(store: Store, doc: Document) -> Original | None:
    try:
        return store.original(doc.collection, doc.source)
    except StorageError:
        return None


def _store_ocr(store: Store, stored: Document, parsed: ParsedDocument) -> Outcome:
    pages = f"{stored.ocr_pending} page{'s' if stored.ocr_pending != 1 else ''}"
    doc = parsed.document
    try:
        result = store.save_ocr(stored.collection, parsed, PARSER_VERSION)
    except StorageError as exc:
        return Outcome(doc.source, Status.FAILED, doc.kind, f"OCR not stored: {exc}")
    if result == SaveResult.UNCHANGED:
        return Outcome(doc.source, Status.UNCHANGED, doc.kind,
                       note="OCR not needed any more: deleted, replaced or OCRed meanwhile")
    if result == SaveResult.KEPT_PREVIOUS:
        return Outcome(doc.source, stored.status, doc.kind, f"OCR failed: {doc.error}", stored)
    return Outcome(doc.source, doc.status, doc.kind, doc.error, doc, note=f"OCR read {pages}")


def _stored_copy(store: Store, collection: str, sha256: str) -> Document | None:
    """The stored document with these bytes; None also when the database cannot say (the
    document is then parsed, and storing it reports what is wrong with the database)."""
    try:
        return store.find_by_sha256(collection, sha256, PARSER_VERSION)
    except StorageError:
        return None


# -- planning ------------------------------------------------------------------------------------


def _plan(paths: list[Path], settings: Settings) -> Iterator[Job | Outcome]:
    for path in paths:
        yield from _plan_path(path, settings)


def _plan_path(path: Path, settings: Settings) -> Iterator[Job | Outcome]:
    """One path the user gave. Whatever goes wrong while reading it is an outcome of its own
    (even a bug: it costs this path, not the batch), and a folder that yields nothing says so."""
    name = display_name(path.name or path.resolve().name or str(path))
    planned = 0
    try:
        for item in _plan_top(path, name, settings):
            planned += 1
            yield item
    except Exception as exc:
        log.exception("unexpected error while planning %s", name)
        yield Outcome(name, Status.FAILED,
                      error=f"unexpected error while reading it ({type(exc).__name__}: {exc})")
        return
    if planned == 0:
        yield Outcome(name, Status.FAILED, error=_nothing_found(path))


def _plan_top(path: Path, name: str, settings: Settings) -> Iterator[Job | Outcome]:
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        yield Outcome(display_name(str(path)), Status.FAILED, error="no such file or folder")
        return
    except OSError as exc:
        yield Outcome(name, Status.FAILED, error=f"cannot read it: {exc.strerror or exc}")
        return
    if stat.S_ISLNK(mode):
        yield Outcome(name, Status.FAILED, error="refused: symbolic link")
    elif stat.S_ISDIR(mode):
        yield from _plan_folder(path, name, settings)
    elif stat.S_ISREG(mode):
        yield from _plan_file(path, name, settings)
    else:
        yield Outcome(name, Status.FAILED, error=f"not a regular file ({_file_type(mode)})")


def _file_type(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "FIFO"
    if stat.S_ISSOCK(mode):
        return "socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device"
    return "unknown file type"


def _nothing_found(folder: Path) -> str:
    try:
        with os.scandir(folder) as entries:
            empty = next(entries, None) is None
    except OSError as exc:
        return f"cannot read folder: {exc.strerror or exc}"
    if empty:
        return "nothing to ingest: the folder is empty"
    return ("nothing to ingest: every file in the folder is hidden, a link, not a regular file "
            f"or ignored by {code.DOCSCOUT_IGNORE}")


# A folder being walked: the children still to visit, its name, its path relative to the folder
# given, and the ignore files that apply in it.
_Frame = tuple[Iterator[os.DirEntry], str, str, code.Ignores]


def _plan_folder(root: Path, name: str, settings: Settings) -> Iterator[Job | Outcome]:
    """A folder's documents, depth first, walked with a stack of its own (a folder nested
    thousands deep must not exhaust Python's recursion limit). A `.docscoutignore` (gitignore
    syntax) in it or any folder below keeps the files and folders it matches out, as a
    .gitignore does for git. A sub-folder that cannot be read is a failed outcome of its own."""
    stack: list[_Frame] = []
    yield from _enter_folder(root, name, "", (), settings, stack)
    while stack:
        children, folder_name, rel, ignores = stack[-1]
        child = next(children, None)
        if child is None:
            stack.pop()
            continue
        child_name = f"{folder_name}/{display_name(child.name)}"
        child_rel = f"{rel}/{child.name}".lstrip("/")
        try:
            if child.is_dir(follow_symlinks=False):
                yield from _enter_folder(Path(child.path), child_name, child_rel, ignores,
                                         settings, stack)
            elif child.is_file(follow_symlinks=False):
                yield from _plan_file(Path(child.path), child_name, settings)
        except OSError as exc:
            yield Outcome(child_name, Status.FAILED, error=f"cannot read it: {exc.strerror or exc}")


def _enter_folder(folder: Path, name: str, rel: str, ignores: code.Ignores, settings: Settings,
                  stack: list[_Frame]) -> Iterator[Job | Outcome]:
    """A folder that is a codebase is one job; another has its children pushed on `stack`."""
    try:
        ignores = _with_ignore_file(folder, rel, ignores)
        with os.scandir(folder) as found:
            entries = sorted(found, key=lambda e: e.name)
        children = [e for e in entries
                    if not code.ignored_by(f"{rel}/{e.name}".lstrip("/"),
                                           e.is_dir(follow_symlinks=False), ignores)]
        top = sorted(e.name + ("/" if e.is_dir(follow_symlinks=False) else "") for e in children)
        # Hidden files and links are not documents.
        documents = [e for e in children if not e.name.startswith(".") and not e.is_symlink()]
    except OSError as exc:
        yield Outcome(name, Status.FAILED, error=f"cannot read folder: {exc.strerror or exc}")
        return
    if code.looks_like_codebase(top):
        yield _code_job(name, code.collect_folder(folder, settings))
        return
    stack.append((iter(documents), name, rel, ignores))


def _with_ignore_file(folder: Path, rel: str, ignores: code.Ignores) -> code.Ignores:
    try:
        fd = os.open(folder / code.DOCSCOUT_IGNORE, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:  # none, a link, or unreadable: the folder is read without it
        return ignores
    try:
        with os.fdopen(fd, "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                return ignores
            data = handle.read(code.GITIGNORE_MAX_BYTES)
    except OSError:
        return ignores
    return (*ignores, (rel, code.DOCSCOUT_IGNORE, code.ignore_patterns(data)))


def _code_job(name: str, files: code.CodeFiles) -> CodeJob | Outcome:
    """A codebase to parse; one with no file left to read (all ignored, binary or too large)
    fails here and says why, and never looks like any other empty content."""
    if not files.files:
        return Outcome(name, Status.FAILED, DocumentKind.CODE, error=code.no_files_message(files))
    return CodeJob(name, files, code.code_sha256(files.files))


def _plan_file(path: Path, name: str, settings: Settings) -> Iterator[Job | Outcome]:
    try:
        with path.open("rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size > settings.max_file_bytes:
                yield _too_large(name, size, settings)
                return
            head = handle.read(HEAD_BYTES)
            kind = detect.detect_kind(name, head)
            if kind == "archive":
                yield from _plan_archive(name, path, settings, depth=0)
                return
            handle.seek(0)
            sha256 = hashlib.file_digest(handle, "sha256").hexdigest()
    except OSError as exc:
        yield Outcome(name, Status.FAILED, error=f"cannot read file: {exc.strerror or exc}")
        return
    yield _file_job(name, kind, sha256, head, path=path)


def _plan_bytes(name: str, data: bytes, settings: Settings, depth: int) -> Iterator[Job | Outcome]:
    kind = detect.detect_kind(name, data[:HEAD_BYTES])
    if kind == "archive":
        yield from _plan_archive(name, data, settings, depth)
    else:
        yield _file_job(name, kind, sha256_bytes(data), data[:HEAD_BYTES], data=data)


def _file_job(name: str, kind: str | None, sha256: str, head: bytes, **where) -> FileJob | Outcome:
    if kind is None:
        return Outcome(name, Status.FAILED, error=detect.unsupported_reason(name, head))
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
        yield _code_job(name, code.collect_members(contents.members, settings))
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
        if job.kind == "pdf":
            return parse_pdf(file, settings, defer_ocr=job.defer_ocr)
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


def _parse_all(jobs: list[Job], settings: Settings) -> Iterator[tuple[Job, ParsedDocument]]:
    """(job, its parsed document) as each completes: the job travels with its result, so two
    documents of the same name can never be paired with each other's bytes."""
    workers = settings.workers or os.cpu_count() or 1
    if workers == 1 or len(jobs) <= 1:
        for job in jobs:
            yield job, parse_job(job, settings)
        return
    yield from _parse_in_pool(jobs, settings, workers)


def _parse_in_pool(jobs: list[Job], settings: Settings, workers: int
                   ) -> Iterator[tuple[Job, ParsedDocument]]:
    """Results as they complete, with at most 2 jobs per worker in flight to bound memory.

    When a worker dies (a native crash on a hostile file) every job in flight is retried alone in
    a fresh single-worker pool, so only the one that really crashes is failed."""
    count_text_tokens("warm-up")  # load the tokenizer once, before the workers fork and share it
    queue = deque(jobs)
    in_flight: dict[Future, Job] = {}
    pool = _pool(workers)
    try:
        while queue or in_flight:
            try:
                while queue and len(in_flight) < 2 * workers:
                    in_flight[pool.submit(parse_job, queue[0], settings)] = queue[0]
                    queue.popleft()
                done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                results = [(in_flight[future], future.result()) for future in done]
            except BrokenProcessPool:
                pool.shutdown(cancel_futures=True)
                suspects = list(in_flight.values())
                in_flight.clear()
                yield from ((job, _parse_isolated(job, settings)) for job in suspects)
                pool = _pool(workers)
                continue
            for future in done:
                del in_flight[future]
            yield from results
    finally:
        pool.shutdown(cancel_futures=True)


def _parse_isolated(job: Job, settings: Settings) -> ParsedDocument:
    with _pool(1) as solo:
        try:
            return solo.submit(parse_job, job, settings).result()
        except BrokenProcessPool:
            return _failed_job(job, "the reader crashed on this file (damaged or hostile content)")


def _pool(workers: int) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(max_workers=workers, initializer=_die_with_parent)


_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Runs in each worker as it starts: exit when the process that started it dies (a kill -9
    of the CLI; or of the fork server, which exits with the CLI), instead of parsing on as an
    orphan holding hundreds of MB. Linux kills the worker at once (prctl PR_SET_PDEATHSIG); a
    thread watching for a new parent covers other systems."""
    parent = os.getppid()
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        except (OSError, AttributeError):
            pass  # no prctl: the thread below still notices
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(1)
    os._exit(1)


# -- storing -------------------------------------------------------------------------------------


def _store_failure(store: Store, collection: str, outcome: Outcome) -> Outcome:
    """A document refused before parsing is listed in the collection too, with its error; when
    the database cannot take even that, the outcome says so beside its own error."""
    parsed = ParsedDocument.failed(source=outcome.source, kind=outcome.kind or DocumentKind.TEXT,
                                   sha256="", error=outcome.error or "failed")
    stored = _store(store, collection, parsed)
    if stored.error != parsed.document.error:
        return dataclasses.replace(outcome, note=stored.error)
    return stored


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
           original: Original | None = None, replace: bool = False) -> Outcome:
    doc = parsed.document
    try:
        result = store.save(collection, parsed, PARSER_VERSION, original, replace=replace)
    except StorageError as exc:  # disk full, locked, read-only: this document, not the batch
        return Outcome(doc.source, Status.FAILED, doc.kind, f"not stored: {exc}")
    if result == SaveResult.UNCHANGED:
        return Outcome(doc.source, Status.UNCHANGED, doc.kind,
                       note="the same content was stored meanwhile (by another ingest)")
    note = {
        SaveResult.REPLACED: "replaced an older version",
        SaveResult.KEPT_PREVIOUS: "the readable older version was kept",
        SaveResult.KEPT_BETTER: "not stored: the stored version reads fully and was kept "
                                "(--replace stores this one)",
    }.get(result)
    return Outcome(doc.source, doc.status, doc.kind, doc.error, doc, note)

"""Faults around ingest: a full disk, a locked database, a kill -9 of the CLI, concurrent CLIs on
one fresh data folder. Each ends with clear outcomes, nothing stored lost, and a re-run that
completes. The CLI runs as real processes here (`python -m app.cli`), as a user runs it."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psutil
import pymupdf
import pytest

import storage.db
from app.tables import outcome_summary
from core.domain import Status
from core.settings import Settings
from ingest.pipeline import ingest_paths
from storage.repository import Store

ROOT = Path(__file__).resolve().parent.parent


def _cli(args: list[str], env: dict[str, str], **popen) -> subprocess.Popen:
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **env}
    return subprocess.Popen([sys.executable, "-m", "app.cli", *args], cwd=ROOT, env=full_env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)


def _run(args: list[str], env: dict[str, str], timeout: float = 180) -> tuple[int, str, str]:
    proc = _cli(args, env)
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def _texts(folder: Path, count: int, size: int, tag: str) -> Path:
    """`count` text files of about `size` bytes, each with content of its own."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        words = " ".join(f"{tag}{i}w{j}x{(j * 7919 + i) % 100003}" for j in range(size // 16))
        (folder / f"{tag}-{i}.txt").write_text(f"{tag} file {i}\n{words}\n")
    return folder


def _integrity(db: Path) -> None:
    with sqlite3.connect(db) as con:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert con.execute("PRAGMA foreign_key_check").fetchall() == []


# --- disk full -------------------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path):
    """A 6 MiB tmpfs, where the machine lets this process mount one (root, or CAP_SYS_ADMIN)."""
    mount = tmp_path / "small-disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (needs root or CAP_SYS_ADMIN): "
                    + (done.stderr.strip() or "mount failed"))
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_fails_each_document_in_one_line_and_keeps_what_was_stored(small_disk,
                                                                                tmp_path):
    env = {"DOCSCOUT_DATA_DIR": str(small_disk / "data")}
    first = _texts(tmp_path / "first", 2, 20_000, "kept")
    code, out, err = _run(["ingest", str(first), "-c", "c", "--workers", "1"], env)
    assert code == 0, out + err
    more = _texts(tmp_path / "more", 12, 600_000, "overflow")  # ~7 MB of text, FTS on top
    code, out, err = _run(["ingest", str(more), "-c", "c", "--workers", "1"], env)
    assert code == 1 and "Traceback" not in err and "OperationalError" not in out + err, err
    assert "the database cannot be written: the disk is full" in out
    assert "12 documents into 'c':" in out and "failed" in out.splitlines()[-1]

    subprocess.run(["mount", "-o", "remount,size=64m", str(small_disk)], check=True)
    _integrity(small_disk / "data" / "docscout.db")
    store = Store(Settings(data_dir=small_disk / "data"))
    kept = {d.source: d.status for d in store.documents("c")}
    store.close()
    assert kept["first/kept-0.txt"] == kept["first/kept-1.txt"] == Status.OK
    code, out, err = _run(["ingest", str(more), "-c", "c", "--workers", "1"], env)
    assert code == 0, out + err  # with room again, the re-run completes


# --- a locked database -----------------------------------------------------------------------


def test_a_locked_database_fails_each_document_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setattr(storage.db, "BUSY_TIMEOUT_MS", 200)  # wait 0.2 s, not 30 s
    settings = Settings(data_dir=tmp_path / "data", workers=1)
    store = Store(settings)
    folder = _texts(tmp_path / "docs", 2, 2_000, "locked")
    store.ensure_collection("c")
    holder = sqlite3.connect(settings.data_dir / "docscout.db", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        outcomes = ingest_paths([folder], "c", store, settings)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert [o.status for o in outcomes] == [Status.FAILED, Status.FAILED]
    assert all(o.error.startswith("not stored: the database is locked by another process")
               for o in outcomes), outcomes
    summary = outcome_summary(outcomes, "c")
    assert summary.endswith("2 documents into 'c': 2 failed") and "Traceback" not in summary
    assert {o.status for o in ingest_paths([folder], "c", store, settings)} == {Status.OK}
    store.close()


# --- a read-only database -------------------------------------------------------------------


def test_a_read_only_database_fails_each_document_in_one_line(tmp_path, monkeypatch):
    """SQLite's own refusal to write (query_only: the error a read-only file gives, which
    chmod cannot produce for root)."""
    settings = Settings(data_dir=tmp_path / "data", workers=1)
    writable = Store(settings)
    folder = _texts(tmp_path / "docs", 2, 2_000, "readonly")
    ingest_paths([folder / "readonly-0.txt"], "c", writable, settings)
    writable.close()
    pragmas = storage.db._sqlite_pragmas

    def read_only(connection, record) -> None:
        pragmas(connection, record)
        connection.execute("PRAGMA query_only=ON")

    monkeypatch.setattr(storage.db, "_sqlite_pragmas", read_only)
    store = Store(settings)
    outcomes = {o.source: o for o in ingest_paths([folder], "c", store, settings)}
    store.close()
    assert outcomes["docs/readonly-0.txt"].status == Status.UNCHANGED
    failed = outcomes["docs/readonly-1.txt"]
    assert failed.status == Status.FAILED
    assert failed.error.startswith("not stored: the database is read-only"), failed.error
    _integrity(settings.data_dir / "docscout.db")


def test_a_database_on_a_read_only_disk_is_one_line(small_disk, tmp_path):
    env = {"DOCSCOUT_DATA_DIR": str(small_disk / "data")}
    first = _texts(tmp_path / "first", 1, 2_000, "rodisk")
    assert _run(["ingest", str(first), "-c", "c"], env)[0] == 0
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    code, out, err = _run(["ingest", str(first), "-c", "c"], env)
    assert code == 1 and len(err.strip().splitlines()) == 1, err
    assert err.startswith("Error: cannot open the database") and "read-only disk" in err


# --- kill -9 -----------------------------------------------------------------------------------


def _pdfs(folder: Path, count: int, pages: int) -> Path:
    folder.mkdir(parents=True)
    body = " ".join(f"word{i}" for i in range(400))
    for n in range(count):
        doc = pymupdf.open()
        for p in range(pages):
            doc.new_page().insert_textbox(pymupdf.Rect(40, 40, 560, 800),
                                          f"Doc {n} page {p}. {body}", fontsize=7)
        doc.save(folder / f"doc{n}.pdf")
    return folder


def test_kill_9_of_the_cli_leaves_no_workers_and_a_sound_database(tmp_path):
    folder = _pdfs(tmp_path / "pdfs", 6, 150)
    env = {"DOCSCOUT_DATA_DIR": str(tmp_path / "data")}
    proc = _cli(["ingest", str(folder), "-c", "c", "--workers", "2"], env)
    parent = psutil.Process(proc.pid)
    workers: list[psutil.Process] = []
    deadline = time.monotonic() + 60
    while len(workers) < 2 and time.monotonic() < deadline and proc.poll() is None:
        workers = parent.children(recursive=True)
        time.sleep(0.05)
    assert len(workers) >= 2, "the CLI never started its workers"
    time.sleep(0.5)  # let them get into their documents
    proc.kill()
    proc.wait()
    time.sleep(5)
    alive = [w.pid for w in workers if _alive(w)]
    assert alive == [], f"orphan workers 5 s after kill -9: {alive}"

    _integrity(tmp_path / "data" / "docscout.db")
    code, out, err = _run(["ingest", str(folder), "-c", "c", "--workers", "2"], env)
    assert code == 0 and "6 documents into 'c'" in out, out + err


def _alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


# --- concurrent ingests --------------------------------------------------------------------


def test_eight_concurrent_ingests_of_one_folder_on_a_fresh_database(tmp_path):
    """8 CLIs at once on a fresh data folder, the same files, one collection: none fails, and
    each document is stored once. DOCSCOUT_TEST_DATABASE_URL (CI sets it to a PostgreSQL
    database) replaces the default, a fresh SQLite file in tmp_path."""
    url = os.environ.get("DOCSCOUT_TEST_DATABASE_URL") or \
        f"sqlite:///{tmp_path / 'data' / 'docscout.db'}"
    collection = f"concurrent-{uuid.uuid4().hex[:8]}"  # a shared server may hold others
    folder = _texts(tmp_path / "docs", 5, 3_000, "shared")
    env = {"DOCSCOUT_DATA_DIR": str(tmp_path / "data"), "DOCSCOUT_DATABASE_URL": url}
    procs = [_cli(["ingest", str(folder), "-c", collection, "--workers", "1", "--json"], env)
             for _ in range(8)]
    results = [(p.wait(timeout=300), *p.communicate()) for p in procs]
    for code, out, err in results:
        assert code == 0 and "Traceback" not in err, err[-2000:]
        statuses = {o["source"]: o["status"] for o in json.loads(out)}
        assert len(statuses) == 5 and set(statuses.values()) <= {"ok", "unchanged"}, statuses

    store = Store(Settings(data_dir=tmp_path / "data", database_url=url))
    try:
        stored = store.documents(collection)
        assert sorted(d.source for d in stored) == [f"docs/shared-{i}.txt" for i in range(5)]
        assert {d.status for d in stored} == {Status.OK}
        for doc in stored:  # each document's segments are its own, once
            segments = store.segments(collection, doc.source)
            assert segments and segments[0].text.startswith(f"shared file {doc.source[-5]}")
    finally:
        store.delete_collection(collection)
        store.close()

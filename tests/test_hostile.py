"""The hostile-input suite: every case of tests/hostile_cases.py run alone and all of them as one
batch, each into a database already holding sample_docs, with integrity checks after each run:
sample_docs unchanged, the database sound, every stored document with its own bytes, and every
outcome a clear one-line answer (never a crash of the call)."""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from app.cli import cli
from core.domain import DocumentKind, SegmentKind, Status
from core.settings import Settings
from ingest.pipeline import Outcome, ingest_paths
from storage.repository import Store

from .conftest import SAMPLE_DOCS
from .hostile_cases import CASES, Case, remove_tree

MiB = 2**20
# Small limits, so that bombs and oversized members are caught in milliseconds.
LIMITS = dict(ocr=False, max_file_bytes=8 * MiB, max_expanded_bytes=48 * MiB,
              max_archive_members=100)


def _snapshot(store: Store, collection: str) -> dict:
    """What must not change: every document's bytes, status, tokens, segments and original."""
    out = {}
    for doc in store.documents(collection):
        segments = store.segments(collection, doc.source)
        original = store.original(collection, doc.source)
        out[doc.source] = (
            doc.sha256, doc.status, doc.text_tokens, doc.image_tokens,
            hashlib.sha256("\x00".join(s.text for s in segments).encode()).hexdigest(),
            hashlib.sha256(original.data).hexdigest() if original else None,
        )
    return out


@pytest.fixture(scope="module")
def baseline(tmp_path_factory) -> tuple[Path, dict]:
    """A data folder holding sample_docs as "Samples", made once and copied for each run."""
    data = tmp_path_factory.mktemp("hostile-baseline") / "data"
    settings = Settings(data_dir=data, workers=1, **LIMITS)
    store = Store(settings)
    ingest_paths([SAMPLE_DOCS], "Samples", store, settings)
    snapshot = _snapshot(store, "Samples")
    store.close()
    assert len(snapshot) == 6
    return data, snapshot


@pytest.fixture
def loaded(baseline, tmp_path):
    data, snapshot = baseline
    shutil.copytree(data, tmp_path / "data")
    settings = Settings(data_dir=tmp_path / "data", workers=1, **LIMITS)
    store = Store(settings)
    yield store, settings, snapshot
    store.close()
    remove_tree(tmp_path / "in")  # deep folders: pytest's own clean-up would recurse


def _assert_clear(outcomes: list[Outcome]) -> None:
    for o in outcomes:
        o.source.encode("utf-8")  # storable and printable: no lone surrogates
        if o.status == Status.FAILED:
            assert o.error and "\n" not in o.error and "Traceback" not in o.error, o


def _assert_intact(store: Store, settings: Settings, snapshot: dict) -> None:
    assert _snapshot(store, "Samples") == snapshot, "a stored document changed"
    with sqlite3.connect(settings.data_dir / "docscout.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []
    for doc in store.documents("hostile"):
        original = store.original("hostile", doc.source)
        if original is not None:  # the page previews show this document's own bytes
            assert hashlib.sha256(original.data).hexdigest() == doc.sha256, doc.source
        if doc.kind == DocumentKind.TEXT:  # its segments cite it, not another document
            segments = store.segments("hostile", doc.source)
            assert {s.locator.path for s in segments} <= {doc.source}, doc.source
            assert sum(s.tokens for s in segments if s.kind == SegmentKind.TEXT) == \
                doc.text_tokens


def _assert_expected(case: Case, outcomes: list[Outcome], store: Store) -> None:
    by_source = {o.source: o for o in outcomes}
    for source, (statuses, message) in case.expect.items():
        assert source in by_source, (source, sorted(by_source)[:20])
        outcome = by_source[source]
        assert outcome.status.value in statuses, (source, outcome)
        if message is not None:
            assert message in (outcome.message or ""), (source, outcome.message)
    if case.check is not None:
        case.check(by_source, store)


@pytest.mark.parametrize("name", list(CASES))
def test_each_hostile_input_alone(name, loaded, tmp_path):
    store, settings, snapshot = loaded
    folder = tmp_path / "in" / name
    folder.mkdir(parents=True)
    case = CASES[name](folder)
    outcomes = ingest_paths(case.paths, "hostile", store, settings)
    _assert_clear(outcomes)
    _assert_expected(case, outcomes, store)
    _assert_intact(store, settings, snapshot)


def test_all_hostile_inputs_as_one_batch(loaded, tmp_path):
    """One call with every case (and two workers): no input may cost another its outcome."""
    store, settings, snapshot = loaded
    settings = settings.model_copy(update={"workers": 2})
    cases = {}
    for name, make in CASES.items():
        folder = tmp_path / "in" / name
        folder.mkdir(parents=True)
        cases[name] = make(folder)
    paths = [path for case in cases.values() for path in case.paths]
    outcomes = ingest_paths(paths, "hostile", store, settings)
    _assert_clear(outcomes)
    for case in cases.values():
        _assert_expected(case, outcomes, store)
    _assert_intact(store, settings, snapshot)
    assert len(CASES) >= 40


def test_an_unreadable_sub_folder_is_a_failed_item_beside_the_rest(loaded, tmp_path,
                                                                   monkeypatch):
    store, settings, snapshot = loaded
    root = tmp_path / "in" / "permissions"
    (root / "locked").mkdir(parents=True)
    (root / "locked" / "inside.txt").write_text("behind a folder without read permission\n")
    (root / "open.txt").write_text("readable beside a locked folder\n")
    locked = root / "locked"
    if os.geteuid() == 0:  # root reads any folder: refuse it the way the kernel would
        real = os.scandir

        def scandir(path="."):
            if Path(path) == locked:
                raise PermissionError(13, "Permission denied", str(path))
            return real(path)

        monkeypatch.setattr(os, "scandir", scandir)
    else:
        locked.chmod(0)
    try:
        outcomes = {o.source: o for o in ingest_paths([root], "hostile", store, settings)}
    finally:
        locked.chmod(0o755)
    assert outcomes["permissions/open.txt"].status == Status.OK
    assert outcomes["permissions/locked"].status == Status.FAILED
    assert outcomes["permissions/locked"].error == "cannot read folder: Permission denied"
    _assert_intact(store, settings, snapshot)


def test_cli_reports_a_missing_path_and_ingests_the_readable_one(tmp_path, monkeypatch):
    monkeypatch.setenv("DOCSCOUT_DATA_DIR", str(tmp_path / "data"))
    readable = tmp_path / "readable.md"
    readable.write_text("# Readable\n\nbeside a missing path\n")
    result = CliRunner().invoke(cli, ["ingest", str(tmp_path / "missing.pdf"), str(readable),
                                      "--collection", "c"])
    assert result.exit_code == 1 and result.exception is None or \
        isinstance(result.exception, SystemExit), result.output
    assert "no such file or folder" in result.output
    assert "readable.md" in result.output and "2 documents into 'c': 1 ok, 1 failed" in \
        result.output

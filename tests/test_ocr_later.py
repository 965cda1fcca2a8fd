"""OCR in the background: documents are stored with their text layer first (searchable at once)
and their scanned pages and figures are OCRed afterwards (ingest.pipeline.run_ocr), by the CLI
or by the web UI's queue (ingest.background.OcrQueue)."""

from __future__ import annotations

import shutil

import pytest
from click.testing import CliRunner

from app.cli import cli
from core.domain import ParsedDocument, SegmentKind, Status
from core.settings import get_settings
from ingest.background import OcrQueue
from ingest.base import PARSER_VERSION
from ingest.ocr import FIGURE_HEADER, tessdata
from ingest.pipeline import ingest_paths, run_ocr, with_ocr
from storage.repository import Store

from .conftest import SAMPLE_DOCS
from .hostile_cases import pdf_bytes

pytestmark = pytest.mark.skipif(tessdata() is None, reason="Tesseract is not installed")

MEMO_WORDS = "roof membrane Building"  # only in the scanned memo's OCR text


def _stage(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir(parents=True)
    for name in ("report.pdf", "scanned_memo.pdf", "contract.pdf"):
        shutil.copy(SAMPLE_DOCS / name, folder / name)
    return folder


def _page_text(store: Store, collection: str, source: str, page: int) -> str:
    return "".join(s.text for s in store.segments(collection, source)
                   if s.kind == SegmentKind.TEXT and s.locator.page == page)


def test_text_layers_first_then_ocr_in_place(settings, tmp_path):
    store = Store(settings)
    outcomes = ingest_paths([_stage(tmp_path)], "C", store, settings, ocr_later=True)
    pending = {o.source: o.document.ocr_pending for o in outcomes}
    assert pending == {"in/contract.pdf": 0, "in/report.pdf": 2, "in/scanned_memo.pdf": 1}
    # Stored and searchable by its text layer; no OCR text yet.
    assert store.search("C", "Revenue by Quarter", 3)
    assert FIGURE_HEADER not in _page_text(store, "C", "in/report.pdf", 3)
    assert not store.search("C", MEMO_WORDS, 3)
    assert {d.source for d in store.pending_ocr("C")} == {"in/report.pdf", "in/scanned_memo.pdf"}
    before = {d.source: d for d in store.documents("C")}

    ocr = run_ocr(store, settings, "C")
    assert sorted((o.source, o.note) for o in ocr) == [
        ("in/report.pdf", "OCR read 2 pages"), ("in/scanned_memo.pdf", "OCR read 1 page")]
    assert store.pending_ocr() == []
    assert FIGURE_HEADER in _page_text(store, "C", "in/report.pdf", 3)
    [hit, *_] = store.search("C", MEMO_WORDS, 3)
    assert hit.source == "in/scanned_memo.pdf" and "$86,500" in hit.segment.text
    after = {d.source: d for d in store.documents("C")}
    assert after["in/contract.pdf"] == before["in/contract.pdf"]  # not touched
    assert after["in/report.pdf"].text_tokens > before["in/report.pdf"].text_tokens
    # What the user sees at the end: the ingest's outcomes with OCR's results in them.
    merged = {o.source: o for o in with_ocr(outcomes, ocr)}
    assert merged["in/scanned_memo.pdf"].document.ocr_pending == 0
    assert merged["in/scanned_memo.pdf"].note == "OCR read 1 page"
    assert run_ocr(store, settings, "C") == []  # nothing left: a second run does nothing
    # The same file ingested again is unchanged (its OCRed version stays).
    again = ingest_paths([_stage(tmp_path / "x")], "C", store, settings, ocr_later=True)
    assert all(o.status == Status.UNCHANGED for o in again)
    store.close()


def test_the_same_result_as_ocr_while_ingesting(settings, tmp_path):
    store = Store(settings)
    folder = _stage(tmp_path)
    ingest_paths([folder], "Later", store, settings, ocr_later=True)
    run_ocr(store, settings)
    ingest_paths([folder], "Now", store, settings)
    for source in ("in/report.pdf", "in/scanned_memo.pdf"):
        assert store.segments("Later", source) == store.segments("Now", source)
    store.close()


def test_a_document_deleted_or_replaced_before_its_ocr_is_left_alone(settings, tmp_path,
                                                                    monkeypatch):
    store = Store(settings)
    ingest_paths([_stage(tmp_path / "a")], "C", store, settings, ocr_later=True)
    stale = store.pending_ocr("C")  # what a run_ocr already under way has listed
    store.delete_document("C", "in/scanned_memo.pdf")
    newer = tmp_path / "b" / "in"
    newer.mkdir(parents=True)
    (newer / "report.pdf").write_bytes(pdf_bytes("A new report with no figures"))
    [replaced] = ingest_paths([newer], "C", store, settings, ocr_later=True)
    assert replaced.source == "in/report.pdf" and replaced.document.ocr_pending == 0

    monkeypatch.setattr(store, "pending_ocr", lambda collection=None: stale)
    counts = []
    notes = {o.source: (o.status, o.note) for o in run_ocr(
        store, settings, "C", lambda done, total, _: counts.append((done, total)))}
    assert counts == [(1, 2), (2, 2)]  # the skipped one counts as done too
    assert notes == {
        "in/scanned_memo.pdf": (Status.UNCHANGED,
                                "OCR skipped: the document or its kept copy is gone"),
        "in/report.pdf": (Status.UNCHANGED,
                          "OCR not needed any more: deleted, replaced or OCRed meanwhile"),
    }
    assert [d.source for d in store.documents("C")] == ["in/contract.pdf", "in/report.pdf"]
    assert "A new report" in _page_text(store, "C", "in/report.pdf", 1)  # the new version stays
    store.close()


def test_ocr_that_cannot_read_the_file_keeps_the_stored_version(settings, tmp_path):
    store = Store(settings)
    ingest_paths([_stage(tmp_path)], "C", store, settings, ocr_later=True)
    [memo] = [d for d in store.pending_ocr("C") if d.source.endswith("memo.pdf")]
    failed = ParsedDocument.failed(source=memo.source, kind=memo.kind, sha256=memo.sha256,
                                   error="the reader crashed")
    store.save_ocr("C", failed, PARSER_VERSION)
    [kept] = [d for d in store.documents("C") if d.source == memo.source]
    assert kept.ocr_pending == 0 and kept.status == Status.OK
    assert kept.error == "OCR failed: the reader crashed"
    assert store.segments("C", memo.source)  # its page image is still there
    store.close()


@pytest.fixture
def runner(settings, monkeypatch):
    monkeypatch.setenv("DOCSCOUT_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("DOCSCOUT_WORKERS", "1")
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def test_the_cli_stores_first_then_ocrs_and_ocr_finishes_what_was_left(settings, tmp_path,
                                                                       runner):
    folder = _stage(tmp_path)
    result = runner.invoke(cli, ["ingest", str(folder / "scanned_memo.pdf"), "-c", "Memos"])
    assert result.exit_code == 0, result.output
    assert "OCR of 1 scanned or figure page(s) in 1 document(s) follows" in result.stderr
    assert "OCR read 1 page" in result.stdout
    store = Store(settings)
    assert store.search("Memos", MEMO_WORDS, 3)
    # An ingest interrupted during OCR (here: OCR never ran) leaves it pending for `ocr`.
    ingest_paths([folder / "report.pdf"], "Memos", store, settings, ocr_later=True)
    docs = runner.invoke(cli, ["docs", "Memos"])
    assert "OCR pending: 2 pages" in docs.stdout
    done = runner.invoke(cli, ["ocr", "Memos"])
    assert done.exit_code == 0 and "OCR read 2 pages" in done.stdout
    assert "Nothing waits for OCR." in runner.invoke(cli, ["ocr"]).stdout
    store.close()


def test_the_background_queue_ocrs_what_is_pending(settings, tmp_path):
    store = Store(settings)
    ingest_paths([_stage(tmp_path)], "C", store, settings, ocr_later=True)
    queue = OcrQueue(store, settings, workers=1).wake()
    assert queue.wait(120)
    assert store.pending_ocr() == [] and not queue.busy
    assert sorted(o.note for o in queue.done) == ["OCR read 1 page", "OCR read 2 pages"]
    store.close()


def test_only_pages_that_ocr_would_read_are_counted_pending(settings):
    import io

    import pymupdf
    from PIL import Image as PILImage

    from ingest.base import FileInput
    from ingest.pdf import parse_pdf

    # A photo (a spread of colours) on a page with text: a figure page OCR skips.
    photo = PILImage.merge("RGB", [PILImage.linear_gradient("L").rotate(90).resize((300, 200)),
                                   PILImage.linear_gradient("L").resize((300, 200)),
                                   PILImage.radial_gradient("L").resize((300, 200))])
    out = io.BytesIO()
    photo.save(out, "PNG")
    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_text((72, 72), "A page about a landscape photograph")
    page.insert_image(pymupdf.Rect(50, 100, 350, 300), stream=out.getvalue())
    data = doc.tobytes()
    parsed = parse_pdf(FileInput("photo.pdf", data), settings, defer_ocr=True)
    assert parsed.segments[0].kind == SegmentKind.IMAGE  # a figure page, rendered
    assert parsed.document.ocr_pending == 0
    report = (SAMPLE_DOCS / "report.pdf").read_bytes()
    assert parse_pdf(FileInput("r.pdf", report), settings, defer_ocr=True).document.ocr_pending == 2
    off = settings.model_copy(update={"ocr_figures": False})
    assert parse_pdf(FileInput("r.pdf", report), off, defer_ocr=True).document.ocr_pending == 0

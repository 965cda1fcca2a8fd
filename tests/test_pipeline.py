"""The batch pipeline end to end: real files in, stored documents (or clear errors) out."""

from __future__ import annotations

import io
import os
import shutil
import tarfile
import zipfile
from pathlib import Path

import pytest

from core.domain import DocumentKind, SegmentKind, Status
from ingest import pipeline
from ingest.pipeline import ingest_paths
from storage.repository import Store

from .conftest import SAMPLE_DOCS
from .hostile_cases import pdf_bytes as _pdf_bytes

IGNORED_MARKER = "IGNORED-FILE-MARKER"


@pytest.fixture
def store(settings):
    s = Store(settings)
    yield s
    s.close()




@pytest.fixture
def samples(tmp_path: Path) -> Path:
    """sample_docs copied, plus the files sample_repo/.gitignore must keep out (git does not
    commit them, so a fresh clone lacks them)."""
    target = tmp_path / "sample_docs"
    shutil.copytree(SAMPLE_DOCS, target)
    repo = target / "sample_repo"
    (repo / "build").mkdir(exist_ok=True)
    for rel in ("debug.log", "build/output.txt", "secrets.env"):
        (repo / rel).write_text(f"{IGNORED_MARKER} must never be ingested\n")
    return target


def test_sample_docs_end_to_end(samples, store, settings):
    outcomes = ingest_paths([samples], "Samples", store, settings)
    by_source = {o.source: o for o in outcomes}
    assert set(by_source) == {
        "sample_docs/report.pdf", "sample_docs/contract.pdf", "sample_docs/scanned_memo.pdf",
        "sample_docs/charts/revenue_by_quarter.png", "sample_docs/charts/headcount_by_team.png",
        "sample_docs/sample_repo",
    }
    assert all(o.status == Status.OK for o in outcomes), [(o.source, o.error) for o in outcomes]

    report = store.segments("Samples", "sample_docs/report.pdf")
    image_pages = sorted(s.locator.page for s in report if s.kind == SegmentKind.IMAGE)
    assert image_pages == [3, 4, 5]  # two raster charts and the vector pie; not the table page
    page2 = next(s.text for s in report if s.kind == SegmentKind.TEXT and s.locator.page == 2)
    assert "| Region" in page2 and "43.2" in page2  # the ruled table as Markdown

    memo = store.segments("Samples", "sample_docs/scanned_memo.pdf")
    assert memo[0].kind == SegmentKind.IMAGE
    if shutil.which("tesseract"):
        assert "86,500" in " ".join(s.text for s in memo)

    repo_doc = by_source["sample_docs/sample_repo"].document
    assert repo_doc.kind == DocumentKind.CODE and repo_doc.files == 9
    code = store.segments("Samples", "sample_docs/sample_repo")
    assert code[0].locator.path == "."  # the tree overview comes first
    assert all(IGNORED_MARKER not in s.text for s in code)
    fees = next(s for s in code if s.locator.path == "shelfmark/fees.py")
    assert "compute_late_fee" in fees.text and fees.locator.line_start == 1

    docs = {d.source: d for d in store.documents("Samples")}
    assert docs["sample_docs/report.pdf"].pages == 5
    kept = store.original("Samples", "sample_docs/contract.pdf")  # for the UI's page previews
    assert kept.data == (samples / "contract.pdf").read_bytes()
    assert store.original("Samples", "sample_docs/sample_repo") is None
    assert docs["sample_docs/report.pdf"].image_tokens == sum(
        s.tokens for s in report if s.kind == SegmentKind.IMAGE) > 0

    again = ingest_paths([samples], "Samples", store, settings)
    assert {o.status for o in again} == {Status.UNCHANGED}


def test_one_bad_file_never_aborts_the_batch(tmp_path, store, settings):
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "good.pdf").write_bytes(_pdf_bytes("Revenue was 12 million."))
    (folder / "locked.pdf").write_bytes(_pdf_bytes("secret", password="s3cret"))
    (folder / "broken.pdf").write_bytes(b"%PDF-1.7\n" + os.urandom(2000))
    (folder / "empty.pdf").write_bytes(b"")
    (folder / "notes.md").write_text("# Notes\n\nThe budget is 5 dollars.\n")
    (folder / "slides.pptx").write_bytes(b"PK\x03\x04" + b"\x00" * 100)
    outcomes = {o.source: o for o in ingest_paths([folder], "c", store, settings)}
    assert outcomes["mixed/good.pdf"].status == Status.OK
    assert outcomes["mixed/notes.md"].status == Status.OK
    assert outcomes["mixed/locked.pdf"].status == Status.FAILED
    assert "password" in outcomes["mixed/locked.pdf"].error
    for name in ("mixed/broken.pdf", "mixed/empty.pdf", "mixed/slides.pptx"):
        assert outcomes[name].status == Status.FAILED and outcomes[name].error, name
    listed = {d.source: d.status for d in store.documents("c")}
    assert listed["mixed/good.pdf"] == Status.OK and listed["mixed/locked.pdf"] == Status.FAILED


def test_changed_file_replaces_and_failed_version_keeps_the_old(tmp_path, store, settings):
    path = tmp_path / "report.pdf"
    path.write_bytes(_pdf_bytes("first version"))
    ingest_paths([path], "c", store, settings)
    path.write_bytes(_pdf_bytes("second version"))
    [outcome] = ingest_paths([path], "c", store, settings)
    assert outcome.note == "replaced an older version"
    assert "second" in store.segments("c", "report.pdf")[0].text
    path.write_bytes(b"%PDF-1.7 garbage")
    [outcome] = ingest_paths([path], "c", store, settings)
    assert outcome.status == Status.FAILED and outcome.note == "the readable older version was kept"
    assert "second" in store.segments("c", "report.pdf")[0].text


def test_a_damaged_re_upload_keeps_the_good_version_unless_replace(tmp_path, store, settings):
    path = tmp_path / "report.pdf"
    good = _pdf_bytes(*(f"page {i} of the good upload " * 20 for i in range(6)))
    path.write_bytes(good)
    ingest_paths([path], "c", store, settings)
    path.write_bytes(good[: len(good) // 2])  # truncated: read partially, pages missing
    [kept] = ingest_paths([path], "c", store, settings)
    assert kept.status == Status.PARTIAL and "not stored: the stored version reads fully" in \
        kept.message and "--replace" in kept.message
    [doc] = store.documents("c")
    assert doc.status == Status.OK and store.original("c", "report.pdf").data == good
    [replaced] = ingest_paths([path], "c", store, settings, replace=True)
    assert replaced.status == Status.PARTIAL and replaced.note == "replaced an older version"
    assert store.documents("c")[0].status == Status.PARTIAL


def test_a_parser_version_bump_rereads_stored_files(tmp_path, store, settings, monkeypatch):
    path = tmp_path / "report.pdf"
    path.write_bytes(_pdf_bytes("Revenue was 12 million."))
    ingest_paths([path], "c", store, settings)
    [same] = ingest_paths([path], "c", store, settings)
    assert same.status == Status.UNCHANGED
    monkeypatch.setattr(pipeline, "PARSER_VERSION", pipeline.PARSER_VERSION + 1)
    [again] = ingest_paths([path], "c", store, settings)
    assert again.status == Status.OK and again.note == "replaced an older version"
    assert [d.source for d in store.documents("c")] == ["report.pdf"]
    [after] = ingest_paths([path], "c", store, settings)
    assert after.status == Status.UNCHANGED


def test_legal_archive_members_become_documents(tmp_path, store, settings):
    archive = tmp_path / "legal.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("contracts/nda.pdf", _pdf_bytes("Mutual NDA, term two years."))
        zf.writestr("contracts/msa.pdf", _pdf_bytes("Master services agreement."))
        zf.writestr("exhibits/chart.png", (SAMPLE_DOCS / "charts/revenue_by_quarter.png").read_bytes())
        zf.writestr("../../etc/passwd", "root:x:0:0")
    outcomes = {o.source: o for o in ingest_paths([archive], "legal", store, settings)}
    assert outcomes["legal.zip/contracts/nda.pdf"].status == Status.OK
    assert outcomes["legal.zip/contracts/msa.pdf"].status == Status.OK
    assert outcomes["legal.zip/exhibits/chart.png"].kind == DocumentKind.IMAGE
    refused = [o for o in outcomes.values() if o.status == Status.FAILED]
    assert len(refused) == 1 and "escapes" in refused[0].error


def test_code_archive_is_one_codebase(tmp_path, store, settings):
    archive = tmp_path / "repo.tar.gz"
    with tarfile.open(archive, "w:gz") as tf:
        tf.add(SAMPLE_DOCS / "sample_repo", arcname="shelfmark-main")
    [outcome] = ingest_paths([archive], "code", store, settings)
    assert outcome.status == Status.OK and outcome.kind == DocumentKind.CODE
    paths = {s.locator.path for s in store.segments("code", "repo.tar.gz")}
    assert "shelfmark/fees.py" in paths


def test_a_crashing_reader_fails_only_its_document(tmp_path, store, settings, monkeypatch):
    """A native crash (simulated by os._exit in the forked worker) costs one document."""
    real = pipeline.PARSERS["text"]

    def crash_on_bomb(file, settings):
        if "bomb" in file.name:
            os._exit(139)
        return real(file, settings)

    monkeypatch.setitem(pipeline.PARSERS, "text", crash_on_bomb)
    for i in range(4):
        (tmp_path / f"note{i}.txt").write_text(f"note number {i}")
    (tmp_path / "bomb.txt").write_text("boom")
    paths = sorted(tmp_path.glob("*.txt"))
    two_workers = settings.model_copy(update={"workers": 2})
    outcomes = {o.source: o for o in ingest_paths(paths, "c", store, two_workers)}
    assert outcomes["bomb.txt"].status == Status.FAILED and "crashed" in outcomes["bomb.txt"].error
    assert all(outcomes[f"note{i}.txt"].status == Status.OK for i in range(4))


# What the corpus's problem files must become; every other corpus PDF is ok.
CORPUS_EXPECTED = {
    "pdfs/password-example.pdf": (Status.FAILED, "password required"),
    "pdfs/empty.pdf": (Status.FAILED, "empty file"),
    "pdfs/issue-297-example.pdf": (Status.FAILED, "no readable content"),  # one blank page
    "pdfs/malformed-from-issue-932.pdf": (Status.PARTIAL, "page 1: malformed page box"),
    "pdfs/issue-848.pdf": (Status.PARTIAL, "the file is damaged"),
    # Byte for byte the same file as figure_structure.pdf: parsed once per batch.
    "pdfs/mcid_example.pdf": (Status.UNCHANGED, None),
}


@pytest.mark.corpus
def test_every_corpus_pdf_gets_a_clear_outcome(corpus_pdfs, store, settings):
    two_workers = settings.model_copy(update={"workers": 2, "ocr": False})
    outcomes = {o.source: o for o in ingest_paths([corpus_pdfs], "corpus", store, two_workers)}
    assert len(outcomes) == len(list(corpus_pdfs.glob("*.pdf")))
    for name, outcome in outcomes.items():
        status, message = CORPUS_EXPECTED.get(name, (Status.OK, None))
        assert outcome.status == status, (name, outcome.error)
        assert (outcome.error or "").startswith(message or ""), (name, outcome.error)
    listed = {d.source: d for d in store.documents("corpus")}
    assert listed["pdfs/password-example.pdf"].error.startswith("password required")
    assert sum(d.pages or 0 for d in listed.values()) >= 240


@pytest.mark.slow
def test_python_stdlib_zip_ingests_as_one_codebase(tmp_path, store, settings):
    import sysconfig

    stdlib = Path(sysconfig.get_paths()["stdlib"])
    archive = tmp_path / "stdlib.zip"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(stdlib.rglob("*.py")):
            rel = path.relative_to(stdlib)
            if "site-packages" not in rel.parts:
                zf.write(path, f"Lib/{rel.as_posix()}")
    archive.write_bytes(buffer.getvalue())
    [outcome] = ingest_paths([archive], "stdlib", store, settings)
    assert outcome.kind == DocumentKind.CODE and outcome.status in (Status.OK, Status.PARTIAL)
    assert outcome.document.files > 1000 and outcome.document.text_tokens > 1_000_000
    hits = store.search("stdlib", "OrderedDict")
    assert any(h.segment.locator.path == "collections/__init__.py" for h in hits)


def test_limits_and_links_are_refused_per_document(tmp_path, store, settings):
    small = settings.model_copy(update={"max_file_bytes": 2000})
    (tmp_path / "big.txt").write_text("x" * 5000)
    (tmp_path / "ok.txt").write_text("fine")
    (tmp_path / "link.txt").symlink_to(tmp_path / "ok.txt")
    outcomes = {o.source: o for o in ingest_paths(
        [tmp_path / "big.txt", tmp_path / "ok.txt", tmp_path / "link.txt"], "c", store, small)}
    assert outcomes["big.txt"].status == Status.FAILED
    assert outcomes["big.txt"].error.startswith("file too large")
    assert outcomes["link.txt"].error == "refused: symbolic link"
    assert outcomes["ok.txt"].status == Status.OK


def test_the_same_file_twice_in_one_batch_is_parsed_once(tmp_path, store, settings):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    for folder in ("a", "b"):
        (tmp_path / folder / "memo.txt").write_text("identical memo")
    outcomes = ingest_paths([tmp_path / "a", tmp_path / "b"], "c", store, settings)
    assert [(o.source, o.status) for o in outcomes] == [
        ("b/memo.txt", Status.UNCHANGED), ("a/memo.txt", Status.OK)]
    assert outcomes[0].note == "same content as a/memo.txt"
    assert [d.source for d in store.documents("c")] == ["a/memo.txt"]


def test_docscoutignore_keeps_files_and_folders_out(tmp_path, store, settings):
    docs = tmp_path / "docs"
    for rel in ("a.txt", "notes.tmp", "reports/spec.yaml", "sub/b.txt", "sub/c.txt",
                "sub/keep.tmp"):
        (docs / rel).parent.mkdir(parents=True, exist_ok=True)
        (docs / rel).write_text(f"{rel} has words\n")
    (docs / ".docscoutignore").write_text("# specs are not documents\nreports/\n*.tmp\n")
    (docs / "sub" / ".docscoutignore").write_text("b.txt\n!keep.tmp\n")
    outcomes = ingest_paths([docs], "c", store, settings)
    assert sorted(o.source for o in outcomes) == ["docs/a.txt", "docs/sub/c.txt",
                                                  "docs/sub/keep.tmp"]
    assert all(o.status == Status.OK for o in outcomes)


def test_a_file_named_pdf_that_is_not_one_says_what_it_is(tmp_path, store, settings):
    """Random bytes, a web page and a PNG named .pdf: the first two fail as PDFs with a message
    naming what the content is; the PNG is read as the image it is (content wins). Text named
    .png fails as an image the same way."""
    random_bytes = bytes((n * 167 + 13) % 256 for n in range(4000))  # no %PDF, NUL bytes
    (tmp_path / "bad.pdf").write_bytes(random_bytes)
    (tmp_path / "download.pdf").write_text("<!DOCTYPE html><html><body>Not found</body></html>")
    chart = SAMPLE_DOCS / "charts" / "revenue_by_quarter.png"
    (tmp_path / "chart.pdf").write_bytes(chart.read_bytes())
    (tmp_path / "scan.png").write_text("meeting notes")
    outcomes = {o.source: o for o in ingest_paths(
        [tmp_path / "bad.pdf", tmp_path / "download.pdf", tmp_path / "chart.pdf",
         tmp_path / "scan.png"], "c", store, settings)}
    bad, page = outcomes["bad.pdf"], outcomes["download.pdf"]
    assert (bad.status, bad.kind) == (Status.FAILED, DocumentKind.PDF)
    assert bad.error == ("not a PDF: the content does not start with %PDF- (it is unrecognised "
                         "binary data (damaged, or not a document))")
    assert (page.status, page.kind) == (Status.FAILED, DocumentKind.PDF)
    assert page.error.startswith("not a PDF") and page.error.endswith("(it is an HTML page)")
    assert (outcomes["chart.pdf"].status, outcomes["chart.pdf"].kind) == (
        Status.OK, DocumentKind.IMAGE)
    scan = outcomes["scan.png"]
    assert (scan.status, scan.kind) == (Status.FAILED, DocumentKind.IMAGE)
    assert scan.error == ("not a PNG: the content looks like text; DocScout reads PNG, JPEG, "
                          "GIF, WebP, TIFF and BMP images")
    stored = {d.source: d for d in store.documents("c")}
    assert (stored["bad.pdf"].kind, stored["bad.pdf"].error) == (DocumentKind.PDF, bad.error)

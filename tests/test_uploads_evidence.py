"""Upload staging (safe names, size limit) and citation evidence (page images, code lines)."""

from __future__ import annotations

import pytest

from app.evidence import claim_terms, evidence
from core.domain import Citation
from ingest.pipeline import ingest_paths
from ingest.uploads import safe_name, stage_uploads
from storage.repository import Store

from .conftest import SAMPLE_DOCS


@pytest.mark.parametrize("raw, clean", [
    ("report.pdf", "report.pdf"),
    ("../../etc/passwd", "passwd"),
    ("C:\\Users\\x\\deal memo.pdf", "deal memo.pdf"),
    (".bashrc", "bashrc"),
    ("a\x00b\x1b[31m.pdf", "ab_31m.pdf"),
    ("<img src=x onerror=alert(1)>.pdf", "_img src_x onerror_alert(1)_.pdf"),
    ("<script>alert(1)</script>.pdf", "script_.pdf"),  # "/" ends a folder
    ("..", "upload"),
    ("", "upload"),
    ("Ünïcödé–名前.pdf", "Ünïcödé_名前.pdf"),
])
def test_safe_names(raw, clean):
    assert safe_name(raw) == clean


def test_long_names_keep_their_extension():
    name = safe_name("x" * 500 + ".tar.gz")
    assert len(name) <= 120 and name.endswith(".gz")


def test_stage_uploads_dedupes_names_and_refuses_big_files(tmp_path):
    staged = stage_uploads([("a.pdf", b"1"), ("dir/a.pdf", b"2"), ("big.zip", b"x" * 2048)],
                           tmp_path, max_bytes=1024)
    assert [p.name for p in staged.paths] == ["a.pdf", "a (2).pdf"]
    assert [p.read_bytes() for p in staged.paths] == [b"1", b"2"]
    assert staged.refused[0][0] == "big.zip" and "upload limit" in staged.refused[0][1]
    assert all(p.parent == tmp_path for p in staged.paths)


def test_claim_terms_come_from_the_citing_sentence():
    text = "Revenue fell in 2023. Total revenue was $148.6 million in 2024 [D2 p.3]. Other [D1]."
    assert claim_terms(text, "[D2 p.3]") == ("148.6", "2024")
    assert claim_terms('The fee is "US$18,750 per month" [D1 p.1]', "[D1 p.1]") == (
        "18,750", "US$18,750 per month")
    assert claim_terms("Fees of 1,200 in total.", "[D9]") == ("1,200",)  # inferred: all of it


@pytest.fixture
def samples(settings):
    store = Store(settings)
    ingest_paths([SAMPLE_DOCS], "Samples", store, settings)
    yield store
    store.close()


def test_page_evidence_is_the_original_page_with_the_figure_marked(samples):
    cite = Citation("[D2 p.1]", "sample_docs/contract.pdf", page=1, valid=True)
    shown = evidence(samples, "Samples", cite, "The monthly fee is US$18,750 [D2 p.1].")
    assert shown.image[:8] == b"\x89PNG\r\n\x1a\n" and shown.highlights >= 1
    assert "18,750" in shown.text and shown.title == "sample_docs/contract.pdf p.1"


def test_page_evidence_without_an_original_falls_back_to_the_stored_image(settings):
    quiet = settings.model_copy(update={"keep_originals": False})
    store = Store(quiet)
    ingest_paths([SAMPLE_DOCS / "report.pdf"], "R", store, quiet)
    shown = evidence(store, "R", Citation("[D1 p.3]", "report.pdf", page=3, valid=True))
    assert shown.image[:2] == b"\xff\xd8" and "stored at ingestion" in shown.note  # a JPEG
    text_only = evidence(store, "R", Citation("[D1 p.1]", "report.pdf", page=1, valid=True))
    assert text_only.image is None and "showing its text" in text_only.note and text_only.text
    store.close()


def test_code_evidence_shows_the_cited_lines_numbered(samples):
    cite = Citation("[shelfmark/fees.py:3-5]", "sample_docs/sample_repo",
                    path="shelfmark/fees.py", line_start=3, line_end=5, valid=True)
    shown = evidence(samples, "Samples", cite)
    lines = shown.text.splitlines()
    assert lines[0] == "File: shelfmark/fees.py" and lines[1].startswith("1| ")
    assert lines[-1].startswith("7| ") and shown.language == "python"


def test_invalid_citations_show_nothing(samples):
    shown = evidence(samples, "Samples", Citation("[D9 p.4]", None, page=4))
    assert shown.image is None and shown.text is None and "nothing the model read" in shown.note

"""The Library and Reports pages under `streamlit.testing.v1.AppTest` (real store and ingestion,
FakeBackend behind the real Analyst): what users typed is never rendered as Markdown, the upload
box empties after an ingest, and a report is shown in the page with its failures counted."""

from __future__ import annotations

import re

from streamlit.testing.v1 import AppTest

from app.reports import parse_spec
from core.domain import StopReason
from engine.backends import Generation

from .conftest import ui_page

# An image that would be fetched, a link, HTML and a Streamlit colour directive.
HOSTILE = "![x](http://127.0.0.1:8999/t.png) [link](http://x) <b>html</b> :red[red]"
RAW = ("![x](", "](http://", "<b>html</b>", ":red[red]", ":red[")


def _rendered(at: AppTest) -> list[str]:
    """Every text of the page that Streamlit renders as Markdown: bodies, headers, captions,
    alerts, and the labels of expanders, buttons, checkboxes, progress bars and downloads."""
    texts = [e.value for kind in ("markdown", "caption", "title", "header", "subheader", "error",
                                  "warning", "info", "success") for e in getattr(at, kind)]
    texts += [e.label for kind in ("expander", "button", "checkbox", "text_input", "text_area",
                                   "selectbox") for e in getattr(at, kind)]
    texts += [e.proto.text for e in at.get("progress")]
    texts += [e.proto.label for e in at.get("download_button")]
    return texts


def _shows_nothing_raw(at: AppTest) -> None:
    for text in _rendered(at):
        assert not any(raw in text for raw in RAW), text


def test_library_shows_a_hostile_collection_name_literally(fake):
    services, _ = fake
    services.store.ensure_collection(HOSTILE)
    at = ui_page("library")
    at.session_state["collection"] = HOSTILE
    at.run()
    assert not at.exception, at.exception
    assert at.selectbox(key="collection-picker").value == HOSTILE  # a select box: plain text
    [subheader] = [s.value for s in at.subheader if s.value.startswith("Add documents")]
    assert subheader.replace("\\", "").replace("\u200b", "") == f"Add documents to “{HOSTILE}”"
    assert any(e.label.replace("\\", "").replace("\u200b", "")
               == f"Delete the collection “{HOSTILE}”" for e in at.expander)
    _shows_nothing_raw(at)

    # A file whose name is hostile too (ingest.uploads keeps only safe characters of it): the
    # outcome shown after the upload is literal.
    name = "![x](y) :red[red] <b>.md"
    at.file_uploader[0].set_value((name, b"# Notes\n\nThe budget is 5 dollars.\n",
                                   "text/markdown")).run()
    at.button(key="ingest").click().run()
    assert not at.exception, at.exception
    [stored] = services.store.documents(HOSTILE)  # under its safe name (ingest.uploads)
    assert any(f"{stored.source}: ok" in m.value.replace("\\", "") for m in at.markdown)
    _shows_nothing_raw(at)


def test_the_upload_box_empties_after_an_ingest(fake):
    services, _ = fake
    at = ui_page("library").run()
    [box] = at.file_uploader
    box.set_value(("notes.md", b"# Notes\n\nThe budget is 5 dollars.\n", "text/markdown")).run()
    at.button(key="ingest").click().run()
    assert not at.exception, at.exception
    [fresh] = at.file_uploader
    assert fresh.key != box.key and not fresh.value  # a new, empty box
    assert not [b for b in at.button if b.key == "ingest"]  # nothing left to ingest again
    assert any("notes.md: ok" in m.value.replace("\\", "") for m in at.markdown)
    assert any(c.value == "Done: 1 document, 0 failed" for c in at.caption)
    at.run()  # another click anywhere does not ingest the same files again
    sources = [d.source for d in services.store.documents("Deal")]
    assert sources.count("notes.md") == 1


def test_library_table_shows_a_count_for_every_document(fake):
    at = ui_page("library").run()
    table = at.dataframe[0].value
    counts = dict(zip(table["document"], table["pages/files"]))
    assert counts == {"contract.pdf": 2, "charts/revenue_by_quarter.png": 1,
                      "charts/headcount_by_team.png": 1}


def test_reports_page_shows_the_report_and_counts_a_looping_answer_as_failed(fake):
    services, backend = fake
    title = "Fees ![i](http://127.0.0.1:8999/t.png) <b>html</b> :red[red]"
    at = ui_page("reports").run()
    at.text_area(key="spec").input(
        f"title: \"{title}\"\ncollection: Deal\nsections:\n  - heading: Money\n    questions:\n"
        "      - What is the monthly fee?\n      - What is the onboarding fee?\n")
    backend.enqueue("The monthly fee is US$18,750 [D3 p.1].",
                    Generation("The fee is due. The fee is due.", stop_reason=StopReason.LOOP))
    at.button(key="run-report").click().run(timeout=120)
    assert not at.exception, at.exception
    [stored] = services.store.reports("Deal")
    assert (stored.questions, stored.failed) == (2, 1)
    [bar] = at.get("progress")
    assert bar.proto.text == "Done: 1 of 2 questions answered, 1 failed"
    [shown] = at.get("html")  # the stored HTML, DOMPurify-sanitised by st.html, no Markdown
    body = shown.value
    assert "<h1>Fees ![i](http://127.0.0.1:8999/t.png) &lt;b&gt;html&lt;/b&gt; :red[red]</h1>" \
        in body
    assert "1 of 2 questions answered" in body and "the model started repeating itself" in body
    assert not re.search(r"<img(?![^>]*src=\"data:)", body)  # only inline thumbnails
    assert "<script" not in body and "<html" not in body  # the page's body, not a page
    assert at.selectbox(key="report-shown").value == stored.id
    assert {b.proto.label for b in at.get("download_button")} == {
        "report.md", "report.html", "report.pdf"}
    _shows_nothing_raw(at)


def test_reports_page_with_a_hostile_collection_name(fake):
    services, _ = fake
    services.store.ensure_collection(HOSTILE)
    at = ui_page("reports")
    at.session_state["collection"] = HOSTILE
    at.run()
    assert not at.exception, at.exception
    spec = parse_spec(at.text_area(key="spec").value, "the spec", [HOSTILE])  # valid YAML
    assert spec.collection == HOSTILE and spec.title == f"{HOSTILE} findings"
    _shows_nothing_raw(at)


def test_an_upload_is_stored_at_once_and_ocred_in_the_background(fake):
    from ingest.background import OcrQueue

    from .conftest import SAMPLE_DOCS

    services, _ = fake
    services.ocr = OcrQueue(services.store, services.settings, workers=1)
    at = ui_page("library").run()
    data = (SAMPLE_DOCS / "scanned_memo.pdf").read_bytes()
    at.file_uploader[0].set_value(("memo.pdf", data, "application/pdf")).run()
    at.button(key="ingest").click().run(timeout=60)
    assert not at.exception, at.exception
    assert any(c.value == "Done: 1 document, 0 failed" for c in at.caption)
    assert services.ocr.wait(120)  # woken by the upload
    [memo] = [d for d in services.store.documents("Deal") if d.source == "memo.pdf"]
    assert memo.ocr_pending == 0 and memo.text_tokens > 0
    assert services.store.search("Deal", "roof membrane", 3)[0].source == "memo.pdf"
    at.run()
    assert "OCR" not in at.dataframe[0].value  # nothing pending: no OCR column


def test_library_says_what_ocr_still_has_to_read(fake):
    services, _ = fake
    from ingest.pipeline import ingest_paths, run_ocr

    from .conftest import SAMPLE_DOCS

    ingest_paths([SAMPLE_DOCS / "report.pdf"], "Deal", services.store, services.settings,
                 ocr_later=True)  # no queue: it stays pending
    at = ui_page("library").run()
    table = at.dataframe[0].value
    ocr = dict(zip(table["document"], table["OCR"]))
    assert ocr["report.pdf"] == "OCR pending: 2 pages" and ocr["contract.pdf"] == "done"
    assert any("OCR is reading 2 scanned or figure page(s) in the background" in c.value
               for c in at.caption)
    ask = ui_page("ask").run()
    assert any("OCR is still reading 2 scanned or figure page(s)" in c.value for c in ask.caption)
    run_ocr(services.store, services.settings, "Deal")
    assert not any("OCR" in c.value for c in ui_page("ask").run().caption)

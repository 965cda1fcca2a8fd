"""Reports: write or load a spec, run it over the collection with progress per answer, read a
stored report in the page, and download its Markdown, HTML and PDF."""

from __future__ import annotations

import json

import streamlit as st

from app.escape import literal
from app.reports import create_report, page_body, parse_spec, report_css
from app.ui.services import services
from app.ui.widgets import engine_status, error_box, pick_collection
from core.domain import ReportInfo
from core.errors import EngineError, SpecError

TEMPLATE = """title: {title}
collection: {collection}
sections:
  - heading: Key facts
    questions:
      - What are the main figures in these documents?
"""
MIME = {"md": "text/markdown", "html": "text/html", "pdf": "application/pdf"}
# The report is shown from its stored HTML, not its Markdown: report.md escapes what CommonMark
# would turn into links, images, HTML or LaTeX, but Streamlit's Markdown has directives of its
# own (`:red[...]`, `:material/...:` icons, emoji codes) that an answer or a document could
# still trigger. The HTML was rendered with everything from the spec, the model and the
# documents escaped (Jinja2 autoescape, app.escape.answer_html: no link or image but the
# footnotes' own anchors and data: thumbnails), and st.html runs it through DOMPurify and
# executes no script: nothing in it is active and nothing is fetched. Its styles are the report
# file's own (app.reports.report_css), every rule scoped to the wrapping element.


def _template(collection: str) -> str:
    """A first spec for the collection; its name quoted (a JSON string is a YAML one), so any
    name makes valid YAML."""
    return TEMPLATE.format(title=json.dumps(f"{collection} findings", ensure_ascii=False),
                           collection=json.dumps(collection, ensure_ascii=False))


def _choice(report: ReportInfo) -> str:
    """A stored report in the picker (a selectbox shows its options as plain text)."""
    return (f"{report.title} · {report.created_at:%Y-%m-%d %H:%M} · {report.status.value}, "
            f"{report.questions - report.failed} of {report.questions} answered")


svc = services()
engine_status()
st.title("Reports")
info = pick_collection()
if info is None:
    st.stop()
collection = info.name

with st.expander("New report", expanded=not svc.store.reports(collection)):
    spec_text = st.text_area("Report spec (YAML: title, collection, sections with questions)",
                             _template(collection), height=260, key="spec")
    status = svc.host.status()
    run = st.button("Run report", type="primary", disabled=not status.usable, key="run-report",
                    help=None if status.usable else f"The engine is {status.state.value}.")
    if run:
        try:
            spec = parse_spec(spec_text, "the spec", [c.name for c in svc.store.collections()])
        except SpecError as exc:
            error_box(exc)
        else:
            bar = st.progress(0.0, text="Starting…")

            def progress(done: int, total: int, message: str) -> None:
                """Called as each answer of the batch comes back, then while rendering."""
                bar.progress(min(done / max(total, 1), 1.0), text=literal(message))

            try:
                stored = create_report(svc.host.analyst, spec, progress)
            except EngineError as exc:
                error_box(exc)
            else:
                made = stored.info
                bar.progress(1.0, text=f"Done: {made.questions - made.failed} of "
                             f"{made.questions} questions answered, {made.failed} failed")
                st.session_state["report-shown"] = made.id

st.subheader("Stored reports")
reports = svc.store.reports(collection)
if not reports:
    st.info("No report for this collection yet.")
    st.stop()
by_id = {r.id: r for r in reports}
if st.session_state.get("report-shown") not in by_id:  # a new report, or another collection
    st.session_state["report-shown"] = reports[0].id
shown = by_id[st.selectbox("Report", list(by_id), format_func=lambda i: _choice(by_id[i]),
                           key="report-shown")]
stored = svc.store.report(shown.id)
st.caption(literal(f"{shown.created_at:%Y-%m-%d %H:%M} · {shown.status.value} · "
                   f"{shown.questions} questions, {shown.failed} failed · {shown.model} · "
                   f"{shown.elapsed_s:.1f} s"))
columns = st.columns(3)
for column, (kind, data) in zip(columns, [("md", stored.report.markdown),
                                          ("html", stored.report.html),
                                          ("pdf", stored.report.pdf)]):
    column.download_button(f"report.{kind}", data, file_name=f"report.{kind}", mime=MIME[kind],
                           key=f"dl-{shown.id}-{kind}", on_click="ignore")
with st.container(border=True):
    st.html(f'<style>{report_css()}</style>'
            f'<div class="docscout-report">{page_body(stored.report.html)}</div>')

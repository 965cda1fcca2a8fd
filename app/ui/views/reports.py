"""Reports: write or load a spec, run it over the collection with progress, download the
Markdown, HTML and PDF of every stored report."""

from __future__ import annotations

import streamlit as st

from app.escape import literal
from app.reports import create_report, parse_spec
from app.ui.services import services
from app.ui.widgets import engine_status, error_box, pick_collection
from core.errors import EngineError, SpecError

TEMPLATE = """title: {collection} findings
collection: {collection}
sections:
  - heading: Key facts
    questions:
      - What are the main figures in these documents?
"""
MIME = {"md": "text/markdown", "html": "text/html", "pdf": "application/pdf"}

svc = services()
engine_status()
st.title("Reports")
info = pick_collection()
if info is None:
    st.stop()
collection = info.name

with st.expander("New report", expanded=not svc.store.reports(collection)):
    spec_text = st.text_area("Report spec (YAML: title, collection, sections with questions)",
                             TEMPLATE.format(collection=collection), height=260, key="spec")
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
                bar.progress(min(done / max(total, 1), 1.0), text=literal(message))

            try:
                stored = create_report(svc.host.analyst, spec, progress)
            except EngineError as exc:
                error_box(exc)
            else:
                bar.progress(1.0, text=f"Done: {stored.info.questions} questions, "
                             f"{stored.info.failed} failed")

st.subheader("Stored reports")
reports = svc.store.reports(collection)
if not reports:
    st.info("No report for this collection yet.")
for report in reports:
    with st.container(border=True):
        st.markdown(f"**{literal(report.title)}**")
        st.caption(f"{report.created_at:%Y-%m-%d %H:%M} · {report.status.value} · "
                   f"{report.questions} questions, {report.failed} failed · {report.model} · "
                   f"{report.elapsed_s:.1f} s")
        stored = svc.store.report(report.id)
        columns = st.columns(3)
        for column, (kind, data) in zip(columns, [("md", stored.report.markdown),
                                                  ("html", stored.report.html),
                                                  ("pdf", stored.report.pdf)]):
            column.download_button(f"report.{kind}", data, file_name=f"report.{kind}",
                                   mime=MIME[kind], key=f"dl-{report.id}-{kind}",
                                   on_click="ignore")

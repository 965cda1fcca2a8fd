"""Library: create, pick and delete collections; upload files (archives too) with per-file and
overall progress; the documents table; delete a document.

Collection and file names are anyone's: every place Streamlit renders as Markdown (headers,
expander and button labels, captions, progress text, messages) shows them through
app.escape.literal; tables and select boxes show plain text."""

from __future__ import annotations

import tempfile
from pathlib import Path

import streamlit as st

from app.escape import literal
from app.tables import extent, ocr_pending
from app.ui.services import services
from app.ui.widgets import engine_status, error_box, pick_collection
from core.errors import StorageError
from ingest.pipeline import Outcome, ingest_paths
from ingest.uploads import stage_uploads

STATUS_ICON = {"ok": ":material/check_circle:", "partial": ":material/warning:",
               "failed": ":material/error:", "unchanged": ":material/sync:"}


def _line(outcome: Outcome) -> str:
    """One upload's state; names and errors come from users' files, so they are shown plain."""
    text = f"{outcome.source}: {outcome.status.value}"
    if outcome.message:
        text += f" ({outcome.message})"
    return f"{STATUS_ICON.get(outcome.status.value, '•')} {literal(text)}"


svc = services()
engine_status()
st.title("Library")

with st.sidebar.expander("New collection"):
    with st.form("new-collection", clear_on_submit=True, border=False):
        name = st.text_input("Name", max_chars=200, key="new-collection-name")
        if st.form_submit_button("Create", key="create-collection") and name.strip():
            try:
                svc.store.ensure_collection(name)
                st.session_state["collection"] = name.strip()
            except StorageError as exc:  # shown in the form; the page goes on
                error_box(exc)

info = pick_collection()
if info is None:
    st.stop()
collection = info.name

st.subheader(f"Add documents to “{literal(collection)}”")
limit_mb = svc.settings.max_upload_mb
# A new key after each ingest empties the upload box, so the next click cannot ingest the same
# files again.
uploads = st.session_state.setdefault("upload-round", 0)
files = st.file_uploader(
    "PDFs, images, text, code files, and zip or tar archives (of code or of documents)",
    accept_multiple_files=True, max_upload_size=limit_mb, key=f"uploads-{collection}-{uploads}",
    help=f"Up to {limit_mb} MB per file (DOCSCOUT_MAX_UPLOAD_MB).")
last = st.session_state.get("ingested")
if last is not None and last[0] == collection and not files:  # the last upload's outcome
    st.markdown(last[1])
    st.caption(last[2])
if files and st.button(f"Ingest {len(files)} file(s)", type="primary", key="ingest"):
    rows = st.empty()
    overall = st.progress(0.0, text="Reading files…")
    rows.markdown("  \n".join(f":material/hourglass_top: {literal(f.name)}: waiting" for f in files))
    done: list[Outcome] = []

    def progress(count: int, total: int, outcome: Outcome) -> None:
        done.append(outcome)
        overall.progress(count / max(total, 1), text=f"{count} of {total} documents stored")
        waiting = [f":material/hourglass_top: {total - count} more being read…"] if count < total else []
        rows.markdown("  \n".join([_line(o) for o in done] + waiting))

    with tempfile.TemporaryDirectory(prefix="docscout-upload-") as folder:
        staged = stage_uploads([(f.name, f.getvalue()) for f in files], Path(folder),
                               limit_mb * 2**20)
        refused = [literal(f"{name}: {why}") for name, why in staged.refused]
        for line in refused:
            st.error(line, icon=":material/error:")
        # Text layers first; scanned pages and figures are OCRed by the background queue.
        later = svc.ocr is not None and svc.settings.ocr_later
        outcomes = ingest_paths(staged.paths, collection, svc.store, svc.settings, progress,
                                ocr_later=later)
    if later and any(o.document and o.document.ocr_pending for o in outcomes):
        svc.ocr.wake()
    failed = sum(o.status.value == "failed" for o in outcomes)
    # Shown after the rerun that empties the upload box, until the next upload.
    lines = [f":material/block: {line}" for line in refused] + [_line(o) for o in outcomes]
    st.session_state["ingested"] = (collection, "  \n".join(lines),
                                    f"Done: {len(outcomes)} document"
                                    f"{'' if len(outcomes) == 1 else 's'}, {failed} failed")
    st.session_state["upload-round"] = uploads + 1
    st.rerun()

st.subheader("Documents")
documents = svc.store.documents(collection)


# While OCR has pages left to read in the background, the table refreshes itself to follow it.
@st.fragment(run_every=3.0 if any(d.ocr_pending for d in documents) else None)
def _documents_table() -> None:
    documents = svc.store.documents(collection)
    if not documents:
        st.info("No documents yet.")
        return
    pages = sum(d.ocr_pending for d in documents)
    rows = [{"document": d.source, "kind": d.kind.value, "pages/files": extent(d),
             "text tokens": d.text_tokens, "image tokens": d.image_tokens,
             "status": d.status.value, "error": d.error or ""} for d in documents]
    if pages:  # a column only while OCR has something left to read
        rows = [{**row, "OCR": ocr_pending(d) or "done"} for row, d in zip(rows, documents)]
    st.dataframe(rows, hide_index=True, key="documents")
    st.caption(f"{len(documents)} documents · {sum(d.text_tokens for d in documents):,} text "
               f"tokens · {sum(d.image_tokens for d in documents):,} image tokens")
    if pages:
        st.caption(f":material/hourglass_top: OCR is reading {pages} scanned or figure page(s) "
                   "in the background. The documents can be asked already; that text joins "
                   "them as it is read.")


_documents_table()
if documents:
    with st.expander("Delete a document"):
        doomed = st.selectbox("Document", [d.source for d in documents], key="delete-doc")
        if st.button("Delete document", key="delete-doc-button"):
            svc.store.delete_document(collection, doomed)
            st.rerun()

with st.expander(f"Delete the collection “{literal(collection)}”"):
    sure = st.checkbox("Yes, delete it with all its documents and history", key="delete-coll-ok")
    if st.button("Delete collection", disabled=not sure, key="delete-coll"):
        svc.store.delete_collection(collection)
        st.session_state.pop("collection", None)
        st.rerun()

"""Pieces shared by the pages: the engine's state, the collection picker, an answer with its
citation chips, previews and usage. Presentation only: every fact comes from engine or storage."""

from __future__ import annotations

import streamlit as st

from app.escape import literal
from app.evidence import evidence
from app.runtime import EngineState, EngineStatus
from app.tables import usage_line
from app.ui.services import services
from core.domain import Answer, Citation, CollectionInfo, Mode, StopReason
from core.errors import DocScoutError, EngineError

STATE_LOOK = {  # Material icons ship with Streamlit; emoji need fonts a server may lack
    EngineState.LOADING: (":material/hourglass_top:", "orange"),
    EngineState.READY: (":material/check_circle:", "green"),
    EngineState.REMOTE: (":material/cloud:", "blue"),
    EngineState.ERROR: (":material/error:", "red"),
}
WARNING = ":material/warning:"
STOPPED = (StopReason.CANCELLED, StopReason.LOOP, StopReason.TIMEOUT)  # text kept, marked
FOUND = ":material/manage_search:"


def error_box(exc: DocScoutError) -> None:
    """A DocScout error as the user sees it everywhere in the UI: one line, shown literally (a
    collection or file name in the message is never rendered as Markdown)."""
    st.error(literal(str(exc)), icon=":material/error:")


def engine_status() -> None:
    """The engine's state in the sidebar, refreshed every few seconds; a change of state reruns
    the page so that its controls follow."""
    with st.sidebar:
        _engine_fragment()


@st.fragment(run_every=2.0)
def _engine_fragment() -> None:
    status = services().host.status()
    icon, colour = STATE_LOOK[status.state]
    st.markdown(f"**Engine** :{colour}-badge[{icon} {status.state.value}]")
    st.caption(literal(_describe(status)))
    if status.state == EngineState.ERROR and st.button("Retry loading", key="engine-retry"):
        services().host.start()
        st.rerun()
    seen = st.session_state.get("engine-state")
    st.session_state["engine-state"] = status.state
    if seen is not None and seen != status.state:
        st.rerun(scope="app")


def _describe(status: EngineStatus) -> str:
    window = f", window {status.max_model_len:,} tokens" if status.max_model_len else ""
    if status.state == EngineState.LOADING:
        return f"{status.detail} ({status.seconds:.0f} s)"
    return f"{status.profile}{window}: {status.detail}"


def pick_collection(label: str = "Collection") -> CollectionInfo | None:
    """The sidebar's collection choice, shared by every page of a session."""
    infos = services().store.collections()
    if not infos:
        st.sidebar.info("No collection yet: create one on the Library page.")
        return None
    names = [i.name for i in infos]
    wanted = st.session_state.get("collection")
    # The choice lives under "collection", which survives page switches (widget keys do not).
    st.session_state["collection-picker"] = wanted if wanted in names else names[0]
    name = st.sidebar.selectbox(label, names, key="collection-picker", on_change=_picked)
    st.session_state["collection"] = name
    return next(i for i in infos if i.name == name)


def _picked() -> None:
    st.session_state["collection"] = st.session_state["collection-picker"]


SKIPPED = " of text (images skipped: this model reads text only)"  # a text-only model


def context_meter(info: CollectionInfo) -> None:
    """Collection size against the model's window, and the mode a question will read it in, as
    the engine decides it (Analyst.plan); before the engine is loaded, ingestion's Llama 4
    counts. For a text-only model the size is the text's, as the answers' "read 100% of its
    text" counts it (images are never in its prompt)."""
    status = services().host.status()
    if not status.usable:
        text_only = status.vision is False and info.image_tokens > 0
        size = info.text_tokens + (0 if status.vision is False else info.image_tokens)
        st.caption(f"Collection ≈{size:,} tokens{SKIPPED if text_only else ''}; the model's "
                   "window is known once the engine is loaded.")
        return
    try:
        mode, size, budget, skipped = _reading(
            services().store.url, info.name, info.documents, info.text_tokens,
            info.image_tokens, status.profile)
    except EngineError as exc:  # the page goes on: the question box says the same when used
        st.caption(literal(f"Collection size unknown: {exc}"))
        return
    whole = "all of its text" if skipped else "all of it"
    st.progress(min(size / max(budget, 1), 1.0),
                text=f"Collection {size:,} tokens{SKIPPED if skipped else ''} of the {budget:,} "
                f"that {status.profile}'s window leaves a question: " + (
                    f"the model reads {whole} (full mode)" if mode == Mode.FULL else
                    "each question reads its most relevant pages and files (focused mode)"))


@st.cache_data(max_entries=64, show_spinner=False)
def _reading(database: str, collection: str, documents: int, text_tokens: int,
             image_tokens: int, profile: str) -> tuple[Mode, int, int, int]:
    """How the engine reads the collection in auto mode: (mode, the tokens it can read, the
    budget, the tokens of what it cannot read: images, for a text-only model). Cached per
    database, collection state (the counts change whenever a document does) and model."""
    context = services().host.analyst.plan(collection, "")[0]
    return context.mode, context.collection_tokens, context.budget, context.skipped_tokens


def chip(citation: Citation) -> str:
    """A citation chip's label (Markdown), naming what it points to ("contract.pdf p.1",
    "src/app.py:10-42"); flagged with the model's own label when it points nowhere, marked when
    DocScout inferred it."""
    if not citation.valid or citation.document is None:
        return f"{WARNING} {literal(citation.label)}"
    return f"{FOUND} {literal(place(citation))}" if citation.inferred \
        else literal(place(citation))


def place(citation: Citation) -> str:
    """Where a valid citation points, in words a reader knows: the document's name and page, a
    source file's path and lines, a text document's lines."""
    lines = (f"{citation.line_start}-{citation.line_end}"
             if citation.line_start is not None else "")
    if citation.path:
        return f"{citation.path}:{lines}" if lines else citation.path
    if citation.page is not None:
        return f"{citation.document} p.{citation.page}"
    return f"{citation.document} lines {lines}" if lines else str(citation.document)


def answer_body(answer: Answer, collection: str, key: str) -> None:
    """An answer's text, its citations as chips, the chosen one's preview, a copy button and
    its usage; a failed or stopped answer's error (and what it said before, marked)."""
    if answer.error:
        if answer.text.strip():  # stopped, looping or timed out after some text: kept, marked
            st.markdown(literal(answer.text))
        if answer.stop_reason in STOPPED:
            st.warning(f"No complete answer: {literal(answer.error)}", icon=WARNING)
        else:
            st.error(f"No answer: {literal(answer.error)}", icon=":material/error:")
        st.caption(literal(usage_line(answer)))
        return
    st.markdown(literal(answer.text))
    citations = list(dict.fromkeys(answer.citations))
    if citations:
        inferred = all(c.inferred for c in citations)
        picked = st.pills(
            "Sources found by DocScout" if inferred else "Citations", range(len(citations)),
            selection_mode="single", format_func=lambda i: chip(citations[i]), key=f"chips-{key}",
            help="The model cited nothing; these pages hold the figures of its answer."
            if inferred else "A warning sign marks a citation that points to nothing the model "
            "read.")
        if picked is not None:
            preview(collection, citations[picked], answer.text)
    with st.popover("Copy", icon=":material/content_copy:"):
        st.code(answer.text, language=None, wrap_lines=True)  # its corner button copies it
    st.caption(literal(usage_line(answer)))


def preview(collection: str, citation: Citation, answer_text: str) -> None:
    shown = evidence(services().store, collection, citation, answer_text)
    with st.container(border=True):
        st.markdown(f"**{literal(shown.title)}**")
        if shown.note:
            st.caption(literal(shown.note))
        if shown.image is not None:
            caption = (f"{shown.highlights} match(es) of the answer's figures highlighted"
                       if shown.highlights else None)
            st.image(shown.image, caption=caption, width=760)
        if shown.text and (shown.language is not None or shown.image is None):
            st.code(shown.text, language=shown.language or None, line_numbers=False)
        elif shown.text:
            with st.expander("Page text"):
                st.text(shown.text)

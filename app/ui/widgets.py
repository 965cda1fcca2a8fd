"""Pieces shared by the pages: the engine's state, the collection picker, an answer with its
citation chips, previews and usage. Presentation only: every fact comes from engine or storage."""

from __future__ import annotations

import streamlit as st

from app.escape import literal
from app.evidence import evidence
from app.runtime import EngineState, EngineStatus
from app.tables import usage_line
from app.ui.services import services
from core.domain import Answer, Citation, CollectionInfo, Mode
from core.errors import DocScoutError, EngineError

STATE_LOOK = {  # Material icons ship with Streamlit; emoji need fonts a server may lack
    EngineState.LOADING: (":material/hourglass_top:", "orange"),
    EngineState.READY: (":material/check_circle:", "green"),
    EngineState.REMOTE: (":material/cloud:", "blue"),
    EngineState.ERROR: (":material/error:", "red"),
}
WARNING = ":material/warning:"
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


def context_meter(info: CollectionInfo) -> None:
    """Collection size against the model's window, and the mode a question will read it in, as
    the engine decides it (Analyst.plan); before the engine is loaded, ingestion's Llama 4
    counts."""
    status = services().host.status()
    images = "" if status.vision is not False else \
        " (images are skipped: this model reads text only)"
    if not status.usable:
        size = info.text_tokens + (info.image_tokens if status.vision is not False else 0)
        st.caption(f"Collection ≈{size:,} tokens{images}; the model's window is known once the "
                   "engine is loaded.")
        return
    try:
        mode, size, budget = _reading(services().store.url, info.name, info.documents,
                                      info.text_tokens, info.image_tokens, status.profile)
    except EngineError as exc:  # the page goes on: the question box says the same when used
        st.caption(literal(f"Collection size unknown: {exc}"))
        return
    st.progress(min(size / max(budget, 1), 1.0),
                text=f"Collection {size:,} tokens{images} of the {budget:,} that "
                f"{status.profile}'s window leaves a question: " + (
                    "the model reads all of it (full mode)" if mode == Mode.FULL else
                    "each question reads its most relevant pages and files (focused mode)"))


@st.cache_data(max_entries=64, show_spinner=False)
def _reading(database: str, collection: str, documents: int, text_tokens: int,
             image_tokens: int, profile: str) -> tuple[Mode, int, int]:
    """How the engine reads the collection in auto mode: (mode, its tokens, the budget). Cached
    per database, collection state (the counts change whenever a document does) and model."""
    context = services().host.analyst.plan(collection, "")[0]
    return context.mode, context.collection_tokens, context.budget


def chip(citation: Citation) -> str:
    """A citation chip's label (Markdown): flagged when it points nowhere, marked when DocScout
    inferred it."""
    if not citation.valid:
        return f"{WARNING} {literal(citation.label)}"
    return f"{FOUND} {literal(citation.label)}" if citation.inferred else literal(citation.label)


def answer_body(answer: Answer, collection: str, key: str, *, show_text: bool = True) -> None:
    """An answer's text (unless just streamed), its citations as chips, the chosen one's preview,
    and its usage."""
    if answer.error:
        st.error(f"No answer: {literal(answer.error)}", icon=":material/error:")
        return
    if show_text:
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

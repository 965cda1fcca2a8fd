"""Ask: conversations with the collection. A chat is stored (it survives a reload: its id is in
the page's address), listed in the sidebar with "New chat", and a follow-up is answered with the
earlier turns. Answers stream as the model writes them, with a Stop button; a question waiting
for the engine says how many are ahead of it. Citations are chips that open the cited page or
lines; a meter shows the collection against the model's window."""

from __future__ import annotations

import time

import streamlit as st

from app.escape import literal
from app.runtime import AnswerStream
from app.ui.services import services
from app.ui.widgets import answer_body, context_meter, engine_status, pick_collection
from core.domain import Chat
from core.errors import StorageError

CHATS_LISTED = 15

svc = services()


def _open_chat() -> Chat | None:
    """The chat named in the address (?chat=ID), which also picks its collection."""
    wanted = st.query_params.get("chat")
    if wanted is None or not wanted.isdigit():
        return None
    try:
        chat = svc.store.chat(int(wanted))
    except StorageError:  # deleted meanwhile, or a stale link
        del st.query_params["chat"]
        return None
    st.session_state["collection"] = chat.collection
    return chat


def _choose(chat_id: int | None) -> None:
    if chat_id is None:
        st.query_params.pop("chat", None)
    else:
        st.query_params["chat"] = str(chat_id)


def _chat_list(collection: str, current: Chat | None) -> None:
    st.sidebar.button("New chat", icon=":material/add_comment:", key="new-chat",
                      on_click=_choose, args=(None,), width="stretch")
    for chat in svc.store.chats(collection, limit=CHATS_LISTED):
        when = f"{chat.updated_at:%b %d %H:%M}" if chat.updated_at else ""
        st.sidebar.button(
            literal(chat.title), key=f"chat-{chat.id}", on_click=_choose, args=(chat.id,),
            type="primary" if current is not None and chat.id == current.id else "tertiary",
            help=f"{chat.turns} question(s), last {when}", width="stretch")


def _follow(stream: AnswerStream) -> None:
    """Show a question being answered until it is done: its place in line while it waits, then
    the text as it comes, with a Stop button that aborts it in the engine."""
    with st.chat_message("user"):
        st.text(stream.question)
    with st.chat_message("assistant"):
        if not stream.done:
            st.button("Stop", icon=":material/stop_circle:", key=f"stop-{id(stream)}",
                      on_click=stream.stop, help="Stop this answer; what it said so far is kept.")
        notice, body = st.empty(), st.empty()
        began, text = time.monotonic(), ""
        for piece in stream.deltas(idle_s=0.5):  # every half second at least: the page reruns
            text += piece                        # (a click on Stop) at once, never after a
            if not stream.started and not stream.done:  # minute of prefill
                ahead = stream.ahead
                notice.info(f"Waiting for {ahead} question{'s' if ahead != 1 else ''} ahead of "
                            "this one…", icon=":material/hourglass_top:")
            elif not text:
                notice.caption(f"Reading the collection… {time.monotonic() - began:.0f} s")
            else:
                notice.empty()
            if piece:
                body.markdown(literal(text) + " ▌")
    st.rerun()  # the answer is stored: show it as a turn, with its citations


engine_status()
current = _open_chat()
st.title("Ask")
info = pick_collection()
if info is None:
    st.stop()
collection = info.name
if current is not None and current.collection != collection:  # another collection was picked
    current = None
    _choose(None)
_chat_list(collection, current)
context_meter(info)
if pending := sum(d.ocr_pending for d in svc.store.pending_ocr(collection)):
    st.caption(f":material/hourglass_top: OCR is still reading {pending} scanned or figure "
               "page(s) of this collection (Library); answers cannot use their text yet.")

turns = svc.store.chat_turns(current.id) if current else []
for answer in turns:
    with st.chat_message("user"):
        st.text(answer.question)
    with st.chat_message("assistant"):
        answer_body(answer, collection, key=f"turn-{answer.id}")
if current is None and not turns:
    st.caption("A new chat: follow-up questions are answered with the earlier ones in mind.")

status = svc.host.status()
if not status.usable:
    st.info(f"The engine is {status.state.value}: {literal(status.detail)}. Questions open once "
            "it is ready; this page updates by itself.", icon=":material/hourglass_top:")
question = st.chat_input(f"Ask about “{collection}”", disabled=not status.usable,
                         max_chars=4000, key="question")
if question and question.strip():
    if current is None:
        current = svc.store.start_chat(collection, question)
        _choose(current.id)
    svc.host.stream(collection, question.strip(), chat=current.id)

if current is not None and status.usable:
    stored = {answer.id for answer in turns}
    for stream in svc.host.streams(current.id):
        if stream.answer is None or stream.answer.id not in stored:
            _follow(stream)

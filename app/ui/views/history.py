"""History: every question asked of a collection (from any session, the CLI and reports
included), newest first, reopened with its citations and their previews; a question asked in a
chat opens that chat on the Ask page."""

from __future__ import annotations

import streamlit as st

from app.escape import literal
from app.ui.services import services
from app.ui.widgets import answer_body, engine_status, pick_collection

PAGE = 20

svc = services()
engine_status()
st.title("History")
info = pick_collection()
if info is None:
    st.stop()
collection = info.name
shown = st.session_state.setdefault("history-shown", PAGE)
answers = svc.store.answers(collection, limit=shown + 1)
if not answers:
    st.info("No questions asked of this collection yet.")
for n, answer in enumerate(answers[:shown]):
    when = answer.asked_at.strftime("%Y-%m-%d %H:%M") if answer.asked_at else ""
    mark = ":material/error: " if answer.error else ""
    with st.expander(f"{mark}{when} · {literal(answer.question[:120])}", expanded=n == 0):
        st.text(answer.question)
        answer_body(answer, collection, key=f"history-{collection}-{n}")
        if answer.chat_id is not None and st.button(
                "Open its chat", icon=":material/chat:", key=f"open-chat-{answer.id}"):
            st.switch_page("views/ask.py", query_params={"chat": str(answer.chat_id)})
if len(answers) > shown and st.button("Older questions"):
    st.session_state["history-shown"] = shown + PAGE
    st.rerun()

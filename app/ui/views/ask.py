"""Ask: chat with the collection. Answers stream token by token; citations are chips that open
the cited page or lines; a meter shows the collection against the model's window."""

from __future__ import annotations

import streamlit as st

from app.escape import literal, literal_chunks
from app.ui.services import services
from app.ui.widgets import answer_body, context_meter, engine_status, pick_collection

svc = services()
engine_status()
st.title("Ask")
info = pick_collection()
if info is None:
    st.stop()
collection = info.name
context_meter(info)

chat = st.session_state.setdefault("chat", {}).setdefault(collection, [])
for n, answer in enumerate(chat):
    with st.chat_message("user"):
        st.text(answer.question)
    with st.chat_message("assistant"):
        answer_body(answer, collection, key=f"{collection}-{n}")

status = svc.host.status()
if not status.usable:
    st.info(f"The engine is {status.state.value}: {literal(status.detail)}. Questions open once "
            "it is ready; this page updates by itself.", icon=":material/hourglass_top:")
question = st.chat_input(f"Ask about “{collection}”", disabled=not status.usable,
                         max_chars=4000, key="question")
if question and question.strip():
    with st.chat_message("user"):
        st.text(question)
    with st.chat_message("assistant"):
        stream = svc.host.stream(collection, question.strip())
        with st.spinner("Reading the collection…", show_time=True):
            st.write_stream(literal_chunks(stream))
        answer = stream.answer
        chat.append(answer)
        answer_body(answer, collection, key=f"{collection}-{len(chat) - 1}", show_text=False)

"""The web UI's pages under `streamlit.testing.v1.AppTest`, with the real store and ingestion and
a test-double engine (FakeBackend behind the real Analyst and EngineHost)."""

from __future__ import annotations

import re

from app.escape import literal
from app.runtime import EngineHost, EngineState
from app.ui import services as ui_services

from .conftest import ui_page


def test_library_lists_documents_and_deletes_one(fake):
    services, _ = fake
    at = ui_page("library").run()
    assert not at.exception
    assert at.title[0].value == "Library"
    [table] = at.dataframe
    assert set(table.value["document"]) == {
        "contract.pdf", "charts/revenue_by_quarter.png", "charts/headcount_by_team.png"}
    assert list(table.value.columns) == ["document", "kind", "pages/files", "text tokens",
                                         "image tokens", "status", "error"]
    at.selectbox(key="delete-doc").select("contract.pdf")
    at.button(key="delete-doc-button").click().run()
    assert "contract.pdf" not in {d.source for d in services.store.documents("Deal")}
    assert "contract.pdf" not in set(at.dataframe[0].value["document"])


def test_library_creates_and_deletes_collections(fake):
    services, _ = fake
    at = ui_page("library").run()
    at.text_input(key="new-collection-name").input("Code review")
    at.button(key="create-collection").click().run()
    assert "Code review" in {c.name for c in services.store.collections()}
    assert at.selectbox(key="collection-picker").value == "Code review"
    at.checkbox(key="delete-coll-ok").check().run()
    at.button(key="delete-coll").click().run()
    assert "Code review" not in {c.name for c in services.store.collections()}


def test_ask_streams_an_answer_with_citation_chips_and_a_preview(fake):
    services, backend = fake
    backend.enqueue("The monthly fee is US$18,750 [D3 p.1]; also [D9 p.4].")
    at = ui_page("ask").run()
    assert not at.exception
    meter = at.get("progress")[0].proto.text
    assert "window" in meter and "full mode" in meter  # as the engine decides it (Analyst.plan)
    at.chat_input(key="question").set_value("What is the monthly fee?").run()
    assert not at.exception, at.exception
    assert "18,750" in at.markdown[-1].value or any("18,750" in m.value for m in at.markdown)
    chips = at.get("button_group")[0]
    shown = {(o.content_icon, o.content.replace("\\", "")) for o in chips.proto.options}
    assert shown == {("", "contract.pdf p.1"), (":material/warning:", "[D9 p.4]")}
    caption = " ".join(c.value for c in at.caption)
    assert "full mode" in caption and "read 100%" in caption
    [stored] = services.store.answers("Deal")
    assert stored.question == "What is the monthly fee?"
    chips.set_value(0).run()  # open [D3 p.1]: the contract's first page, the fee highlighted
    assert not at.exception, at.exception
    [image] = [e for e in at.main if type(e).__name__ == "Image"]
    assert "highlighted" in image.proto.imgs[0].caption
    assert any("contract.pdf p.1" in m.value.replace("\\", "") for m in at.markdown)


def test_ask_is_closed_while_the_engine_loads(fake, settings):
    services, _ = fake
    import threading

    gate = threading.Event()

    def slow_open(s, st):
        gate.wait(30)
        raise RuntimeError("no model here")

    loading = EngineHost(settings, services.store, slow_open).start()
    ui_services.use(ui_services.Services(settings, services.store, loading))
    at = ui_page("ask").run()
    assert at.chat_input(key="question").proto.disabled
    assert any("loading" in i.value for i in at.info)
    gate.set()
    assert loading.wait(30).state == EngineState.ERROR
    at.run()
    assert any("error" in m.value for m in at.sidebar.markdown)
    assert any("no model here" in c.value for c in at.sidebar.caption)


def test_history_reopens_answers_with_their_citations(fake):
    services, backend = fake
    backend.enqueue("Fee: US$18,750 [D3 p.1].")
    analyst = services.host.analyst
    analyst.ask("Deal", "What is the fee?")
    at = ui_page("history").run()
    assert not at.exception
    labels = [e.label for e in at.expander]
    assert any("What is the fee" in label for label in labels)
    chips = at.get("button_group")[0]
    assert chips.proto.options[0].content.replace("\\", "") == "contract.pdf p.1"


def test_document_text_is_never_markup():
    hostile = '<img src=x onerror=alert(1)> ![t](http://evil/x.png) [link](javascript:x) $x$'
    shown = literal(hostile)
    assert re.search(r"(?<!\\)[<>\[\]()!$:]", shown) is None  # every active character escaped
    assert shown.replace("\\", "").replace("\u200b", "") == hostile  # reads the same


def test_reports_page_runs_a_spec_and_offers_the_three_files(fake):
    services, backend = fake
    at = ui_page("reports").run()
    assert not at.exception
    at.text_area(key="spec").input("title: T\ncollection: Nope\nsections: []\n")
    at.button(key="run-report").click().run()
    assert "Nope" in at.error[0].value.replace("\\", "")  # a spec error, shown, nothing run
    at.text_area(key="spec").input(
        "title: Fees\ncollection: Deal\nsections:\n  - heading: Money\n    questions:\n"
        "      - What is the monthly fee?\n")
    backend.enqueue("The monthly fee is US$18,750 [D3 p.1].")
    at.button(key="run-report").click().run(timeout=120)
    assert not at.exception, at.exception
    [stored] = services.store.reports("Deal")
    assert stored.questions == 1 and stored.failed == 0
    labels = {b.proto.label for b in at.get("download_button")}
    assert labels == {"report.md", "report.html", "report.pdf"}


def test_a_chat_is_stored_reopened_after_a_reload_and_followed_up(fake):
    services, backend = fake
    backend.enqueue("The monthly fee is US$18,750 [D3 p.1].", "Net 30 days [D3 p.1].")
    at = ui_page("ask").run()
    at.chat_input(key="question").set_value("What is the monthly fee?").run()
    assert not at.exception, at.exception
    chat_id = int(at.query_params["chat"][0] if isinstance(at.query_params["chat"], list)
                  else at.query_params["chat"])
    at.chat_input(key="question").set_value("And when is it due?").run()
    assert not at.exception, at.exception
    follow_up = backend.requests[-1]  # the earlier turn is in the prompt, after the corpus
    assert [m["role"] for m in follow_up] == ["system", "user", "assistant", "user"]
    assert "18,750" in follow_up[2]["content"]

    reloaded = ui_page("ask")  # a new browser session opening the chat's address
    reloaded.query_params["chat"] = str(chat_id)
    reloaded.run()
    assert not reloaded.exception, reloaded.exception
    asked = [t.value for t in reloaded.text]
    assert asked == ["What is the monthly fee?", "And when is it due?"]
    listed = [b for b in reloaded.sidebar.button if b.key == f"chat-{chat_id}"]
    assert listed and "monthly fee" in listed[0].label.replace("\\", "")
    reloaded.sidebar.button(key="new-chat").click().run()
    assert "chat" not in reloaded.query_params and not reloaded.text


def test_a_stopped_answer_keeps_its_text_marked_stopped(fake):
    services, backend = fake
    analyst = services.host.analyst
    chat = services.store.start_chat("Deal", "fee")
    backend.word_delay_s = 0.05
    backend.enqueue("The monthly fee is US$18,750 per month as set out in clause two " * 5)
    stream = services.host.stream("Deal", "What is the monthly fee?", chat=chat.id)
    pieces = iter(stream.deltas())
    assert next(pieces)  # it has begun
    stream.stop()
    answer = stream.result(10)
    assert answer.stop_reason.value == "cancelled" and answer.text.startswith("The monthly")
    at = ui_page("ask")
    at.query_params["chat"] = str(chat.id)
    at.run()
    assert any("stopped by the user" in w.value for w in at.warning)
    assert any(m.value.startswith("The monthly") for m in at.markdown)
    assert analyst.store.chat_turns(chat.id)[0].error == "stopped by the user"


def test_a_question_behind_another_users_waits_and_its_footer_counts_the_wait(fake):
    services, backend = fake
    backend.word_delay_s = 0.08
    backend.enqueue("The fee is US$18,750 a month, invoiced in advance and payable within "
                    "thirty days, with interest on late sums [D3 p.1].",  # 20 words: 1.6 s
                    "US$18,750 [D3 p.1].")
    other = services.store.start_chat("Deal", "another user's chat")
    at = ui_page("ask").run()
    ahead = services.host.stream("Deal", "Summarise the payment terms.", chat=other.id)
    at.chat_input(key="question").set_value("What is the monthly fee?").run()
    assert not at.exception, at.exception
    assert ahead.done and ahead.answer.asked_at is not None
    footer = [c.value for c in at.caption if "mode" in c.value][-1].replace("\\", "")
    assert "waited" in footer and "for the engine" in footer
    mine = services.store.answers("Deal")[0]
    assert mine.question == "What is the monthly fee?" and mine.usage.wait_s > 0.3

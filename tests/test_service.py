"""Analyst (engine/service.py) with a test-double backend and the real Llama 4 prompt counter:
modes, exact budgets, citations checked and stored, errors kept in the history."""

from __future__ import annotations

from dataclasses import replace

import pytest

from core.domain import Mode
from core.errors import EngineError
from engine.backends import FakeBackend
from ingest.pipeline import ingest_paths
from storage.repository import Store

from .conftest import SAMPLE_DOCS, fake_analyst


@pytest.fixture
def analyst(settings, counter):
    store = Store(settings)
    ingest_paths([SAMPLE_DOCS / "contract.pdf", SAMPLE_DOCS / "charts"], "deal", store, settings)
    yield fake_analyst(settings, store, counter, FakeBackend())
    store.close()


def test_full_mode_answer_with_checked_citations_is_stored(analyst):
    analyst.backend.enqueue("The monthly fee is US$18,750 [D3 p.1]; see also [D9 p.4].")
    streamed: list[str] = []
    answer = analyst.ask("deal", "What is the monthly fee?", on_delta=streamed.append)
    assert "".join(streamed) == answer.text
    assert answer.mode == Mode.FULL and answer.read_fraction == 1.0 and answer.error is None
    valid = {c.label: c.valid for c in answer.citations}
    assert valid == {"[D3 p.1]": True, "[D9 p.4]": False}
    assert next(c for c in answer.citations if c.valid).document == "contract.pdf"
    [request] = analyst.backend.requests
    assert analyst.tokenizer.count_messages(request) + analyst.answer_budget \
        <= analyst.profile.max_model_len
    assert sum(p["type"] == "image_url" for p in request[1]["content"]) == 2
    [stored] = analyst.store.answers("deal")
    assert stored.citations == answer.citations and stored.asked_at is not None


def test_prompt_size_is_exact_for_the_chosen_context(analyst):
    context = analyst.context("deal", "termination notice")
    messages = analyst.messages(context, "termination notice")
    overhead = analyst.overhead("termination notice", context.mode)
    assert analyst.tokenizer.count_messages(messages) == overhead + context.corpus_tokens


def test_small_window_goes_focused_and_never_overflows(analyst):
    small = replace(analyst.profile, max_model_len=1800 + analyst.answer_budget)
    focused = replace(analyst, _profile=small)
    focused.backend.enqueue("Forty-five days [D3 p.2].")
    answer = focused.ask("deal", "How many days' notice ends the agreement for convenience?")
    assert answer.mode == Mode.FOCUSED and 0 < answer.read_fraction < 1
    [request] = focused.backend.requests
    assert focused.tokenizer.count_messages(request) + focused.answer_budget <= small.max_model_len


def test_map_reduce_reads_every_window_then_combines(analyst):
    small = replace(analyst.profile, max_model_len=2200 + analyst.answer_budget)
    mr = replace(analyst, _profile=small, _backend=FakeBackend(default="partial [D3 p.1]"))
    answer = mr.ask("deal", "Summarise every document.", mode=Mode.MAP_REDUCE)
    windows = len(mr.backend.requests) - 1
    assert windows >= 2 and answer.mode == Mode.MAP_REDUCE and answer.error is None
    assert answer.read_fraction == pytest.approx(1.0)
    reduce_request = mr.backend.requests[-1]
    assert "Partial answer 2" in reduce_request[1]["content"][0]["text"]


def test_engine_failure_is_a_clear_error_kept_in_history(analyst):
    analyst.backend.enqueue(EngineError("the model server at http://x/v1 is unreachable"))
    answer = analyst.ask("deal", "What is the term?")
    assert answer.error.endswith("is unreachable") and answer.text == ""
    assert analyst.store.answers("deal")[0].error == answer.error


def test_a_focused_question_whose_search_fails_is_a_one_line_error_kept_in_history(analyst):
    """The database refuses the search (here its full-text index is gone, as after a restore
    that left it out): the question gets the server's one-line reason, stored like any failure."""
    from sqlalchemy import text

    engine = analyst.store._engine
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE segments_fts" if engine.dialect.name == "sqlite"
                          else "ALTER TABLE segments DROP COLUMN fts"))
    small = replace(analyst.profile, max_model_len=2200 + analyst.answer_budget)
    focused = replace(analyst, _profile=small)
    answer = focused.ask("deal", "What is the monthly fee?", mode=Mode.FOCUSED)
    assert answer.error.startswith("database error: ")
    assert "fts" in answer.error  # what the database said: no such table / column
    assert "\n" not in answer.error and answer.text == "" and not focused.backend.requests
    assert analyst.store.answers("deal")[0].error == answer.error
    [failed] = focused.ask_many("deal", ["What is the term?"], [Mode.FOCUSED])
    assert failed.error == answer.error  # a batch (reports) keeps going with the same reason


def test_a_question_too_long_for_the_window_is_refused(analyst):
    answer = analyst.ask("deal", "why " * 20_000)
    assert answer.error and "too long" in answer.error


def test_an_answer_without_citations_gets_inferred_ones_marked_as_such(analyst):
    analyst.backend.enqueue("The monthly fee is US$18,750.", "It is monthly.")
    answer = analyst.ask("deal", "What is the monthly fee?")
    [found] = answer.citations
    assert (found.document, found.page, found.valid, found.inferred) == (
        "contract.pdf", 1, True, True)
    assert analyst.store.answers("deal")[0].citations == answer.citations
    assert analyst.ask("deal", "How often?").citations == ()  # no figure, nothing inferred


def test_ask_many_batches_every_mode_and_keeps_going_past_a_failure(analyst):
    small = replace(analyst.profile, max_model_len=2200 + analyst.answer_budget)
    batch = replace(analyst, _profile=small, _backend=FakeBackend(default="so [D3 p.1]"))
    questions = ["What is the fee?", "why " * 20_000, "Summarise every document.",
                 "Quote every clause."]
    modes = [Mode.AUTO, Mode.AUTO, Mode.MAP_REDUCE, Mode.FULL]
    answers = batch.ask_many("deal", questions, modes)
    assert [a.question for a in answers] == questions
    assert answers[0].error is None and answers[0].mode == Mode.FOCUSED
    assert "too long" in answers[1].error
    assert answers[2].error is None and answers[2].mode == Mode.MAP_REDUCE
    assert "does not fit" in answers[3].error and "full mode" in answers[3].error
    windows = len(batch.backend.requests) - 2  # the focused question and one combining request
    assert windows >= 2 and "Partial answer" in batch.backend.requests[-1][1]["content"][0]["text"]
    assert [a.question for a in batch.store.answers("deal")] == questions[::-1]


class _RefusesOne(FakeBackend):
    """Refuses the whole batch when it holds the poisoned question, as a server's 400 does."""

    def generate(self, requests, max_tokens, **options):
        if any("poison" in r[1]["content"][-1]["text"] for r in requests):
            raise EngineError("the model server refused the request (400): bad input")
        return super().generate(requests, max_tokens, **options)


def test_a_request_the_backend_refuses_fails_only_its_question(analyst):
    refusing = replace(analyst, _backend=_RefusesOne(default="fine [D3 p.1]"))
    answers = refusing.ask_many("deal", ["first?", "poison?", "third?"])
    assert [a.error is None for a in answers] == [True, False, True]
    assert "refused" in answers[1].error and answers[2].text == "fine [D3 p.1]"


def test_a_backend_that_is_down_is_not_retried_question_by_question(analyst):
    down = FakeBackend().enqueue(*[EngineError("unreachable")] * 3)
    answers = replace(analyst, _backend=down).ask_many("deal", [f"q{i}?" for i in range(5)])
    assert all(a.error == "unreachable" for a in answers)
    assert len(down.requests) == 1 + 2  # the batch, then two lone retries


def test_a_follow_up_is_answered_with_the_earlier_turns_after_the_corpus(analyst):
    chat = analyst.store.start_chat("deal", "What is the monthly fee?")
    analyst.backend.enqueue("The monthly fee is US$18,750 [D3 p.1].")
    analyst.backend.enqueue("It ends with 45 days' notice [D3 p.2].")
    first = analyst.ask("deal", "What is the monthly fee?", chat=chat.id, waited_s=2.5)
    second = analyst.ask("deal", "And how is it terminated?", chat=chat.id)
    one, two = analyst.backend.requests
    # The corpus and the first question open both requests byte for byte (a cached prefix).
    assert two[:2] == one
    assert [m["role"] for m in two] == ["system", "user", "assistant", "user"]
    assert two[2]["content"] == first.text
    assert two[3]["content"][0]["text"].startswith("Question: And how is it terminated?")
    context = analyst.context("deal", "And how is it terminated?",
                              history=analyst.history(chat.id)[:1])
    overhead = analyst.overhead("And how is it terminated?", context.mode,
                                analyst.history(chat.id)[:1])
    assert analyst.tokenizer.count_messages(two) == overhead + context.corpus_tokens
    turns = analyst.store.chat_turns(chat.id)
    assert [t.id for t in turns] == [first.id, second.id] and turns[0].usage.wait_s == 2.5
    assert all(t.chat_id == chat.id for t in turns)


def test_a_failed_turn_is_left_out_of_a_follow_ups_prompt(analyst):
    chat = analyst.store.start_chat("deal", "q")
    analyst.backend.enqueue(EngineError("the model server at http://x/v1 is unreachable"))
    analyst.ask("deal", "What is the monthly fee?", chat=chat.id)
    analyst.backend.enqueue("US$18,750 [D3 p.1].")
    analyst.ask("deal", "What is the monthly fee?", chat=chat.id)
    assert analyst.history(chat.id) == (("What is the monthly fee?", "US$18,750 [D3 p.1]."),)
    assert len(analyst.backend.requests[-1]) == 2  # no earlier turn in the prompt


def test_a_focused_follow_up_searches_with_the_conversation(analyst, monkeypatch):
    small = replace(analyst.profile, max_model_len=1800 + analyst.answer_budget)
    focused = replace(analyst, _profile=small)
    searched: list[str] = []
    search = focused.store.search
    monkeypatch.setattr(focused.store, "search",
                        lambda coll, query, k, docs=None: searched.append(query)
                        or search(coll, query, k, docs))
    chat = focused.store.start_chat("deal", "termination")
    focused.backend.enqueue("Forty-five days [D3 p.2].")
    focused.ask("deal", "How many days' notice ends the agreement for convenience?", chat=chat.id)
    focused.backend.enqueue("By written notice [D3 p.2].")
    answer = focused.ask("deal", "and who must send it?", chat=chat.id)
    assert answer.mode == Mode.FOCUSED
    assert searched[-1].startswith("How many days' notice ends the agreement")
    assert searched[-1].endswith("and who must send it?")

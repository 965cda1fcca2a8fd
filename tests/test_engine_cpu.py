"""The `cpu` profile (Qwen2.5-Coder-1.5B-Instruct on vLLM) answers sample facts with citations;
the loop guard and cancelling work on real engines (cpu-demo, which is quick, where the model
does not matter)."""

from __future__ import annotations

import threading
import time

import pytest

from core.domain import Mode, StopReason
from engine.profiles import Sampling
from engine.service import Analyst
from engine.tokenizer import prompt_tokenizer

pytestmark = pytest.mark.vllm


@pytest.fixture
def store(samples_store):
    return samples_store


@pytest.mark.parametrize("question, fact, source", [
    ("What is the monthly fee in the services agreement?", "18,750", "contract.pdf"),
    ("How many days' notice must a party give to terminate the agreement for convenience?",
     "45", "contract.pdf"),
    ("What was the revenue in the fourth quarter of 2024, in millions of dollars?", "43.2",
     "report.pdf"),
])
def test_cpu_answers_sample_facts_with_a_citation_to_their_source(settings, store, cpu_model,
                                                                  question, fact, source):
    analyst = Analyst(settings, store, cpu_model.profile, prompt_tokenizer(cpu_model.profile),
                      cpu_model)
    answer = analyst.ask("Samples", question)
    assert answer.ok and answer.mode == Mode.FULL, (answer.text, answer.error)
    assert fact in answer.text, answer.text
    assert answer.stop_reason == StopReason.STOP
    assert any(c.valid and c.document.endswith(source) for c in answer.citations), \
        answer.citations
    assert answer.usage.completion_tokens < analyst.max_tokens_for(question)


# A small model at greedy decoding copies such a list on and on (asked to "repeat a line 50
# times", SmolLM2 writes it once).
LOOP = [{"role": "user", "content": "The fee is due on Monday.\n" * 12
         + "\nContinue the list above exactly."}]


@pytest.mark.parametrize("streamed", [False, True])
def test_the_loop_guard_stops_a_repeating_answer(cpu_demo, streamed):
    greedy = Sampling(temperature=0.0, repetition_penalty=1.0)  # no penalty: it will loop
    if streamed:
        *_, final = list(cpu_demo.stream(LOOP, 600, sampling=greedy))
    else:
        [final] = cpu_demo.generate([LOOP], 600, sampling=greedy)
    assert final.stop_reason == StopReason.LOOP, final.text
    assert final.completion_tokens < 100  # stopped within a few repeats, not at 600
    assert final.text.count("The fee is due on Monday.") == 1  # what was said once is kept
    assert not cpu_demo.llm.llm_engine.has_unfinished_requests()


def test_cancel_aborts_a_request_at_once_and_frees_the_engine(cpu_demo):
    long = [{"role": "user", "content": "Count from one to three hundred in words, one per line."}]
    cancel = threading.Event()
    pieces = []
    for piece in cpu_demo.stream(long, 600, cancel=cancel):
        pieces.append(piece)
        if len(pieces) == 3:
            cancel.set()
    final = pieces[-1]
    assert final.stop_reason == StopReason.CANCELLED and len(pieces) <= 5
    assert not cpu_demo.llm.llm_engine.has_unfinished_requests()
    # From another thread, during a batch: every request stops.
    essay = [{"role": "user", "content": "Write a detailed essay of 2000 words on the history "
                                         "of public libraries."}]
    cancel = threading.Event()
    threading.Timer(1.0, cancel.set).start()
    started = time.perf_counter()
    results = cpu_demo.generate([essay, essay], 600, cancel=cancel)
    assert [g.stop_reason for g in results] == [StopReason.CANCELLED] * 2
    assert time.perf_counter() - started < 10
    [after] = cpu_demo.generate([[{"role": "user", "content": "Say hello."}]], 5)
    assert after.completion_tokens > 0 and after.stop_reason in (StopReason.STOP,
                                                                 StopReason.LENGTH)


def test_ctrl_c_during_an_answer_keeps_the_partial_answer_and_frees_the_engine(
        settings, store, cpu_demo, demo_tokenizer):
    analyst = Analyst(settings, store, cpu_demo.profile, demo_tokenizer, cpu_demo)
    seen = []

    def interrupt(piece: str) -> None:
        seen.append(piece)
        if len(seen) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        analyst.ask("Samples", "Summarise every section of the annual report.", on_delta=interrupt)
    [stored] = analyst.store.answers("Samples")
    assert stored.stop_reason == StopReason.CANCELLED and not stored.ok
    assert stored.text == "".join(seen)
    assert not cpu_demo.llm.llm_engine.has_unfinished_requests()


def test_cpu_answers_a_follow_up_with_the_earlier_turn_from_the_cached_prefix(
        settings, store, cpu_model):
    analyst = Analyst(settings, store, cpu_model.profile, prompt_tokenizer(cpu_model.profile),
                      cpu_model)
    chat = store.start_chat("Samples", "monthly fee")
    first = analyst.ask("Samples", "What is the monthly fee in the services agreement?",
                        chat=chat.id)
    assert first.ok and "18,750" in first.text, first.text
    follow_up = analyst.ask("Samples", "By how much may it be increased, and how often?",
                            chat=chat.id)
    assert follow_up.ok, follow_up.error
    text = follow_up.text.lower()
    assert ("4%" in text or "four percent" in text) and "renewal" in text, follow_up.text
    usage = follow_up.usage
    print(f"\nfollow-up: {usage.cached_tokens:,} of {usage.prompt_tokens:,} prompt tokens cached "
          f"({usage.cached_tokens / usage.prompt_tokens:.0%}), first token "
          f"{usage.time_to_first_token_s:.2f} s")
    assert usage.cached_tokens / usage.prompt_tokens >= 0.9  # the collection's prefix
    assert [t.id for t in store.chat_turns(chat.id)] == [first.id, follow_up.id]


def test_stop_in_the_ui_host_aborts_the_engine_and_the_next_question_goes_on(
        settings, store, cpu_demo, demo_tokenizer):
    from app.runtime import EngineHost, EngineState

    analyst = Analyst(settings, store, cpu_demo.profile, demo_tokenizer, cpu_demo)
    host = EngineHost(settings, store, lambda s, st: analyst).start()
    assert host.wait(60).state == EngineState.READY
    running = host.stream("Samples", "Summarise every section of the annual report in detail.")
    waiting = host.stream("Samples", "What is the monthly fee?")
    pieces = iter(running.deltas())
    while len(running.text) < 10:
        next(pieces)
    assert waiting.ahead == 1 and not waiting.started
    running.stop()
    stopped = running.result(30)
    assert stopped.stop_reason == StopReason.CANCELLED and stopped.text
    answered = waiting.result(120)
    assert answered.error is None or answered.stop_reason != StopReason.CANCELLED
    assert answered.usage.wait_s > 0
    assert not cpu_demo.llm.llm_engine.has_unfinished_requests()

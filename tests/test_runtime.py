"""The UI's engine host (app/runtime.py): questions wait in a first-come, first-served line for
an in-process engine and say how many are ahead; Stop aborts one at once, waiting or running;
a page that reloads finds a conversation's questions still being answered."""

from __future__ import annotations

import time

import pytest

from app.runtime import EngineHost, EngineState
from app.tables import usage_line
from core.domain import StopReason
from engine.backends import FakeBackend
from ingest.pipeline import ingest_paths
from storage.repository import Store

from .conftest import SAMPLE_DOCS, fake_analyst

SLOW = ("The monthly fee is US$18,750 [D3 p.1], payable in advance on the first business day "
        "of each month, with onboarding billed once at signature and late sums bearing "
        "interest.")  # 30 words, 0.05 s each


@pytest.fixture
def host(settings, counter):
    store = Store(settings)
    ingest_paths([SAMPLE_DOCS / "contract.pdf"], "Deal", store, settings)
    backend = FakeBackend(default=SLOW, word_delay_s=0.05)
    host = EngineHost(settings, store, lambda s, st: fake_analyst(s, st, counter, backend))
    assert host.start().wait(30).state == EngineState.READY
    yield host
    store.close()


def _until(condition, timeout_s: float = 10) -> None:
    end = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.01)


def test_two_askers_are_answered_in_order_and_the_second_says_it_waited(host):
    first = host.stream("Deal", "What is the monthly fee?")
    _until(lambda: first.started)
    second = host.stream("Deal", "What is the fee per month?")
    assert second.ahead == 1 and not second.started
    assert first.result(30).ok and not second.done  # the second waited for the first
    answer = second.result(30)
    assert answer.ok and answer.usage.wait_s >= 0.5
    assert "waited" in usage_line(answer) and "waited" not in usage_line(first.answer)
    assert first.answer.asked_at <= answer.asked_at


def test_stop_aborts_a_running_answer_and_frees_the_engine_for_the_next(host):
    running = host.stream("Deal", "What is the monthly fee?")
    waiting = host.stream("Deal", "What is the fee per month?")
    _until(lambda: running.text)
    running.stop()
    stopped = running.result(5)
    assert stopped.stop_reason == StopReason.CANCELLED and 0 < len(stopped.text) < len(SLOW)
    _until(lambda: waiting.started, timeout_s=2)  # at once, not after the rest of the answer
    assert waiting.result(30).ok


def test_stop_while_waiting_leaves_the_line_and_is_kept_as_stopped(host):
    chat = host.store.start_chat("Deal", "fee")
    running = host.stream("Deal", "What is the monthly fee?")
    waiting = host.stream("Deal", "And per year?", chat=chat.id)
    third = host.stream("Deal", "What is the fee?")
    assert (waiting.ahead, third.ahead) == (1, 2)
    waiting.stop()
    answer = waiting.result(5)
    assert answer.stop_reason == StopReason.CANCELLED and answer.text == ""
    assert third.ahead == 1 and not running.done
    assert host.store.chat_turns(chat.id)[0].error == "stopped by the user"
    running.stop()
    third.stop()


def test_a_conversations_streams_are_found_again_and_replay_from_the_start(host):
    chat = host.store.start_chat("Deal", "fee")
    stream = host.stream("Deal", "What is the monthly fee?", chat=chat.id)
    _until(lambda: len(stream.text) > 20)
    [again] = host.streams(chat.id)  # what a reloaded page finds
    replay = "".join(again.deltas())
    assert replay == again.answer.text and again.done
    assert host.streams(chat.id + 1) == []

"""Progress while a report's batch runs: each answer is reported as it finishes (VllmBackend's
step loop, RemoteBackend's concurrent requests, Analyst.ask_many), and a report counts failed
and stopped answers as such, never as answered. Test doubles only: no model is loaded."""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import replace
from types import SimpleNamespace

import pytest

from app.reports.run import run_report
from app.reports.service import render_report
from app.reports.spec import parse_spec
from core.domain import Mode, StopReason
from core.errors import EngineError
from engine.backends import FakeBackend, Generation, VllmBackend
from engine.profiles import resolve_profile
from engine.remote import RemoteBackend
from ingest.pipeline import ingest_paths
from storage.repository import Store

from .conftest import SAMPLE_DOCS, fake_analyst

SPEC = """\
title: Progress
collection: deal
sections:
  - heading: Money
    questions:
      - What is the monthly fee?
      - What is the onboarding fee?
  - heading: Terms
    questions:
      - What is the notice period?
      - Who signed the agreement?
"""


@pytest.fixture
def store(settings):
    s = Store(settings)
    ingest_paths([SAMPLE_DOCS / "contract.pdf", SAMPLE_DOCS / "charts"], "deal", s, settings)
    yield s
    s.close()


def test_progress_per_answer_counts_loops_stops_and_errors_as_failed(settings, store, counter):
    backend = FakeBackend().enqueue(
        "The monthly fee is US$18,750 [D3 p.1].",
        Generation("The fee is due. The fee is due.", stop_reason=StopReason.LOOP),
        Generation("Ninety", stop_reason=StopReason.CANCELLED),
        Generation("", error="the model server refused the request (400): bad input"))
    progress: list[tuple[int, int, str]] = []
    run = run_report(fake_analyst(settings, store, counter, backend),
                     parse_spec(SPEC, "p.yaml", ["deal"]), lambda *p: progress.append(p))
    assert progress[:5] == [
        (0, 4, "Answering 4 questions over 'deal' in one batch on tiny-llama4"),
        (1, 4, "1 of 4 questions answered; 3 in progress"),
        (2, 4, "1 of 4 questions answered; 1 failed (1 loop); 2 in progress"),
        (3, 4, "1 of 4 questions answered; 2 failed (1 loop, 1 stopped); 1 in progress"),
        (4, 4, "1 of 4 questions answered; 3 failed (1 loop, 1 stopped, 1 error)"),
    ]
    assert progress[5] == (4, 4, progress[4][2] + " (4 full)")
    assert len(run.failed) == 3 and run.status.value == "partial"
    markdown = render_report(run, store).markdown
    assert "1 of 4 questions answered" in markdown
    assert "the model started repeating itself" in markdown and "stopped by the user" in markdown


def test_a_report_whose_answers_all_loop_says_none_was_answered(settings, store, counter):
    looped = Generation("It is. It is.", stop_reason=StopReason.LOOP)
    backend = FakeBackend().enqueue(*[looped] * 4)
    progress: list[tuple[int, int, str]] = []
    run = run_report(fake_analyst(settings, store, counter, backend),
                     parse_spec(SPEC, "p.yaml", ["deal"]), lambda *p: progress.append(p))
    assert run.status.value == "failed" and len(run.failed) == 4
    assert progress[-1][2].startswith("0 of 4 questions answered; 4 failed (4 loop)")
    assert "0 of 4 questions answered" in render_report(run, store).markdown


class _LastFirst(FakeBackend):
    """Finishes a batch's requests last first, as an engine may (short answers first)."""

    def generate(self, requests, max_tokens, *, on_done=None, **options):
        results = super().generate(requests, max_tokens, **options)
        for index in reversed(range(len(results))):
            if on_done is not None:
                on_done(index, results[index])
        return results


def test_ask_many_reports_each_answer_once_as_soon_as_it_is_known(settings, store, counter):
    analyst = fake_analyst(settings, store, counter, _LastFirst(default="so [D3 p.1]"))
    small = replace(analyst, _profile=replace(analyst.profile,
                                             max_model_len=2200 + analyst.answer_budget))
    heard: list[tuple[int, str | None]] = []
    answers = small.ask_many(
        "deal", ["What is the fee?", "Summarise every document.", "why " * 20_000],
        [Mode.AUTO, Mode.MAP_REDUCE, Mode.AUTO],
        on_answer=lambda n, a: heard.append((n, a.question[:16])))
    # The planning failure at once; the focused question when its request finished (after the
    # map-reduce windows, which finished first); the map-reduce one after its combining request.
    assert [n for n, _ in heard] == [2, 0, 1]
    assert [q for _, q in sorted(heard)] == [a.question[:16] for a in answers]
    assert answers[1].mode == Mode.MAP_REDUCE and answers[1].error is None


class _FailsAfterOne(FakeBackend):
    """A batch that breaks after its first request finished (a server connection reset)."""

    def generate(self, requests, max_tokens, *, on_done=None, **options):
        if len(requests) == 1:
            return super().generate(requests, max_tokens, on_done=on_done, **options)
        first = self._next(requests[0], max_tokens)
        if on_done is not None:
            on_done(0, first)
        raise EngineError("the model server failed: connection reset")


def test_a_broken_batch_keeps_what_finished_and_retries_the_rest(settings, store, counter):
    backend = _FailsAfterOne().enqueue("First [D3 p.1].", "Second [D3 p.1].", "Third [D3 p.1].")
    heard: list[int] = []
    answers = fake_analyst(settings, store, counter, backend).ask_many(
        "deal", ["one?", "two?", "three?"], on_answer=lambda n, a: heard.append(n))
    assert sorted(heard) == [0, 1, 2]  # once each
    assert [a.error for a in answers] == [None] * 3
    assert [w in a.text for w, a in zip(["First", "Second", "Third"], answers)] == [True] * 3
    assert len(backend.requests) == 3  # the first request was not asked twice


# -- the backends ------------------------------------------------------------------------------


class _ScriptedEngine:
    """vLLM's engine as VllmBackend drives it: request n finishes at step `finish_at[n]`,
    producing one word a step."""

    def __init__(self, finish_at: list[int]) -> None:
        self.finish_at = finish_at
        self.ids: list[str] = []
        self.aborted: list[str] = []
        self.steps = 0

    def add_request(self, request_id, prompt, params) -> None:
        self.ids.append(request_id)

    def step(self) -> list[SimpleNamespace]:
        self.steps += 1
        outputs = []
        for n, request_id in enumerate(self.ids):
            if request_id in self.aborted or self.steps > self.finish_at[n]:
                continue
            done = self.steps == self.finish_at[n]
            completion = SimpleNamespace(token_ids=[self.steps], text=f"word{self.steps} ",
                                         finish_reason="stop" if done else None)
            outputs.append(SimpleNamespace(request_id=request_id, prompt_token_ids=[1, 2, 3],
                                           num_cached_tokens=0, finished=done,
                                           outputs=[completion]))
        return outputs

    def abort_request(self, ids) -> None:
        self.aborted.extend(ids)

    def has_unfinished_requests(self) -> bool:
        return any(rid not in self.aborted and self.steps < self.finish_at[n]
                   for n, rid in enumerate(self.ids))


def _vllm_backend(settings, engine: _ScriptedEngine, monkeypatch) -> VllmBackend:
    """A VllmBackend around a scripted engine (its model is never loaded)."""
    monkeypatch.setattr("engine.backends.preprocess_chat", lambda llm, messages: messages)
    backend = VllmBackend.__new__(VllmBackend)
    backend.profile = resolve_profile(settings.model_copy(update={"model_profile": "tiny-llama4"}))
    backend.settings, backend.timeout_s = settings, 60
    backend._ids, backend._lock = itertools.count(), threading.Lock()
    backend.llm = SimpleNamespace(llm_engine=engine)
    backend._params = lambda max_tokens, sampling: None
    return backend


REQUESTS = [[{"role": "user", "content": f"question {n}"}] for n in range(3)]


def test_vllm_backend_reports_each_request_as_it_finishes(settings, monkeypatch):
    engine = _ScriptedEngine([5, 2, 3])
    backend = _vllm_backend(settings, engine, monkeypatch)
    heard: list[tuple[int, int, str]] = []
    results = backend.generate(REQUESTS, 10, on_done=lambda n, g: heard.append(
        (n, engine.steps, g.text)))
    assert heard == [(1, 2, "word1 word2 "), (2, 3, "word1 word2 word3 "),
                     (0, 5, "word1 word2 word3 word4 word5 ")]
    assert [g.text for g in results] == [text for _, _, text in sorted(heard)]
    assert all(g.stop_reason == StopReason.STOP for g in results)


def test_vllm_backend_aborts_the_rest_when_the_callback_fails(settings, monkeypatch):
    engine = _ScriptedEngine([5, 2, 9])
    backend = _vllm_backend(settings, engine, monkeypatch)

    def broken(n: int, generation: Generation) -> None:
        raise ValueError("a bug in the caller")

    with pytest.raises(ValueError, match="a bug in the caller"):  # not an EngineError
        backend.generate(REQUESTS, 10, on_done=broken)
    assert set(engine.aborted) == {engine.ids[0], engine.ids[2]} and engine.steps == 2
    assert not backend._lock.locked()


def test_vllm_backend_reports_requests_a_cancel_stopped(settings, monkeypatch):
    engine = _ScriptedEngine([1, 50, 50])
    backend = _vllm_backend(settings, engine, monkeypatch)
    cancel = threading.Event()
    heard: list[tuple[int, StopReason]] = []

    def done(n: int, generation: Generation) -> None:
        heard.append((n, generation.stop_reason))
        cancel.set()  # the first answer in: stop the others

    backend.generate(REQUESTS, 10, cancel=cancel, on_done=done)
    assert heard == [(0, StopReason.STOP), (1, StopReason.CANCELLED),
                     (2, StopReason.CANCELLED)]


class _Chunks:
    """A streamed chat completion as the OpenAI client returns it (iterable, closable)."""

    def __init__(self, words: list[str], delay_s: float) -> None:
        self.words, self.delay_s = words, delay_s

    def __iter__(self):
        for n, word in enumerate(self.words):
            time.sleep(self.delay_s)
            last = n == len(self.words) - 1
            choice = SimpleNamespace(delta=SimpleNamespace(content=word),
                                     finish_reason="stop" if last else None)
            yield SimpleNamespace(choices=[choice], usage=None)
        yield SimpleNamespace(choices=[], usage=SimpleNamespace(
            prompt_tokens=12, completion_tokens=len(self.words), prompt_tokens_details=None))

    def close(self) -> None:
        pass


def test_remote_backend_reports_each_request_as_it_finishes_in_the_callers_thread():
    backend = RemoteBackend("http://127.0.0.1:9/v1", None, timeout_s=30, model="served")
    delays = {"question 0": 0.15, "question 1": 0.0, "question 2": 0.05}

    def create(*, messages, **options):
        asked = messages[0]["content"]
        if asked == "question 2" and options.get("max_tokens") == 7:
            raise EngineError("the model server refused the request (400): bad input")
        return _Chunks([f"{asked} ", "answered"], delays[asked])

    backend._client = SimpleNamespace(chat=SimpleNamespace(
        completions=SimpleNamespace(create=create)))
    caller = threading.get_ident()
    heard: list[tuple[int, str, bool]] = []
    results = backend.generate(REQUESTS, 10, on_done=lambda n, g: heard.append(
        (n, g.text, threading.get_ident() == caller)))
    assert heard == [(1, "question 1 answered", True), (2, "question 2 answered", True),
                     (0, "question 0 answered", True)]
    assert [g.text for g in results] == [f"question {n} answered" for n in range(3)]
    heard.clear()
    with pytest.raises(EngineError, match="refused"):  # after the others were reported
        backend.generate(REQUESTS, 7, on_done=lambda n, g: heard.append((n, g.text, True)))
    assert sorted(n for n, _, _ in heard) == [0, 1]

"""The whole path on real vLLM (CPU): sample_docs ingested, an Analyst over the stored
collection, the answer's usage checked against our own exact count and the history."""

from __future__ import annotations

import pytest

from core.domain import Mode
from engine.service import Analyst

pytestmark = pytest.mark.vllm


@pytest.fixture
def store(samples_store):
    return samples_store


def _analyst(settings, store, backend, tokenizer) -> Analyst:
    return Analyst(settings, store, backend.profile, tokenizer, backend)


def test_tiny_llama4_reads_every_page_and_image_with_exact_counts(settings, store, tiny,
                                                                  tiny_tokenizer):
    analyst = _analyst(settings.model_copy(update={"max_answer_tokens": 8}), store, tiny,
                       tiny_tokenizer)
    question = "Which region grew fastest?"
    context = analyst.context("Samples", question)
    assert context.mode == Mode.FULL and context.read_fraction == 1.0
    images = sum(item.segment.kind == "image" for item in context.items)
    assert images == 6  # the 3 figure pages of report.pdf, the memo scan, the 2 chart PNGs
    answer = analyst.ask("Samples", question)
    assert answer.error is None
    expected = analyst.overhead(question, context.mode) + context.corpus_tokens
    assert answer.usage.prompt_tokens == expected  # vLLM's count equals ours, images included
    assert answer.usage.prompt_image_tokens > 8000
    again = analyst.ask("Samples", "Who signed the contract?")
    assert again.usage.cached_tokens >= 0.95 * again.usage.prompt_tokens


def test_cpu_demo_answers_over_sample_docs_through_the_whole_path(settings, store, cpu_demo,
                                                                   demo_tokenizer):
    # SmolLM2-135M is too weak to assert facts on (bench/answers.py: 3 of 46 on the fact set);
    # the `cpu` model's facts are asserted in test_engine_cpu.py. Here: the path, on a real engine.
    analyst = _analyst(settings.model_copy(update={"max_answer_tokens": 48}), store, cpu_demo,
                       demo_tokenizer)
    streamed: list[str] = []
    answer = analyst.ask("Samples", "What was Quillfeather's total revenue in 2024?",
                         on_delta=streamed.append)
    assert answer.mode == Mode.FULL and answer.stop_reason is not None and streamed
    assert answer.usage.prompt_tokens > 5000 and answer.usage.completion_tokens > 0
    assert answer.usage.time_to_first_token_s is not None
    assert analyst.store.answers("Samples")[0].text == answer.text

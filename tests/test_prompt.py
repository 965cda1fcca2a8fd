"""Prompt rendering: one user message with the corpus first and the question last, byte-identical
corpus prefix across questions, exact prompt size, map-reduce messages, `context --json`."""

from __future__ import annotations

import json

from engine.packing import assemble
from engine.prompt import (
    REMINDER,
    SYSTEM_PROMPT,
    context_json,
    prompt_overhead,
    render_messages,
    render_reduce_messages,
)
from tests.test_context import (
    Llama4Counter,
    WordTokenizer,
    _collection,
    _images,
    _real_collection,
    _searcher,
)


def test_whole_prompt_costs_overhead_plus_corpus():
    tok = Llama4Counter()
    coll = _real_collection(seed=5)
    for budget in (10**7, 3000):
        context = assemble(coll, "How did revenue grow?", tok, budget, max_images=10,
                           search=_searcher(coll, [("report.pdf", 9)]))
        messages = render_messages(context, "How did revenue grow?", _images)
        overhead = prompt_overhead(tok, context.mode, "How did revenue grow?")
        assert tok.count_messages(messages) == overhead + context.corpus_tokens


def test_corpus_prefix_is_byte_identical_across_questions():
    coll = _real_collection()
    context = assemble(coll, "ignored", Llama4Counter(), 10**7, max_images=10)
    one = render_messages(context, "What is on page 7?", _images)
    two = render_messages(context, "Which files define f3?", _images)
    assert one[0] == two[0] == {"role": "system", "content": SYSTEM_PROMPT}
    assert one[1]["content"][:-1] == two[1]["content"][:-1]
    assert one[1]["content"][-1] == {"type": "text",
                                     "text": "Question: What is on page 7?" + REMINDER}
    a, b = json.dumps(one), json.dumps(two)
    question_at = a.index("Question: What")
    assert a[:question_at] == b[:question_at]
    kinds = [p["type"] for p in one[1]["content"]]
    assert kinds.count("image_url") == 5 and kinds[-1] == "text"


def test_each_image_follows_its_label_in_item_order():
    coll = _collection()
    context = assemble(coll, "q", WordTokenizer(), 10**6, max_images=10)
    parts = render_messages(context, "q", _images)[1]["content"]
    for n, part in enumerate(parts):
        if part["type"] == "image_url":
            assert parts[n - 1]["text"].endswith("p.2]\n") or parts[n - 1]["text"].endswith(
                "p.5]\n") or parts[n - 1]["text"].endswith("p.3]\n")
            assert part["image_url"]["url"].startswith("data:image/png;base64,")
    text = "".join(p["text"] for p in parts if p["type"] == "text")
    assert text.index("[D1 p.1]") < text.index("[D2 tree]") < text.index("[src/app.py:1-8]")


def test_reduce_messages_carry_partial_answers_and_question_last():
    messages = render_reduce_messages("Why?", ["Because [D1 p.2].", "Not in this part."])
    parts = messages[1]["content"]
    assert "Because [D1 p.2]." in parts[0]["text"] and parts[-1]["text"] == "Question: Why?"


def test_context_json_format():
    coll = _collection()
    context = assemble(coll, "q", WordTokenizer(), 10**6, max_images=10)
    out = context_json(context, overhead_tokens=42)
    assert set(out) == {"mode", "budget", "total_tokens", "items"}
    assert out["mode"] == "full" and out["budget"] == 10**6
    assert out["total_tokens"] == context.corpus_tokens + 42
    json.dumps(out)
    first = out["items"][0]
    assert first == {"document": "a.pdf", "page": 1, "path": None, "line_start": None,
                     "line_end": None, "kind": "text", "tokens": context.items[0].tokens,
                     "why": "whole collection"}
    code = next(i for i in out["items"] if i["kind"] == "code")
    assert code["document"] == "repo" and code["path"] == "src/app.py"
    assert (code["page"], code["line_start"], code["line_end"]) == (None, 1, 8)
    assert {i["kind"] for i in out["items"]} == {"text", "image", "code"}
    assert all(set(i) == set(first) for i in out["items"])



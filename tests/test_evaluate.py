"""`docscout eval` without a model: question sets, answer matching, evidence and citations."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from core.domain import Citation
from core.errors import QuestionSetError
from engine.evaluate import (
    Expected,
    Place,
    cites_place,
    is_correct,
    load_question_set,
    numbers_in,
    parse_place,
    says_not_found,
    select,
    summarize,
)

from .conftest import SAMPLE_DOCS


def test_the_sample_fact_set_is_complete():
    facts = load_question_set(SAMPLE_DOCS / "eval" / "facts.yaml")
    tags = {t for q in facts.questions for t in q.tags}
    assert len(facts.questions) >= 40
    assert sum(q.expected.kind == "none" for q in facts.questions) >= 8
    assert {"contract", "report", "table", "memo", "chart", "code", "unanswerable"} <= tags
    assert all(q.evidence for q in facts.questions if q.expected.kind != "none")
    charts = [q for q in facts.questions if "chart" in q.tags]
    assert {alt.name for q in charts for ev in q.evidence for alt in ev} >= {
        "revenue_by_quarter.png", "headcount_by_team.png"}


@pytest.mark.parametrize("expected, answer, correct", [
    (Expected("number", 18750.0), "The monthly fee is US$18,750 [D3 p.1].", True),
    (Expected("number", 18750.0), "The monthly fee is $18.75 [D3 p.1].", False),
    (Expected("number", 148.6), "Revenue was $148.6 million.", True),
    (Expected("number", 148.6), "Revenue was $148,600,000.", False),
    (Expected("number", 148.6e6), "Revenue was $148.6 million.", True),
    (Expected("number", 1.25), "Late payments bear 1.25% interest per month.", True),
    (Expected("number", 1000.0), "The fee is capped at $10.00.", True),  # cents written as dollars
    (Expected("number", 45.0), "45 days' written notice", True),
    (Expected("number", 45.0), "10 days [D3 p.45]", False),  # a label's page is not a claim
    (Expected("number", 12.3), "Net income was $12.3 million.", True),
    (Expected("number", 12.3), "Net income was $123 million.", False),
    (Expected("string", "Vermont"), "The laws of the State of Vermont govern it.", True),
    (Expected("string", "Vermont"), "Delaware law governs.", False),
    (Expected("string", "March 3, 2025"), "It takes effect on March 3, 2025 [D3 p.1].", True),
    (Expected("string", "0.4.2"), "The version is 0.4.2.", True),
    (Expected("string", "compute_late_fee"), "`compute_late_fee` in fees.py", True),
    (Expected("list", [172.0, 180.0]), "Between $172 million and $180 million.", True),
    (Expected("list", [172.0, 180.0]), "About $172 million.", False),
    (Expected("none", None), "The documents do not mention the CEO's salary.", True),
    (Expected("none", None), "The CEO's salary is $450,000.", False),
    (Expected("number", 39.0), "The documents do not contain this.", False),
    (Expected("number", 39.0), "", False),
])
def test_answers_are_matched(expected, answer, correct):
    assert is_correct(expected, answer) is correct


@pytest.mark.parametrize("text", [
    "Not in the documents.", "The documents do not contain this information.",
    "The provided documents do not specify a penalty.", "This is not mentioned in the documents.",
    "There is no information about the ticker symbol.", "I cannot determine this from the text."])
def test_not_found_answers_are_recognised(text):
    assert says_not_found(text)


def test_numbers_are_read_with_scales():
    assert numbers_in("$148.6 million, 1,117 units, 4%") == [148.6, 148.6e6, 1117.0, 4.0]


def test_places_and_citations():
    assert parse_place("contract.pdf p.1") == Place("contract.pdf", page_start=1, page_end=1)
    assert parse_place("report.pdf pp. 2-3") == Place("report.pdf", page_start=2, page_end=3)
    assert parse_place("shelfmark/fees.py:9-20") == Place("shelfmark/fees.py", line_start=9,
                                                          line_end=20)
    with pytest.raises(ValueError):
        parse_place("somewhere")
    page = Citation("[D3 p.1]", "sample_docs/contract.pdf", page=1, valid=True)
    assert cites_place(page, parse_place("contract.pdf p.1"))
    assert not cites_place(page, parse_place("contract.pdf p.2"))
    assert not cites_place(Citation("[D3 p.1]", "sample_docs/contract.pdf", page=1),
                           parse_place("contract.pdf p.1"))  # invalid citations never count
    lines = Citation("[shelfmark/fees.py:10-15]", "sample_docs/sample_repo",
                     path="shelfmark/fees.py", line_start=10, line_end=15, valid=True)
    assert cites_place(lines, parse_place("shelfmark/fees.py:9-20"))
    assert not cites_place(lines, parse_place("shelfmark/fees.py:3"))


def test_bad_question_sets_name_the_question(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("questions:\n  - question: What?\n")
    with pytest.raises(QuestionSetError, match="question 1: needs an 'answer'"):
        load_question_set(bad)
    bad.write_text("questions:\n  - question: What?\n    answer: 3\n    evidence: [nowhere]\n")
    with pytest.raises(QuestionSetError, match="question 1: evidence 'nowhere'"):
        load_question_set(bad)


def test_mmlongbench_samples_are_read_per_document(tmp_path):
    samples = tmp_path / "samples.json"
    samples.write_text(json.dumps([
        {"doc_id": "a.pdf", "question": "How many?", "answer": "8", "answer_format": "Int",
         "evidence_pages": "[2, 22]", "evidence_sources": "['Chart']"},
        {"doc_id": "a.pdf", "question": "Which?", "answer": "['White', '10%']",
         "answer_format": "List", "evidence_pages": "[11]", "evidence_sources": "[]"},
        {"doc_id": "a.pdf", "question": "Who?", "answer": "Not answerable",
         "answer_format": "None", "evidence_pages": "[]", "evidence_sources": "[]"},
        {"doc_id": "b.pdf", "question": "What?", "answer": "Less well-off", "answer_format": "Str",
         "evidence_pages": "[5]", "evidence_sources": "['Pure-text']"},
    ]))
    questions = load_question_set(samples).questions
    assert [q.document for q in questions] == ["a.pdf", "a.pdf", "a.pdf", "b.pdf"]
    assert questions[0].expected == Expected("number", 8.0, 0.0)
    assert questions[0].evidence == ((Place("a.pdf", 2, 2),), (Place("a.pdf", 22, 22),))
    assert questions[1].expected.value == ["White", "10%"]
    assert is_correct(questions[1].expected, "White adults, about 10%")
    assert questions[2].expected.kind == "none" and "format:None" in questions[2].tags
    assert [q.id for q in select(questions, per_document=2)] == ["mmlb-1", "mmlb-2", "mmlb-4"]


def test_summary_counts_what_the_issue_asks_for():
    def row(correct, answerable=True, stop="stop", cited=True, evidence=True, tags=()):
        return {"answerable": answerable, "correct": correct, "stop_reason": stop,
                "evidence": ["x p.1"] if evidence else [], "evidence_in_context": evidence,
                "cites_evidence": cited if evidence else None, "pages_read": 3,
                "citations": {"own_valid": int(cited), "own_invalid": 0, "inferred": 0},
                "time_to_first_token_s": 1.0, "total_time_s": 2.0, "tags": list(tags)}
    rows = [row(True, tags=["a"]), row(True, cited=False, tags=["a"]), row(False, stop="loop"),
            row(True, answerable=False, evidence=False), row(False, answerable=False,
                                                             evidence=False)]
    s = summarize(rows)
    assert (s["answerable"], s["correct"], s["accuracy"]) == (3, 2, 0.6667)
    assert (s["unanswerable"], s["said_not_found"], s["not_found_rate"]) == (2, 1, 0.5)
    assert s["loops"] == 1 and s["correct_citing_evidence"] == 0.5
    assert s["by_tag"]["a"] == {"questions": 2, "correct": 2, "accuracy": 1.0,
                                "evidence_recall": 1.0}


def test_recall_at_budgets_measures_packing_without_a_model(settings, counter):
    from engine.backends import FakeBackend
    from engine.evaluate import recall_at
    from ingest.pipeline import ingest_paths
    from storage.repository import Store

    from .conftest import fake_analyst

    store = Store(settings)
    ingest_paths([SAMPLE_DOCS], "Samples", store, settings)
    backend = FakeBackend()
    analyst = fake_analyst(settings, store, counter, backend)
    facts = load_question_set(SAMPLE_DOCS / "eval" / "facts.yaml")
    small, large, whole = recall_at(analyst, "Samples", facts.questions, [1500, 4000, 10**6])
    assert small.questions == large.questions == whole.questions > 40
    assert whole.recall == 1.0  # the whole collection fits: every evidence page is read
    assert small.found <= whole.found and small.pages_read_median < whole.pages_read_median
    assert 0 < small.recall < 1
    assert backend.requests == []  # no model was asked
    assert whole.outside == 0
    # Evidence on a page the document does not have (a printed page label) cannot be found by
    # any context: such a question is left out of the recall and counted apart.
    asked = next(q for q in facts.questions if q.evidence and q.evidence[0][0].page_start)
    place = asked.evidence[0][0]
    beyond = replace(asked, id="beyond", evidence=((replace(place, page_start=9999,
                                                           page_end=9999),),))
    both = recall_at(analyst, "Samples", [asked, beyond], [10**6])[0]
    assert (both.questions, both.found, both.outside) == (1, 1, 1)
    store.close()


def test_evidence_beyond_the_last_page_is_read_as_printed_page_labels(settings, counter, tmp_path):
    import pymupdf

    from engine.backends import FakeBackend
    from engine.evaluate import EvalQuestion, Expected, Place, recall_at
    from ingest.pipeline import ingest_paths
    from storage.repository import Store

    from .conftest import fake_analyst

    # A 6-page excerpt of a book: pages 3-6 are printed 287-290 (like MMLongBench-Doc's
    # san-francisco-11-contents.pdf, whose questions cite the printed numbers).
    doc = pymupdf.open()
    for n in range(1, 7):
        doc.new_page().insert_text((72, 72), f"Page {n} tells of harbour number {n * 11}.")
    doc.set_page_labels([{"startpage": 0, "prefix": "", "style": "D", "firstpagenum": 1},
                         {"startpage": 2, "prefix": "", "style": "D", "firstpagenum": 287}])
    (tmp_path / "book.pdf").write_bytes(doc.tobytes())
    store = Store(settings)
    [outcome] = ingest_paths([tmp_path / "book.pdf"], "Books", store, settings)
    labels = [(s.locator.page, s.locator.page_label) for s in store.segments("Books", "book.pdf")]
    assert labels == [(1, None), (2, None), (3, "287"), (4, "288"), (5, "289"), (6, "290")]
    analyst = fake_analyst(settings, store, counter, FakeBackend())

    def asking(start: int, end: int) -> EvalQuestion:
        return EvalQuestion(f"p{start}", "Which harbour number?", Expected("number", 44.0),
                            ((Place("book.pdf", start, end),),))

    questions = [asking(288, 289), asking(2, 2), asking(400, 400)]
    whole = recall_at(analyst, "Books", questions, [10**6])[0]
    # 288-289 are pages 4-5: found; 400 is printed on no page: left out.
    assert (whole.questions, whole.found, whole.by_label, whole.outside) == (2, 2, 1, 1)
    small = recall_at(analyst, "Books", [asking(289, 289)], [60])[0]
    assert small.by_label == 1 and small.pages_read_median < 6
    store.close()

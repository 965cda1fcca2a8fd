"""The answer-support check (engine/grounding.py) and how the Analyst uses it."""

from __future__ import annotations

from engine.citations import infer_citations
from engine.context import assemble
from engine.grounding import NOT_FOUND_LEAD, says_not_found, unsupported
from storage.domain import Document, DocumentKind, Locator, Segment, SegmentKind, Status

from .test_citations import Words


def _items():
    report = Segment(SegmentKind.TEXT, "Quillfeather Robotics ended the year with 412 employees, "
                     "most of them engineers in Dunmore Falls, where it is headquartered.",
                     Locator(page=1), 20)
    contract = Segment(SegmentKind.TEXT, "Services agreement between Tidewell Analytics LLC and "
                       "Marrowby Home Goods. The monthly fee is US$18,750.", Locator(page=1), 20)
    coll = [(Document("contract.pdf", DocumentKind.PDF, "a", "contract.pdf", Status.OK),
             [contract]),
            (Document("report.pdf", DocumentKind.PDF, "b", "report.pdf", Status.OK), [report])]
    return assemble(coll, "q", Words(), 10**6, max_images=10).items


def _check(question: str, answer: str):
    items = _items()
    return unsupported(question, answer, items, infer_citations(answer, items, question))


def test_an_answer_about_another_subject_is_unsupported():
    missing = _check("How many employees does Tidewell Analytics LLC have?",
                     "Tidewell Analytics LLC has 412 employees.")
    assert missing == ["analytic", "llc", "tidewell"]


def test_a_supported_answer_passes_even_when_the_question_is_phrased_freely():
    assert _check("In which town is Quillfeather headquartered?",
                  "Quillfeather is headquartered in Dunmore Falls.") is None
    assert _check("What is the monthly fee?", "The monthly fee is US$18,750.") is None
    assert _check("Who is the CEO?", "The documents do not say.") is None  # already a refusal
    assert _check("Is it good?", "Yes.") is None  # nothing to check


def test_a_figure_nothing_holds_is_unsupported():
    assert _check("What is the ticker?", "The ticker trades at 4,321 points.") is not None


def test_the_analyst_says_not_found_for_an_unsupported_answer(settings, counter):
    from engine.backends import FakeBackend
    from ingest.pipeline import ingest_paths
    from storage.repository import Store

    from .conftest import SAMPLE_DOCS, fake_analyst

    store = Store(settings)
    ingest_paths([SAMPLE_DOCS / "contract.pdf", SAMPLE_DOCS / "report.pdf"], "deal", store,
                 settings)
    backend = FakeBackend().enqueue("Tidewell Analytics LLC has 412 employees.",
                                    "The monthly fee is US$18,750.")
    analyst = fake_analyst(settings, store, counter, backend)
    answer = analyst.ask("deal", "How many employees does Tidewell Analytics LLC have?")
    assert answer.text.startswith(NOT_FOUND_LEAD) and says_not_found(answer.text)
    assert "412 employees" in answer.text  # the draft is kept, marked as unsupported
    assert not any(c.valid for c in answer.citations)
    fee = analyst.ask("deal", "What is the monthly fee?")
    assert fee.text == "The monthly fee is US$18,750."
    assert [c.document for c in fee.citations] == ["contract.pdf"]
    store.close()

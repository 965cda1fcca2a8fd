"""The answer-support check (engine/grounding.py) and how the Analyst uses it."""

from __future__ import annotations

from core.domain import Document, DocumentKind, Locator, Segment, SegmentKind, Status
from engine.citations import infer_citations
from engine.grounding import NOT_FOUND_LEAD, says_not_found, unsupported
from engine.packing import assemble

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


def _check(question: str, answer: str, items=None):
    """The support check of `answer`, its citations inferred as the Analyst infers them, over
    `items` (default: `_items()`)."""
    items = _items() if items is None else items
    return unsupported(question, answer, items, infer_citations(answer, items, question))


def test_an_answer_about_another_subject_is_unsupported():
    reason = _check("How many employees does Tidewell Analytics LLC have?",
                    "Tidewell Analytics LLC has 412 employees.")
    assert reason.missing == ("analytic", "llc", "tidewell")


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


def _report(text: str):
    segment = Segment(SegmentKind.TEXT, text, Locator(page=1), 60)
    doc = Document("report.pdf", DocumentKind.PDF, "b", "report.pdf", Status.OK)
    return assemble([(doc, [segment])], "q", Words(), 10**6, max_images=10).items


def test_a_figure_from_another_line_is_unsupported():
    items = _report("We closed the year with net income of $12.3 million, our third profitable "
                    "year in a row, thanks to strong demand for picking arms in every region. "
                    "Ada Wren, our Chief Executive Officer, also chairs the salary committee.")

    def check(question: str, answer: str):
        return _check(question, answer, items)

    salary = check("What is the annual salary of the Chief Executive Officer?",
                   "The Chief Executive Officer's annual salary is $12.3 million.")
    assert salary is not None and "'12.3'" in salary.why
    assert set(salary.missing) >= {"chief", "executive", "officer", "salary"}
    assert check("What was the net income for the year?", "Net income was $12.3 million.") is None
    assert check("Who is the Chief Executive Officer?", "Ada Wren.") is None


def test_a_figure_is_placed_by_its_sentence_and_its_neighbourhood_together():
    from engine.grounding import stem

    # A signature line within 100 characters, but another paragraph: not the figure's subject.
    items = _report("Revenue reached $148.6 million and we closed the year with net income of "
                    "$12.3 million.\n\nAda Wren, Chief Executive Officer\n\n2024 at a glance")
    question = "What is the annual salary of the Chief Executive Officer?"
    answer = "The Chief Executive Officer's annual salary is $12.3 million."
    assert unsupported(question, answer, items, infer_citations(answer, items, question))
    # A subject named in the sentence before the figure, across a PDF's wrapped line: placed.
    items = _report("Our flagship product is the Wren-7 picking arm. It\nshipped 704 units in "
                    "2024, more than ever.")
    question = "How many Wren arms did Quillfeather ship in 2024?"
    answer = "Quillfeather shipped 704 Wren-7 arms in 2024."
    assert unsupported(question, answer, items, infer_citations(answer, items, question)) is None
    assert stem("arms") == stem("arm") and stem("fees") == "fee" and stem("less") == "less"


def test_a_made_up_code_is_unsupported_a_common_abbreviation_is_not():
    items = _items()
    ticker = unsupported("What is Quillfeather's ticker symbol?", "Its ticker is QFRB.", items, ())
    assert ticker is not None and "'QFRB'" in ticker.why
    fee = "The monthly fee is USD 18,750."
    assert unsupported("What is the monthly fee?", fee, items,
                       infer_citations(fee, items, "What is the monthly fee?")) is None


def test_the_numbers_of_a_reference_code_are_not_the_answers_figures():
    items = _report("Services Agreement TWA-MSA-2025-017. The parties submit to the exclusive "
                    "jurisdiction of the courts located in Chittenden County, Vermont.\n\n"
                    "Agreement No. TWA-MSA-2025-017 - Confidential")

    def check(question: str, answer: str):
        return _check(question, answer, items)

    # Seen on the fact set: the right county, with the agreement's number as where it is said.
    assert check("The courts of which county have exclusive jurisdiction under the agreement?",
                 "The courts of Chittenden County have exclusive jurisdiction. This is stated in "
                 "Services Agreement TWA-MSA-2025-017.") is None
    # A figure of the claim is still checked: 2025 given as a headcount is not supported.
    assert check("How many people work in Chittenden County?",
                 "2025 people work there.") is not None


def test_a_date_beside_a_name_is_not_the_claim_unless_the_question_asks_when():
    items = _report("IN WITNESS WHEREOF, the parties have signed this Agreement.\n\n"
                    "For Marrowby Home Goods, Inc. (the Client)\nSignature\n"
                    "Name: Desmond Arkwright\nTitle: Vice President, Operations\n"
                    "Date: March 3, 2025")

    def check(question: str, answer: str):
        return _check(question, answer, items)

    # Seen in the browser: the right name was refused because of the signature's date.
    assert check("Who signed the agreement for the Client?",
                 "Desmond Arkwright signed it for the Client on March 3, 2025.") is None
    from engine.citations import answer_figures

    assert answer_figures("The Client signed it on March 3, 2025.",  # asked when: the claim
                          "When did the Client sign the agreement?") == ["2025"]
    assert check("When did the Client sign the agreement?",
                 "The Client signed it on June 9, 2031.") is not None  # a date nothing holds


def test_a_chart_value_read_by_ocr_is_about_the_chart_title_above_it():
    from core.domain import OCR_IMAGE_HEADER, OCR_VALUES

    chart = "\n".join([
        OCR_IMAGE_HEADER, "Quillfeather Robotics - Revenue by Quarter, FY2024",
        "US$ millions, all regions (full year: $148.6 million)", "Q1 2024 Q2 2024 Q3 2024",
        "Fiscal quarter", "Axis ticks: 0, 10, 20, 30, 40, 50", OCR_VALUES,
        "Q1 2024: $31.2M", "Q2 2024: $35.8M", "Q3 2024: $38.4M"])
    items = _report(chart)
    question = "According to the revenue by quarter chart, what was revenue in Q2 2024?"
    answer = "Revenue in Q2 2024 was $35.8 million."
    # The value sits 200 characters below the title: its neighbourhood alone holds no subject.
    assert unsupported(question, answer, items, infer_citations(answer, items, question)) is None
    # The chart's title does not make a question about something else supported.
    items = _report(chart + "\n\nHeadcount: 168 people work in engineering.")
    question = "How many people work in engineering?"
    answer = "35.8 people work in engineering."
    reason = unsupported(question, answer, items, infer_citations(answer, items, question))
    assert reason is not None and "engineer" in reason.missing

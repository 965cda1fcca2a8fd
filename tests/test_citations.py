"""Citation labels and the checking of an answer's citations against what was in the prompt."""

from __future__ import annotations

import random

import pytest

from core.domain import Citation, Document, DocumentKind, Locator, Segment, SegmentKind, Status
from engine.citations import ambiguous_paths, label_for, parse_citations, parse_refs
from engine.packing import assemble
from engine.types import ContextItem


def _doc(source: str, kind: DocumentKind = DocumentKind.PDF) -> Document:
    return Document(source, kind, source, source, Status.OK)


def _page(page: int, kind: SegmentKind = SegmentKind.TEXT) -> Segment:
    return Segment(kind, f"text of page {page}", Locator(page=page), 4,
                   "img" if kind == SegmentKind.IMAGE else None)


def _file(path: str, a: int, b: int) -> Segment:
    return Segment(SegmentKind.CODE, "\n".join(["x = 1"] * (b - a + 1)),
                   Locator(path=path, line_start=a, line_end=b), 10)


TREE = Segment(SegmentKind.TEXT, "Codebase: repo", Locator(path="."), 3)


class Words:
    def count_text(self, text: str) -> int:
        return len(text.split())

    def count_image(self, width: int, height: int) -> int | None:
        return 100

    def count_messages(self, messages: list[dict]) -> int:
        return 0


def _prompt_items() -> list[ContextItem]:
    """D1 report.pdf pages 1-3 and 12 (page 12 with its image), D2 notes.md lines 1-200,
    D3 and D4 two codebases that both have src/app.py, D3 also src/only.py:1-80."""
    coll = [
        (_doc("report.pdf"), [_page(1), _page(2), _page(3), _page(12, SegmentKind.IMAGE), _page(12)]),
        (_doc("notes.md", DocumentKind.TEXT),
         [Segment(SegmentKind.TEXT, "notes", Locator(path="notes.md", line_start=1, line_end=200), 1),
          Segment(SegmentKind.TEXT, "more", Locator(path="notes.md", line_start=201, line_end=260), 1)]),
        (_doc("repo-a", DocumentKind.CODE), [TREE, _file("src/app.py", 1, 42), _file("src/only.py", 1, 80)]),
        (_doc("repo-b", DocumentKind.CODE), [TREE, _file("src/app.py", 1, 30)]),
    ]
    return list(assemble(coll, "q", Words(), 10**6, max_images=10).items)


ITEMS = _prompt_items()


def _one(text: str) -> Citation:
    found = parse_citations(text, ITEMS)
    assert len(found) == 1, found
    return found[0]


# -- labels ---------------------------------------------------------------------------------------


def test_labels():
    pdf, md, code = _doc("r.pdf"), _doc("n.md", DocumentKind.TEXT), _doc("repo", DocumentKind.CODE)
    image_file = _doc("chart.png", DocumentKind.IMAGE)
    assert label_for(3, pdf, _page(12)) == "[D3 p.12]"
    assert label_for(3, pdf, _page(12, SegmentKind.IMAGE)) == "[D3 p.12]"
    assert label_for(6, image_file, _page(1, SegmentKind.IMAGE)) == "[D6 p.1]"
    md_seg = Segment(SegmentKind.TEXT, "x", Locator(path="n.md", line_start=1, line_end=200), 1)
    assert label_for(5, md, md_seg) == "[D5 lines 1-200]"
    assert label_for(4, code, TREE) == "[D4 tree]"
    assert label_for(4, code, _file("src/app.py", 10, 42)) == "[src/app.py:10-42]"
    assert label_for(4, code, _file("src/app.py", 10, 42), {"src/app.py"}) == "[D4 src/app.py:10-42]"
    empty = Segment(SegmentKind.CODE, "", Locator(path="src/__init__.py"), 3)
    assert label_for(4, code, empty) == "[src/__init__.py]"


def test_ambiguous_paths_are_those_of_two_codebases():
    coll = [(_doc("a", DocumentKind.CODE), [TREE, _file("src/app.py", 1, 2), _file("a.py", 1, 2)]),
            (_doc("b", DocumentKind.CODE), [TREE, _file("src/app.py", 1, 2), _file("b.py", 1, 2)]),
            (_doc("n.md", DocumentKind.TEXT), [Segment(SegmentKind.TEXT, "x", Locator(path="a.py"), 1)])]
    assert ambiguous_paths(coll) == {"src/app.py"}


def test_prompt_labels_prefix_only_the_shared_path():
    labels = [i.label for i in ITEMS]
    assert labels == ["[D1 p.1]", "[D1 p.2]", "[D1 p.3]", "[D1 p.12]", "[D1 p.12]",
                      "[D2 lines 1-200]", "[D2 lines 201-260]", "[D3 tree]",
                      "[D3 src/app.py:1-42]", "[src/only.py:1-80]", "[D4 tree]",
                      "[D4 src/app.py:1-30]"]


# -- parsing --------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", [
    "[D1 p.12]", "[D1 p. 12]", "[D1, p.12]", "[D1 page 12]", "[D1 pg. 12]", "[d1 p.12]",
    "[D1:12]", "[see D1 p.12]", "[D1 P.12]",
])
def test_page_citation_variations_are_valid(text):
    assert _one(f"Revenue grew {text}.") == Citation(text, "report.pdf", page=12, valid=True)


def test_wrong_page_keeps_the_document_but_is_invalid():
    assert _one("[D1 p.7]") == Citation("[D1 p.7]", "report.pdf", page=7, valid=False)


def test_wrong_document_points_nowhere():
    assert _one("[D9 p.1]") == Citation("[D9 p.1]", None, page=1, valid=False)


def test_page_range_is_checked_page_by_page():
    found = parse_citations("[D1 pp.2-3] and [D1 pp. 3–4]", ITEMS)
    assert [(c.page, c.valid) for c in found] == [(2, True), (3, True), (3, True), (4, False)]


def test_code_citations():
    assert _one("[src/only.py:12]") == Citation("[src/only.py:12]", "repo-a", path="src/only.py",
                                                line_start=12, line_end=12, valid=True)
    assert _one("[src/only.py:12-20]").valid
    assert _one("[only.py:12-20]").path == "src/only.py"  # a suffix of one file in the prompt
    assert _one("[`src/only.py` lines 3-4]").valid
    assert _one("[src/only.py#L3-L9]").valid
    assert _one("[src/only.py L3-L9]").valid
    assert _one("[src/only.py]").valid
    outside = _one("[src/only.py:70-95]")
    assert (outside.document, outside.valid) == ("repo-a", False)
    missing = _one("[src/missing.py:1-3]")
    assert (missing.document, missing.path, missing.valid) == (None, "src/missing.py", False)


def test_a_shared_path_needs_its_document_number():
    assert _one("[D4 src/app.py:10-20]") == Citation(
        "[D4 src/app.py:10-20]", "repo-b", path="src/app.py", line_start=10, line_end=20, valid=True)
    assert _one("[D3 src/app.py:35-42]").valid
    assert not _one("[D4 src/app.py:35-42]").valid  # repo-b's app.py has 30 lines
    ambiguous = _one("[src/app.py:3]")
    assert (ambiguous.document, ambiguous.valid) == (None, False)
    assert not _one("[D1 src/only.py:3]").valid  # the file is D3's, not D1's


def test_tree_text_lines_and_whole_documents():
    assert _one("[D3 tree]") == Citation("[D3 tree]", "repo-a", path=".", valid=True)
    assert not _one("[D1 tree]").valid
    lines = _one("[D2 lines 150-230]")  # across two segments, both in the prompt
    assert (lines.document, lines.path, lines.valid) == ("notes.md", "notes.md", True)
    assert not _one("[D2 lines 250-300]").valid
    assert _one("[notes.md:5-9]").valid
    assert _one("[D1]") == Citation("[D1]", "report.pdf", valid=True)
    assert not _one("[D8]").valid


def test_several_citations_in_one_bracket():
    found = parse_citations("Both [D1 p.2; D1 p.3, src/only.py:4-5] agree.", ITEMS)
    assert [(c.document, c.page, c.path, c.valid) for c in found] == [
        ("report.pdf", 2, None, True), ("report.pdf", 3, None, True),
        ("repo-a", None, "src/only.py", True)]
    assert all(c.label == "[D1 p.2; D1 p.3, src/only.py:4-5]" for c in found)
    assert [c.page for c in parse_citations("[D1 p.2, 3, 7]", ITEMS)] == [2, 3, 7]
    assert [c.valid for c in parse_citations("[D1 p.2, 3, 7]", ITEMS)] == [True, True, False]
    assert [(c.line_start, c.valid) for c in parse_citations("[src/only.py:1-3, 79-81]", ITEMS)] == [
        (1, True), (79, False)]
    assert [c.document for c in parse_citations("[D1 p.1, D3 tree]", ITEMS)] == ["report.pdf",
                                                                                "repo-a"]


def test_a_page_without_its_document_resolves_only_when_unique():
    assert _one("[p.12]").document == "report.pdf" and _one("[p.12]").valid
    assert not _one("[p.99]").valid


def test_what_is_not_a_citation_is_ignored():
    text = ("A footnote[1], a [link](http://x.org), a checkbox [x], [sic], [e.g.], [i.e], "
            "[0.5], [2023], [12:30] and [Figure 2].")
    assert parse_citations(text, ITEMS) == ()


def test_duplicates_are_reported_once():
    assert len(parse_citations("[D1 p.2] then again [D1 p.2].", ITEMS)) == 1


def test_nothing_outside_the_prompt_is_ever_valid():
    rng = random.Random(7)
    pages = {1, 2, 3, 12}
    for _ in range(2000):
        d, p = rng.randint(0, 6), rng.randint(0, 20)
        a = rng.randint(0, 100)
        b = a + rng.randint(0, 30)
        form = rng.choice([f"[D{d} p.{p}]", f"[D{d}, pp.{p}-{p + 1}]", f"[src/only.py:{a}-{b}]",
                           f"[D{d} src/app.py:{a}-{b}]", f"[D{d} lines {a}-{b}]", f"[D{d} tree]"])
        for c in parse_citations(form, ITEMS):
            if not c.valid:
                continue
            if c.page is not None:
                assert c.document == "report.pdf" and c.page in pages
            elif c.path == "src/only.py":
                assert 1 <= c.line_start <= c.line_end <= 80
            elif c.path == "src/app.py":
                limit = 42 if c.document == "repo-a" else 30
                assert 1 <= c.line_start <= c.line_end <= limit
            elif c.path == "notes.md":
                assert 1 <= c.line_start <= c.line_end <= 260
            else:
                assert c.path == "." and c.document in ("repo-a", "repo-b")


def test_parse_refs_reads_the_parts():
    assert [r.kind for r in parse_refs("D3, p.12")] == ["page"]
    assert [(r.kind, r.doc) for r in parse_refs("D3; D4 p.2")] == [("doc", 3), ("page", 4)]
    assert [(r.start, r.end) for r in parse_refs("D3 pp.12-p.14")] == [(12, 14)]
    assert parse_refs("just words") == []


# -- inferred citations ---------------------------------------------------------------------------


def _inference_items() -> list[ContextItem]:
    contract = Segment(SegmentKind.TEXT, "5. Payment Terms. The Client shall pay each undisputed "
                       "invoice within thirty (30) days of the invoice date. Late payments bear "
                       "interest at 1.25% per month.", Locator(page=1), 30)
    memo = Segment(SegmentKind.TEXT, "Deliveries move to Dock 4 for 30 days while the roof over "
                   "Building C is replaced.", Locator(page=1), 20)
    code = Segment(SegmentKind.CODE, "GRACE_DAYS = 3\nDAILY_RATE_CENTS = 25\nLOAN_DAYS = 30\n"
                   "def late_fee(days):\n    return min(days * 25, 1000)\n",
                   Locator(path="fees.py", line_start=1, line_end=5), 30)
    coll = [(_doc("contract.pdf"), [contract]), (_doc("memo.pdf"), [memo]),
            (_doc("repo", DocumentKind.CODE), [TREE, code])]
    return list(assemble(coll, "q", Words(), 10**6, max_images=10).items)


def test_inferred_citation_goes_to_the_item_that_holds_the_claim():
    from engine.citations import infer_citations

    items = _inference_items()
    found = infer_citations("The Client must pay each invoice within 30 days of the invoice "
                            "date.", items, "When must the client pay an invoice?")
    assert [(c.document, c.page, c.inferred, c.valid) for c in found] == [
        ("contract.pdf", 1, True, True)]
    code = infer_citations("Loans last 30 days; each late day costs 25 cents.", items,
                           "How long is a loan?")
    assert [(c.document, c.path) for c in code] == [("repo", "fees.py")]
    assert infer_citations("It is monthly.", items) == ()
    assert infer_citations("The fee is 999.", items) == ()  # a figure no item holds


def test_a_citation_to_a_page_without_the_claim_is_flagged():
    from engine.citations import confirm_citations

    items = _inference_items()
    wrong = "Late payments bear interest at 1.25% per month [D2 p.1]."  # D2 is the memo
    [memo] = confirm_citations(parse_citations(wrong, items), wrong, items)
    assert memo.document == "memo.pdf" and not memo.valid
    right = "Late payments bear interest at 1.25% per month [D1 p.1]; see also [D2 p.1]."
    assert all(c.valid for c in confirm_citations(parse_citations(right, items), right, items))
    wordy = "The memo explains the roof work [D2 p.1]."  # no figure to check: left alone
    assert confirm_citations(parse_citations(wordy, items), wordy, items)[0].valid

"""Context assembly and prompt rendering: full vs focused, overviews, document order, the image
limit, map-reduce windows, exact Llama 4 token additivity, prefix byte-identity, context JSON."""

from __future__ import annotations

import io
import itertools
import random
import re
import time
from dataclasses import replace

from core.domain import (
    Document,
    DocumentKind,
    Locator,
    Mode,
    SearchHit,
    Segment,
    SegmentKind,
    Status,
)
from core.tokens import count_image_tokens, count_text_tokens
from engine.costs import content_of, item_text, piece
from engine.packing import _pairs, asks_to_see, assemble, rerank
from engine.prompt import (
    prompt_overhead,
    render_messages,
)
from engine.windows import windows

# -- test doubles ---------------------------------------------------------------------------------


class WordTokenizer:
    """A fake tokenizer: one token per whitespace-separated word, 100 per image (or no images)."""

    def __init__(self, images: bool = True) -> None:
        self.images = images

    def count_text(self, text: str) -> int:
        return len(text.split())

    def count_image(self, width: int, height: int) -> int | None:
        return 100 if self.images else None

    def count_messages(self, messages: list[dict]) -> int:
        total = 10
        for message in messages:
            content = message["content"]
            parts = [{"type": "text", "text": content}] if isinstance(content, str) else content
            for part in parts:
                total += self.count_text(part["text"]) if part["type"] == "text" else 100
        return total


_SPECIAL = re.compile(r"<\|[a-z_]+\|>")


class Llama4Counter:
    """Exact Llama 4 counts from core.tokens, and a chat request counted as vLLM renders it
    with Llama 4's template: specials 1 token each, text between them, image tokens per image."""

    def count_text(self, text: str) -> int:
        return count_text_tokens(text)

    def count_image(self, width: int, height: int) -> int | None:
        return count_image_tokens(width, height)

    def count_messages(self, messages: list[dict]) -> int:
        import base64

        from PIL import Image

        prompt, image_tokens = ["<|begin_of_text|>"], 0
        for message in messages:
            prompt.append(f"<|header_start|>{message['role']}<|header_end|>\n\n")
            content = message["content"]
            for part in [{"type": "text", "text": content}] if isinstance(content, str) else content:
                if part["type"] == "text":
                    prompt.append(part["text"])
                else:
                    data = base64.b64decode(part["image_url"]["url"].split(",", 1)[1])
                    width, height = Image.open(io.BytesIO(data)).size
                    image_tokens += count_image_tokens(width, height)
                    prompt.append("<|image|>")
            prompt.append("<|eot|>")
        prompt.append("<|header_start|>assistant<|header_end|>\n\n")
        text = "".join(prompt)
        specials = len(_SPECIAL.findall(text)) - text.count("<|image|>")
        chunks = _SPECIAL.split(text)
        return specials + image_tokens + sum(count_text_tokens(c) for c in chunks)


def _png(width: int, height: int) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 10, 10)).save(out, "PNG")
    return out.getvalue()


IMAGES = {"img-a": (_png(336, 336), "image/png"), "img-b": (_png(1000, 700), "image/png")}


def _images(sha: str) -> tuple[bytes, str]:
    return IMAGES[sha]


# -- collections ----------------------------------------------------------------------------------


def _doc(source: str, kind: DocumentKind = DocumentKind.PDF) -> Document:
    return Document(source, kind, source, source, Status.OK)


def _text(page: int, words: int, tokens: int | None = None) -> Segment:
    text = " ".join(f"w{page}x{i}" for i in range(words))
    return Segment(SegmentKind.TEXT, text, Locator(page=page), words if tokens is None else tokens)


def _image(page: int, tokens: int = 100, sha: str = "img-a") -> Segment:
    return Segment(SegmentKind.IMAGE, "", Locator(page=page), tokens, sha)


def _code(path: str, lines: list[str]) -> Segment:
    seg = Segment(SegmentKind.CODE, "\n".join(lines), Locator(path=path, line_start=1,
                                                                line_end=len(lines)), 0)
    return Segment(seg.kind, seg.text, seg.locator, len(seg.prompt_text.split()))


def _tree(words: int = 5) -> Segment:
    return Segment(SegmentKind.TEXT, " ".join(["tree"] * words), Locator(path="."), words)


def _pdf(source: str, pages: int, words: int = 20, image_pages: tuple[int, ...] = ()) -> tuple:
    segs = []
    for p in range(1, pages + 1):
        if p in image_pages:
            segs.append(_image(p))
        segs.append(_text(p, words))
    return _doc(source), segs


def _codebase(source: str, files: dict[str, int]) -> tuple:
    segs = [_tree()] + [_code(path, [f"line {i} of {path}" for i in range(n)])
                        for path, n in files.items()]
    return _doc(source, DocumentKind.CODE), segs


def _collection() -> list[tuple]:
    return [
        _pdf("a.pdf", 6, image_pages=(2, 5)),
        _codebase("repo", {"src/app.py": 8, "src/util.py": 5}),
        _pdf("c.pdf", 4, image_pages=(3,)),
        _pdf("d.pdf", 5),
    ]


def _keys(context) -> list[tuple[str, int]]:
    return [(i.document.source, i.ordinal) for i in context.items]


def _all_keys(collection, images: bool = True) -> list[tuple[str, int]]:
    return [(doc.source, s) for doc, segs in collection for s, seg in enumerate(segs)
            if images or seg.kind != SegmentKind.IMAGE]


def _searcher(collection, ranked: list[tuple[str, int]]):
    by_source = {doc.source: segs for doc, segs in collection}

    def search(question: str, k: int) -> list[SearchHit]:
        return [SearchHit(src, o, by_source[src][o], -10.0 + i)
                for i, (src, o) in enumerate(ranked[:k])]

    return search


# -- full vs focused ------------------------------------------------------------------------------


def test_full_mode_when_the_budget_equals_the_sum_exactly():
    coll = _collection()
    tok = WordTokenizer()
    everything = assemble(coll, "q", tok, 10**9, max_images=10)
    total = everything.corpus_tokens
    exact = assemble(coll, "q", tok, total, max_images=10)
    assert exact.mode == Mode.FULL and exact.corpus_tokens == total
    assert _keys(exact) == _all_keys(coll)
    assert exact.read_fraction == 1.0
    short = assemble(coll, "q", tok, total - 1, max_images=10)
    assert short.mode == Mode.FOCUSED and short.corpus_tokens <= total - 1


def test_item_tokens_are_label_plus_content():
    coll = _collection()
    context = assemble(coll, "q", WordTokenizer(), 10**9, max_images=10)
    for item in context.items:
        assert item.tokens == WordTokenizer().count_text(piece(item.label, item.segment)) + (
            100 if item.segment.kind == SegmentKind.IMAGE else 0)


def test_focused_keeps_overviews_and_document_order():
    coll = _collection()
    search = _searcher(coll, [("d.pdf", 3), ("a.pdf", 4), ("repo", 2)])
    context = assemble(coll, "q", WordTokenizer(), 240, max_images=10, search=search)
    assert context.mode == Mode.FOCUSED
    keys = _keys(context)
    order = {doc.source: n for n, (doc, _) in enumerate(coll)}
    assert keys == sorted(keys, key=lambda k: (order[k[0]], k[1]))  # document order
    for overview in [("a.pdf", 0), ("repo", 0), ("c.pdf", 0), ("d.pdf", 0)]:
        assert overview in keys
    assert ("d.pdf", 3) in keys and ("a.pdf", 4) in keys and ("repo", 2) in keys
    assert context.corpus_tokens <= 240


def test_every_item_says_why_it_was_chosen():
    coll = _collection()
    # a.pdf: [text p1, image p2, text p2, text p3, text p4, image p5, text p5, text p6]
    search = _searcher(coll, [("d.pdf", 3), ("a.pdf", 6), ("d.pdf", 0)])
    context = assemble(coll, "q", WordTokenizer(), 400, max_images=10, search=search)
    why = {(i.document.source, i.ordinal): i.why for i in context.items}
    assert why[("d.pdf", 3)] == "search rank 1" and why[("a.pdf", 6)] == "search rank 2"
    assert why[("a.pdf", 5)] == "same page as search rank 2"  # page 5's image, with its text
    assert why[("d.pdf", 2)] == why[("d.pdf", 4)] == "next to search rank 1"  # pages 2 and 4
    assert why[("a.pdf", 4)] == why[("a.pdf", 7)] == "next to search rank 2"  # pages 4 and 6
    assert why[("d.pdf", 0)] == "overview, search rank 3" and why[("c.pdf", 0)] == "overview"
    assert all(why.values()) and "fill" in why.values()
    full = assemble(coll, "q", WordTokenizer(), 10**9, max_images=10)
    assert {i.why for i in full.items} == {"whole collection"}


def test_ranked_pages_beyond_the_best_two_come_as_text_before_their_images():
    coll = _collection()
    # a.pdf page 5 is [image (5), text (6)]; it is ranked third, after two d.pdf pages.
    ranked = [("d.pdf", 3), ("d.pdf", 4), ("a.pdf", 6), ("c.pdf", 1)]
    search = _searcher(coll, ranked)
    texts_only = 0
    for budget in range(0, 700, 5):
        keys = set(_keys(assemble(coll, "q", WordTokenizer(), budget, max_images=10,
                                  search=search)))
        if ("a.pdf", 5) in keys:  # the third page's image: only once every ranked text is in
            assert set(ranked) <= keys, budget
        texts_only += set(ranked) <= keys and ("a.pdf", 5) not in keys
    assert texts_only  # some budget reads every ranked page's text, and not that image


def test_the_best_pages_bring_their_neighbours_right_after_them():
    coll = [_pdf("a.pdf", 12), _pdf("b.pdf", 12)]  # one text segment per page: ordinal = page - 1
    ranked = [("a.pdf", 5), ("b.pdf", 9), ("a.pdf", 0), ("b.pdf", 2), ("a.pdf", 10)]
    search = _searcher(coll, ranked)
    whole = assemble(coll, "q", WordTokenizer(), 10**6, max_images=0, search=search)
    budget = whole.corpus_tokens - 1  # focused, with room for almost everything
    why = {(i.document.source, i.ordinal): i.why
           for i in assemble(coll, "q", WordTokenizer(), budget, max_images=0,
                             search=search).items}
    assert why[("a.pdf", 4)] == why[("a.pdf", 6)] == "next to search rank 1"
    assert why[("b.pdf", 8)] == why[("b.pdf", 10)] == "next to search rank 2"
    assert why[("a.pdf", 1)] == "next to search rank 3"  # page 1 has no page before it
    assert why[("b.pdf", 1)] != "next to search rank 4"  # only the best three bring neighbours
    # At a budget for about four pages, rank 1 comes with its neighbours before rank 2.
    small = {(i.document.source, i.ordinal): i.why
             for i in assemble(coll, "q", WordTokenizer(), 120, max_images=0,
                               search=search).items}
    assert ("a.pdf", 4) in small and ("a.pdf", 6) in small and ("b.pdf", 9) not in small


def test_a_question_about_what_pages_show_brings_their_images_first():
    coll = [_pdf("a.pdf", 6, image_pages=(2, 3)), _pdf("b.pdf", 6)]
    # a.pdf: [text p1, image p2, text p2, image p3, text p3, text p4, ...]; b.pdf's ranked pages
    # are 2, 4 and 6: no two side by side (rerank would move pages next to a hit up)
    ranked = [("a.pdf", 2), ("b.pdf", 1), ("b.pdf", 3), ("b.pdf", 5)]
    search = _searcher(coll, ranked)
    for question, image_first in [("What does the chart on growth show?", True),
                                  ("What colour is the logo?", True),
                                  ("What was the growth in 2023?", False)]:
        assert asks_to_see(question) is image_first
        keys = set()
        for budget in range(100, 400, 10):
            keys = set(_keys(assemble(coll, question, WordTokenizer(), budget, max_images=10,
                                      search=search)))
            if ("a.pdf", 1) in keys or set(ranked) <= keys:
                break
        # a visual question reads the best page's image before the other ranked pages' text
        assert (("a.pdf", 1) in keys and not set(ranked) <= keys) is image_first, question


def _hits(pages: dict[int, tuple[str, float]]) -> tuple[dict, list]:
    """rerank's input for one PDF of 12 pages (ordinal = page - 1): the hits on `pages`, each
    with its text and bm25 score."""
    segs = [Segment(SegmentKind.TEXT, pages.get(p, ("nothing here", 0))[0], Locator(page=p), 5)
            for p in range(1, 13)]
    hits = {(0, p - 1): SearchHit("a.pdf", p - 1, segs[p - 1], score)
            for p, (_, score) in pages.items()}
    return hits, [segs]


def _pages(ranked: list[tuple[int, int]]) -> list[int]:
    return [s + 1 for _, s in ranked]


def test_a_page_between_two_hits_moves_up():
    hits, segs = _hits({3: ("alpha", -10.0), 8: ("beta alpha", -9.5), 9: ("beta", -6.0)})
    assert _pages(rerank("alpha beta", hits, segs)) == [8, 3, 9]  # -9.5 - 0.5 * 6 / 2 < -10
    alone, segs = _hits({3: ("alpha", -10.0), 8: ("beta alpha", -9.5), 11: ("beta", -6.0)})
    assert _pages(rerank("alpha beta", alone, segs)) == [3, 8, 11]  # bm25's order


def test_a_page_holding_the_questions_phrase_moves_up():
    hits, segs = _hits({2: ("revenue of the net assets", -10.0), 5: ("net revenue grew", -8.0)})
    question = "What was net revenue?"
    assert _pairs(question) == {("was", "net"), ("net", "revenue")}  # "what was": stop words
    assert _pages(rerank(question, hits, segs)) == [5, 2]  # -8 - 10 * 1 / 2 < -10
    hits, segs = _hits({2: ("revenue of the net assets", -10.0), 5: ("net growth", -8.0)})
    assert _pages(rerank(question, hits, segs)) == [2, 5]


def test_a_page_the_question_names_comes_first():
    hits, segs = _hits({2: ("chart of sales", -10.0), 5: ("sales", -8.0)})
    for question in ("What does the chart on page 7 show?", "Sales on Slide 7?"):
        assert _pages(rerank(question, hits, segs)) == [7, 2, 5]  # page 7 holds no word
    assert _pages(rerank("Sales in 2007 pages?", hits, segs)) == [2, 5]


def test_a_page_number_the_document_prints_means_that_page():
    hits, segs = _hits({2: ("chart of sales", -10.0), 5: ("sales", -8.0)})
    # A book excerpt: pages 4-12 of the file are printed 287-295.
    segs = [[replace(s, locator=Locator(page=s.locator.page, page_label=str(s.locator.page + 283)))
             if s.locator.page >= 4 else s for s in segs[0]]]
    hits = {key: replace(hit, segment=segs[0][key[1]]) for key, hit in hits.items()}
    assert _pages(rerank("What is on page 290?", hits, segs)) == [7, 2, 5]
    assert _pages(rerank("What is on page 3?", hits, segs)) == [3, 2, 5]  # printed on no page
    assert _pages(rerank("Sales on page 7?", hits, segs)) == [7, 2, 5]  # (printed 290)


def test_a_figure_or_table_the_question_names_comes_first_by_its_caption():
    hits, segs = _hits({2: ("as Figure 3 shows, sales grew", -10.0),
                        5: ("Figure 2: costs", -9.0), 9: ("sales\nFig. 3. Sales by year", -4.0),
                        11: ("Table 3 Staff", -3.0)})
    assert _pages(rerank("What does Figure 3 show about sales?", hits, segs))[:1] == [9]
    assert _pages(rerank("What does table 3 say?", hits, segs))[:1] == [11]
    named = rerank("Which year does Fig 3 on page 12 show?", hits, segs)
    assert _pages(named)[:2] == [12, 9]  # a named page first, then the caption


def test_rerank_reads_a_named_page_into_a_small_context():
    coll = [_pdf("a.pdf", 30), _pdf("b.pdf", 30)]  # page 20 of the best hit's document only
    search = _searcher(coll, [("a.pdf", 3), ("a.pdf", 10), ("b.pdf", 1)])
    context = assemble(coll, "What is on page 20?", WordTokenizer(), 120, max_images=0,
                       search=search)
    why = {(i.document.source, i.ordinal): i.why for i in context.items}
    assert why[("a.pdf", 19)] == "search rank 1" and ("b.pdf", 19) not in why
    assert why[("a.pdf", 18)] == "next to search rank 1"


def test_focused_ranks_before_filling_and_never_exceeds_the_budget():
    coll = _collection()
    search = _searcher(coll, [("d.pdf", 4)])
    for budget in range(0, 400, 7):
        context = assemble(coll, "q", WordTokenizer(), budget, max_images=1, search=search)
        assert context.corpus_tokens <= budget
        assert context.corpus_tokens == sum(i.tokens for i in context.items)
        assert sum(i.segment.kind == SegmentKind.IMAGE for i in context.items) <= 1
        assert len(set(_keys(context))) == len(context.items)
    # the one hit fits once the overviews are in
    assert ("d.pdf", 4) in _keys(assemble(coll, "q", WordTokenizer(), 120, max_images=1,
                                          search=search))


def test_a_page_image_goes_with_its_text():
    coll = _collection()
    # a.pdf: [text p1, image p2, text p2, text p3, text p4, image p5, text p5, text p6]
    search = _searcher(coll, [("a.pdf", 6)])  # text of page 5
    context = assemble(coll, "q", WordTokenizer(), 400, max_images=10, search=search)
    assert ("a.pdf", 5) in _keys(context) and ("a.pdf", 6) in _keys(context)


def test_overview_of_a_pdf_starting_with_a_page_image_is_its_text():
    coll = [_pdf("x.pdf", 3, image_pages=(1,)), _pdf("y.pdf", 30)]
    context = assemble(coll, "q", WordTokenizer(), 80, max_images=0)
    assert ("x.pdf", 1) in _keys(context) and ("x.pdf", 0) not in _keys(context)


def test_image_limit_is_never_exceeded():
    coll = _collection()  # 3 images
    tok = WordTokenizer()
    assert assemble(coll, "q", tok, 10**6, max_images=3).mode == Mode.FULL
    limited = assemble(coll, "q", tok, 10**6, max_images=2,
                       search=_searcher(coll, [("c.pdf", 3), ("a.pdf", 6)]))
    assert limited.mode == Mode.FOCUSED  # "full" means the model read all it can read
    images = [k for k, i in zip(_keys(limited), limited.items) if i.segment.kind == "image"]
    assert images == [("a.pdf", 5), ("c.pdf", 2)]  # the images of the best-ranked pages
    texts = [k for k in _all_keys(coll) if coll_seg(coll, k).kind != SegmentKind.IMAGE]
    assert set(texts) <= set(_keys(limited))  # all the text still fits, so all of it is read
    assert all(i.segment.kind != "image" for i in assemble(coll, "q", tok, 10**6,
                                                           max_images=0).items)


def coll_seg(coll, key):
    return {d.source: s for d, s in coll}[key[0]][key[1]]


def test_a_text_only_model_reads_no_images():
    coll = _collection()
    context = assemble(coll, "q", WordTokenizer(images=False), 10**6, max_images=10,
                       llama4_counts=False)
    assert context.mode == Mode.FULL
    assert _keys(context) == _all_keys(coll, images=False)
    # Full mode read all the model can read (the UI's meter says so, and so does the footer);
    # the images it cannot read are counted apart, in neither the corpus nor the collection.
    assert context.read_fraction == 1.0
    images = sum(seg.tokens for _, segs in coll for seg in segs if seg.kind == SegmentKind.IMAGE)
    assert images > 0 and context.skipped_tokens == images
    focused = assemble(coll, "q", WordTokenizer(images=False), context.corpus_tokens // 2,
                       max_images=10, llama4_counts=False)
    assert focused.mode == Mode.FOCUSED and focused.skipped_tokens == images
    assert 0 < focused.read_fraction < 1


def test_recounting_stops_at_the_budget():
    """Another model's tokenizer recounts pieces, but never far beyond the budget."""
    calls = []

    class Counting(WordTokenizer):
        def count_text(self, text):
            calls.append(len(text))
            return super().count_text(text)

    coll = [_pdf(f"{n}.pdf", 50, words=100) for n in range(40)]  # 200K words
    context = assemble(coll, "q", Counting(images=False), 1000, max_images=0, llama4_counts=False)
    assert context.mode == Mode.FOCUSED and context.corpus_tokens <= 1000
    assert sum(calls) < 100_000  # chars counted: a few budgets' worth, not the 1.4M collection


# -- windows --------------------------------------------------------------------------------------


def test_windows_cover_the_collection_once_each_within_budget():
    coll = _collection()
    for budget, max_images in [(110, 1), (150, 2), (1000, 10), (10**6, 1)]:
        parts = windows(coll, WordTokenizer(), budget, max_images)
        keys = [k for w in parts for k in _keys(w)]
        assert keys == _all_keys(coll)  # nothing lost, nothing twice, in order
        for w in parts:
            assert w.mode == Mode.MAP_REDUCE and w.corpus_tokens <= budget
            assert sum(i.segment.kind == "image" for i in w.items) <= max_images
            assert w.collection_tokens == parts[0].collection_tokens


def test_windows_split_an_oversized_file_at_lines_with_true_numbers():
    lines = [f"value_{i} = compute({i}, flag=True)  # step {i}" for i in range(1, 301)]
    code = _code("src/big.py", lines)
    seg = Segment(code.kind, code.text, code.locator, count_text_tokens(code.prompt_text))
    coll = [(_doc("repo", DocumentKind.CODE), [_tree(), seg])]
    tok = Llama4Counter()
    parts = windows(coll, tok, 900, 10)
    items = [i for w in parts for i in w.items if i.segment.kind == SegmentKind.CODE]
    assert len(items) > 3
    ranges = [(i.segment.locator.line_start, i.segment.locator.line_end) for i in items]
    assert ranges[0][0] == 1 and ranges[-1][1] == 300
    assert all(b + 1 == c for (_, b), (c, _) in itertools.pairwise(ranges))
    for item in items:
        a = item.segment.locator.line_start
        text = content_of(item.segment)
        assert text.split("\n")[1].startswith(f"{a}| value_{a} =")
        assert item.label == f"[src/big.py:{a}-{item.segment.locator.line_end}]"
        assert item.tokens == count_text_tokens(piece(item.label, item.segment)) <= 900


def test_windows_skip_an_image_larger_than_the_window(caplog):
    coll = [(_doc("a.pdf"), [_image(1, tokens=5000), _text(1, 10)])]
    parts = windows(coll, WordTokenizer(), 100, 10)
    assert [k for w in parts for k in _keys(w)] == [("a.pdf", 1)]
    assert "larger than the 100-token window" in caplog.text


# -- exact Llama 4 counts -------------------------------------------------------------------------

ENDINGS = ["", ".", ")", "  ", "\n", "\n\n", "|", "/", "->", "```", "\t", "é", "7", "—", "...",
           "!\n  ", "**", "`code`", ":", "'s", "中文", "🙂", "\\", " -"]
STARTS = ["", "\n", "/usr/bin", "\n\n# Title", " indented", "|a|b|", "- item", "/", "1. one"]


def _real_collection(seed: int = 3) -> list[tuple]:
    rng = random.Random(seed)
    pdf_segs, md_segs = [], []
    for p in range(1, 40):
        rows = "\n".join(f"| {p} | {rng.random():.3f} | item {i}. |" for i in range(rng.randint(0, 6)))
        text = (rng.choice(STARTS) + f"Page {p}: revenue grew by {p}%.\n\n| a | b | c |\n|---|---|"
                f"---|\n{rows}\nSee https://example.com/x{p}/" + rng.choice(ENDINGS))
        if p % 7 == 0:
            pdf_segs.append(Segment(SegmentKind.IMAGE, "", Locator(page=p), 147, "img-a"))
        pdf_segs.append(Segment(SegmentKind.TEXT, text, Locator(page=p), count_text_tokens(text)))
    for n in range(10):
        body = rng.choice(STARTS) + f"## Section {n}\n\nSome *Markdown* text {n}." + rng.choice(ENDINGS)
        md_segs.append(Segment(SegmentKind.TEXT, body, Locator(path="notes.md", line_start=10 * n + 1,
                                                                line_end=10 * n + 10),
                               count_text_tokens(body)))
    code_segs = [Segment(SegmentKind.TEXT, "Codebase: repo\nsrc/ (3 files)", Locator(path="."),
                         count_text_tokens("Codebase: repo\nsrc/ (3 files)"))]
    for n in range(12):
        lines = [f"def f{n}(x):", "    return x / 2" + rng.choice(ENDINGS), rng.choice(ENDINGS)]
        seg = Segment(SegmentKind.CODE, "\n".join(lines),
                      Locator(path=f"src/m{n}.py", line_start=1, line_end=3), 0)
        code_segs.append(Segment(seg.kind, seg.text, seg.locator, count_text_tokens(seg.prompt_text)))
    return [(_doc("report.pdf"), pdf_segs), (_doc("notes.md", DocumentKind.TEXT), md_segs),
            (_doc("repo", DocumentKind.CODE), code_segs)]


def test_a_naive_sum_would_be_wrong():
    """Why costs need a boundary correction: the separator merges with a final punctuation."""
    assert count_text_tokens("x.\n\n") != count_text_tokens("x.") + count_text_tokens("\n\n")
    assert count_text_tokens("]\n/usr") != count_text_tokens("]\n") + count_text_tokens("/usr")


def test_llama4_item_costs_are_exact_and_add_up():
    coll = _real_collection()
    context = assemble(coll, "q", Llama4Counter(), 10**7, max_images=10)
    assert context.mode == Mode.FULL
    text_pieces = []
    for item in context.items:
        text = piece(item.label, item.segment)
        image = item.segment.tokens if item.segment.kind == SegmentKind.IMAGE else 0
        assert item.tokens == count_text_tokens(text) + image, item.label
        if not image:
            text_pieces.append(text)
    assert count_text_tokens("".join(text_pieces)) == sum(map(count_text_tokens, text_pieces))


def test_neutralized_pieces_are_counted_after_neutralizing():
    def neutralize(text: str) -> str:
        return text.replace("<|", "< |")

    text = "A model would stop here: <|eot|> and go on."
    coll = [(_doc("a.pdf"), [Segment(SegmentKind.TEXT, text, Locator(page=1),
                                     count_text_tokens(text))])]
    context = assemble(coll, "q", Llama4Counter(), 1000, max_images=10, neutralize=neutralize)
    item = context.items[0]
    assert item.tokens == count_text_tokens(neutralize(piece(item.label, item.segment)))
    user = render_messages(context, "q", _images, neutralize)[1]["content"]
    assert "<|eot|>" not in user[0]["text"] and "< |eot|>" in user[0]["text"]


def test_llama4_costs_hold_for_random_pieces():
    alphabet = [*"aZ9.,;:!?()[]{}<>|/\\-_*#`'\"=+", " ", "  ", "\t", "\n", "\n\n", "\r\n", "é", "中",
                "—", "🙂", "\u00a0", "\u2028", "\x0b", "'s", "//", "://", "1234"]
    rng = random.Random(11)
    tok = Llama4Counter()
    coll = []
    for n in range(400):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 30)))
        lines = text.split("\n")
        if n % 2:
            seg = Segment(SegmentKind.CODE, text, Locator(path="a b.py", line_start=1,
                                                          line_end=len(lines)), 0)
        else:
            seg = Segment(SegmentKind.TEXT, text, Locator(page=n + 1), 0)
        seg = Segment(seg.kind, seg.text, seg.locator, count_text_tokens(seg.prompt_text))
        coll.append((_doc(f"{n}.pdf", DocumentKind.CODE if n % 2 else DocumentKind.PDF), [seg]))
    context = assemble(coll, "q", tok, 10**7, max_images=10)
    texts = [piece(i.label, i.segment) for i in context.items]
    assert [i.tokens for i in context.items] == [count_text_tokens(t) for t in texts]
    assert count_text_tokens("".join(texts)) == context.corpus_tokens


def test_sample_documents_end_to_end(settings):
    """Ingested PDFs, charts and a codebase: exact costs, exact prompt size, checked citations."""
    from pathlib import Path

    from engine.citations import parse_citations
    from ingest.pipeline import ingest_paths
    from storage.repository import Store

    store = Store(settings)
    root = Path(__file__).resolve().parent.parent / "sample_docs"
    ingest_paths([root / n for n in ("contract.pdf", "report.pdf", "charts", "sample_repo")],
                 "c", store, settings)
    coll = store.collection_segments("c")

    def image(sha):
        found = store.image(sha)
        return found.data, found.mime

    tok, question = Llama4Counter(), "What late fees does the library charge?"
    for budget in (10**6, 2500):
        context = assemble(coll, question, tok, budget, max_images=10,
                           search=lambda q, k: store.search("c", q, k))
        assert context.mode == (Mode.FULL if budget == 10**6 else Mode.FOCUSED)
        assert context.corpus_tokens <= budget
        for item in context.items:
            image_tokens = item.segment.tokens if item.segment.kind == SegmentKind.IMAGE else 0
            assert item.tokens == count_text_tokens(item_text(item)) + image_tokens
        messages = render_messages(context, question, image)
        assert tok.count_messages(messages) == (prompt_overhead(tok, context.mode, question)
                                                + context.corpus_tokens)
        answer = " ".join(f"Claim {n} {i.label}." for n, i in enumerate(context.items))
        citations = parse_citations(answer + " Also [D9 p.1].", context.items)
        assert [c.valid for c in citations] == [True] * (len(citations) - 1) + [False]
    store.close()


# -- speed (reported, not asserted) ---------------------------------------------------------------


def _synthetic(total_tokens: int, seg_tokens: int = 500) -> list[tuple]:
    coll, total, n = [], 0, 0
    while total < total_tokens:
        n += 1
        segs = []
        for p in range(1, 11):
            if p % 5 == 0:
                segs.append(Segment(SegmentKind.IMAGE, "", Locator(page=p), 1452, "img-b"))
            segs.append(Segment(SegmentKind.TEXT, f"page {p} of report {n} ends here.",
                                Locator(page=p), seg_tokens))
        total += sum(s.tokens for s in segs)
        coll.append((_doc(f"r{n:05}.pdf"), segs))
    return coll


def test_speed_report(capsys):
    tok = Llama4Counter()
    tok.count_text("load the tokenizer first")
    million = _synthetic(1_000_000)
    start = time.perf_counter()
    full = assemble(million, "q", tok, 2_000_000, max_images=1000)
    full_s = time.perf_counter() - start
    ten = _synthetic(10_000_000)
    hits = [SearchHit(d.source, s, seg, -1.0) for d, segs in ten for s, seg in enumerate(segs)
            if seg.kind == SegmentKind.TEXT][::3]
    start = time.perf_counter()
    focused = assemble(ten, "q", tok, 1_000_000, max_images=10, search=lambda q, k: hits[:k])
    focused_s = time.perf_counter() - start
    assert full.mode == Mode.FULL and focused.mode == Mode.FOCUSED
    with capsys.disabled():
        print(f"\nassemble 1M tokens (full): {full_s * 1000:.0f} ms; "
              f"focused over 10M tokens: {focused_s * 1000:.0f} ms")


class _TextOnly:
    """Meta's Llama 4 counter as a text-only model's: it cannot read images."""

    def __init__(self, counter) -> None:
        self.counter = counter

    def count_text(self, text: str) -> int:
        return self.counter.count_text(text)

    def count_image(self, width: int, height: int) -> int | None:
        return None

    def count_messages(self, messages: list[dict]) -> int:
        return self.counter.count_messages(messages)


def test_a_text_only_models_full_read_is_all_of_its_text_in_the_footer(settings, counter):
    """The meter says "the model reads all of its text (full mode)"; the answer's footer must
    not say it read 43% of the collection because of images it never sees."""
    from dataclasses import replace

    from app.tables import usage_line
    from engine.backends import FakeBackend
    from ingest.pipeline import ingest_paths
    from storage.repository import Store

    from .conftest import SAMPLE_DOCS, fake_analyst

    store = Store(settings)
    ingest_paths([SAMPLE_DOCS / "contract.pdf", SAMPLE_DOCS / "charts"], "deal", store, settings)
    vision = fake_analyst(settings, store, counter, FakeBackend())
    text_only = replace(vision, _profile=replace(vision.profile, vision=False),
                        _tokenizer=_TextOnly(counter))
    text_only.backend.enqueue("The monthly fee is US$18,750 [D3 p.1].")
    answer = text_only.ask("deal", "What is the monthly fee?")
    assert answer.mode == Mode.FULL and answer.read_fraction == 1.0
    assert answer.usage.prompt_image_tokens == 0
    assert "read 100% of its text" in usage_line(answer)
    context = text_only.context("deal", "fee")
    images = sum(d.image_tokens for d in store.documents("deal"))
    assert images > 0 and context.skipped_tokens == images

    vision.backend.enqueue("The monthly fee is US$18,750 [D3 p.1].")
    seen = vision.ask("deal", "What is the monthly fee?")  # the images are in its prompt
    assert seen.usage.prompt_image_tokens > 0 and "read 100% of the collection" in usage_line(seen)
    store.close()

"""Packing: which segments of a collection the model reads for one question, in what order.

- Full mode: every readable segment fits the budget (sum <= budget) AND the collection's images are
  no more than the model's per-prompt limit. More images than the limit means focused mode, which
  keeps all the text it can and the most relevant images up to the limit: the limit is never
  exceeded, and "full" always means the model read everything it can read.
- Focused mode: each document's overview first (a codebase's tree; otherwise its first text
  segment), within half the budget, documents with search hits first; then pages and files by
  bm25 rank moved by what bm25 cannot see (`rerank`: neighbouring hits, the question's phrases,
  a page, figure or table it names), as text, the best `NEIGHBOUR_RANKS` pages each followed by the text of the pages
  either side of it (evidence often runs over onto the next page, or a table's title is on the
  page before); then the page images of the ranked pages, best first; then, while room is left,
  the rest round-robin across documents (their beginnings first).
- Images: a page image costs ~1,450 tokens under Llama 4 and its text often 300-600, so at a
  small budget text first reads three times the pages. Only when the question asks about what a
  page shows (a chart, a figure, a photo, a colour: `asks_to_see`) do the best `IMAGE_RANKS`
  pages come with their image straight away. Measured on mmlb-dev with bench/retrieval.py (see
  README, "Measuring answers").
- Emitted in document order, segments by position, so the model reads excerpts in place.

What each item costs is engine.costs'; which mode a question gets is engine.service.Analyst.plan's.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from core.domain import Mode, Segment, SegmentKind
from engine.costs import Collection, Costs, Plan, context_of
from engine.types import Context, PromptTokenizer

if TYPE_CHECKING:
    from core.domain import SearchHit

OVERVIEW_SHARE = 0.5  # overviews may take at most this share of a focused budget
IMAGE_RANKS = 2  # for a question about what pages show, the best pages come with their image
NEIGHBOUR_RANKS = 3  # the best-ranked pages bring the text of the pages either side of them
NEIGHBOUR_WEIGHT = 0.5  # a hit's score gains this share of its page neighbours' (see rerank)
PHRASE_WEIGHT = 1.0  # a hit holding all the question's word pairs gains the best hit's score
RERANK_DEPTH = 50  # the best hits whose text is read for phrases and captions (the cost)
MAX_MISSES = 64  # the fill stops after this many segments in a row were counted and did not fit
# Another model's tokenizer: a segment is not even counted when this share of its Llama 4 count is
# over the room left (a smaller vocabulary than Llama 4's 200K never needs half as many tokens).
ESTIMATE_FLOOR = 0.5
MIN_HITS, MAX_HITS = 50, 10_000

# Words of a question about what a page shows rather than says: its page images are worth their
# tokens from the first ranks on.
_VISUAL = re.compile(
    r"\b(?:charts?|graphs?|plots?|figures?|fig|pictures?|photos?|photographs?|images?|"
    r"diagrams?|maps?|logos?|icons?|screenshots?|colou?rs?|illustrations?|drawings?|"
    r"infographics?|look(?:s|ed)? like|shown?|depicted|pictured)\b", re.IGNORECASE)

Search = Callable[[str, int], "list[SearchHit]"]  # (question, k) -> hits, best first


def assemble(
    collection: Collection,
    question: str,
    tokenizer: PromptTokenizer,
    budget: int,
    *,
    max_images: int,
    search: Search | None = None,
    llama4_counts: bool = True,
    neutralize: Callable[[str], str] | None = None,
) -> Context:
    """The context for one question: full mode when the whole collection fits `budget` (and its
    images the model's limit), else focused. Never more than `budget` tokens or `max_images`.
    `neutralize`: the renderer's special-token neutraliser; pieces containing "<|" are counted
    after it (it must leave text without "<|" unchanged)."""
    plan = Plan(collection, Costs(tokenizer, llama4_counts, neutralize))
    full = _full(plan, budget, max_images)
    if full is not None:
        return context_of(Mode.FULL, budget, full, plan)
    focus = _Focus(plan, budget, max_images)
    chosen = focus.choose(question, search)
    return context_of(Mode.FOCUSED, budget, sorted(chosen), plan, focus.why)


def _full(plan: Plan, budget: int, max_images: int) -> list[tuple[int, int]] | None:
    """Every readable segment, or None when they do not all fit."""
    images = lower = 0
    for segs in plan.segs:
        for seg in segs:
            if plan.costs.readable(seg):
                lower += seg.tokens
                images += seg.kind == SegmentKind.IMAGE
    # Llama 4 counts: an item costs at least its segment, so the plain sum rules out most misses.
    if images > max(max_images, 0) or (plan.costs.llama4 and lower > budget):
        return None
    readable = [(d, s) for d, segs in enumerate(plan.segs) for s, seg in enumerate(segs)
                if plan.costs.readable(seg)]
    used = 0
    for d, s in readable:  # exact, stopping at the first token over: bounded by the budget
        used += plan.price(d, s)[1]
        if used > budget:
            return None
    return readable


class _Focus:
    """Focused packing: overviews, then ranked pages and files, then round-robin fill; `why`
    says for each chosen segment which of these brought it in."""

    def __init__(self, plan: Plan, budget: int, max_images: int) -> None:
        self.plan, self.budget, self.max_images = plan, budget, max(max_images, 0)
        self.chosen: set[tuple[int, int]] = set()
        self.why: dict[tuple[int, int], str] = {}
        self.used = 0
        self.images = 0
        self.misses = 0  # consecutive segments counted that did not fit

    def choose(self, question: str, search: Search | None) -> set[tuple[int, int]]:
        ranked = self._ranked(question, search)
        rank = {key: n for n, key in reversed(list(enumerate(ranked, 1)))}
        self._overviews(ranked, rank)
        images = IMAGE_RANKS if asks_to_see(question) else 0
        for n, (d, s) in enumerate(ranked, 1):
            self._add_page(d, s, self.budget, f"search rank {n}", images=n <= images)
            if n <= NEIGHBOUR_RANKS:
                self._neighbours(d, s, n)
        for n, (d, s) in enumerate(ranked[images:], images + 1):
            if (d, s) in self.chosen:  # its page image, now that every ranked text is in
                self._add_page(d, s, self.budget, f"search rank {n}")
        self._fill()
        return self.chosen

    def _neighbours(self, d: int, s: int, n: int) -> None:
        """The text of the pages before and after the page of segment `s` (PDF pages only)."""
        segs = self.plan.segs[d]
        page = segs[s].locator.page
        if page is None:
            return
        for m, seg in enumerate(segs):
            if seg.locator.page in (page - 1, page + 1) and seg.kind != SegmentKind.IMAGE:
                self._add(d, m, self.budget, f"next to search rank {n}")

    def _ranked(self, question: str, search: Search | None) -> list[tuple[int, int]]:
        if search is None or not question.strip():
            return []
        segments = sum(len(segs) for segs in self.plan.segs)
        mean = max(1, self.plan.total // max(1, segments))
        k = min(segments, max(MIN_HITS, min(MAX_HITS, 2 * self.budget // mean)))
        where = {doc.source: d for d, doc in enumerate(self.plan.docs)}
        hits = {}
        for hit in sorted(search(question, k), key=lambda h: h.score):
            d = where.get(hit.source)
            if d is not None and 0 <= hit.ordinal < len(self.plan.segs[d]):
                hits.setdefault((d, hit.ordinal), hit)
        return rerank(question, hits, self.plan.segs)

    def _overviews(self, ranked: list[tuple[int, int]], rank: dict[tuple[int, int], int]
                   ) -> None:
        order = list(dict.fromkeys([d for d, _ in ranked] + list(range(len(self.plan.docs)))))
        cap = int(self.budget * OVERVIEW_SHARE)
        for d in order:
            s = _overview(self.plan.segs[d])
            if s is not None:
                found = f", search rank {rank[(d, s)]}" if (d, s) in rank else ""
                self._add_page(d, s, cap, f"overview{found}", images=False)

    def _fill(self) -> None:
        every = self.plan.segs
        floor = 1.0 if self.plan.costs.llama4 else ESTIMATE_FLOOR
        self.misses = 0
        for s in range(max((len(segs) for segs in every), default=0)):
            for d, segs in enumerate(every):
                room = self.budget - self.used
                if room < 4 or self.misses >= MAX_MISSES:
                    return
                if s < len(segs) and segs[s].tokens * floor <= room:
                    self._add_page(d, s, self.budget, "fill")

    def _add_page(self, d: int, s: int, cap: int, why: str, *, images: bool = True) -> None:
        """A segment, and the other segments of the same PDF page (its text, and its image
        unless `images` is False)."""
        if not self._add(d, s, cap, why):
            return
        segs = self.plan.segs[d]
        page = segs[s].locator.page
        if page is None:
            return
        for n in (s - 1, s + 1):
            if 0 <= n < len(segs) and segs[n].locator.page == page \
                    and (images or segs[n].kind != SegmentKind.IMAGE):
                self._add(d, n, cap, f"same page as {why.split(',')[0]}")

    def _add(self, d: int, s: int, cap: int, why: str) -> bool:
        if (d, s) in self.chosen:
            return True
        segment = self.plan.segs[d][s]
        image = segment.kind == SegmentKind.IMAGE
        if not self.plan.costs.readable(segment) or (image and self.images >= self.max_images):
            return False
        floor = 1.0 if self.plan.costs.llama4 else ESTIMATE_FLOOR  # Llama 4: a lower bound
        if self.used + segment.tokens * floor > cap:
            return False
        cost = self.plan.price(d, s)[1]
        if self.used + cost > cap:
            self.misses += 1
            return False
        self.misses = 0
        self.chosen.add((d, s))
        self.why[(d, s)] = why
        self.used += cost
        self.images += image
        return True


def rerank(question: str, hits: dict[tuple[int, int], SearchHit],
           segs: Sequence[Sequence[Segment]]) -> list[tuple[int, int]]:
    """The hits (keyed by (document, ordinal), best bm25 first) in the order focused mode reads
    them. bm25 scores words one by one on one segment; three things it cannot see move a hit:

    - its page's neighbours: each hit's score gains `NEIGHBOUR_WEIGHT` times the mean of the
      best scores of the pages before and after it (0 where they hold none of the words), since
      evidence runs over pages (a section, a table continued, a chart and its commentary);
    - the question's phrases: a hit of the best `RERANK_DEPTH` whose text holds the question's
      word pairs (bigrams, stop-word pairs left out) gains `PHRASE_WEIGHT` times the best score
      in proportion to the pairs it holds, so "net revenue", "Figure 3" or a section's title
      counts as one thing, not two common words;
    - places the question names: "page 12" or "slide 12" puts that page of the best hit's
      document first (the page printed "12" where the PDF labels its pages so; its text, a
      page no word matched too), and "Figure 3" or "Table 2" puts
      the pages whose caption starts with it right after.

    Measured on mmlb-dev (bench/retrieval.py, recall@8K of 181 after query_words' cut at
    punctuation): 87.8% to 89.5%, pages ranked first with all their evidence 50 to 60 of 177.
    Only the hits' own text is read: works alike on every database."""
    scores = {key: hit.score for key, hit in hits.items()}
    if not scores:
        return []
    best_on_page: dict[tuple[int, int], float] = {}
    for (d, s), score in scores.items():
        page = segs[d][s].locator.page
        if page is not None and score < best_on_page.get((d, page), 0.0):
            best_on_page[(d, page)] = score
    moved = {}
    for (d, s), score in scores.items():
        page = segs[d][s].locator.page
        around = 0.0 if page is None else (
            best_on_page.get((d, page - 1), 0.0) + best_on_page.get((d, page + 1), 0.0)) / 2
        moved[(d, s)] = score + NEIGHBOUR_WEIGHT * around
    top = min(scores.values())  # bm25: the lower the better, always below 0 for a hit
    pairs = _pairs(question)
    head = list(hits)[:RERANK_DEPTH]
    if pairs:
        for key in head:
            text = f" {' '.join(_words(hits[key].segment.text))} "
            found = sum(f" {a} {b} " in text for a, b in pairs)
            moved[key] += PHRASE_WEIGHT * top * found / len(pairs)
    first = min(moved.values())
    for kind, number in _NAMED.findall(question):
        caption = re.compile(rf"^\W*{_CAPTIONS[kind[:3].lower()]}\.?\s*{number}\b",
                             re.IGNORECASE | re.MULTILINE)
        for key in head:
            if caption.search(hits[key].segment.text):
                moved[key] = min(moved[key], first - 1)
    named = set(_PAGE.findall(question))
    d = min(scores, key=scores.get)[0]  # the best hit's document
    if named:
        # A number the document prints on a page (a book excerpt's "page 287") means that page;
        # any other, the page of that number in the file.
        printed = {seg.locator.page_label for seg in segs[d]} & named
        pages = {int(n) for n in named - printed}
        for s, seg in enumerate(segs[d]):
            wanted = seg.locator.page_label in printed or seg.locator.page in pages
            if wanted and seg.kind != SegmentKind.IMAGE:
                moved[(d, s)] = first - 2
    return sorted(moved, key=lambda key: (moved[key], key))


# English stop words (Snowball's list, PostgreSQL's `english` one): a pair of two of them ("of
# the") is no phrase.
STOP_WORDS = frozenset("""a about above after again against all am an and any are as at be
because been before being below between both but by can did do does doing don down during each
few for from further had has have having he her here hers herself him himself his how i if in
into is it its itself just me more most my myself no nor not now of off on once only or other our
ours ourselves out over own s same she should so some such t than that the their theirs them
themselves then there these they this those through to too under until up very was we were what
when where which while who whom why will with you your yours yourself yourselves""".split())
_PAGE = re.compile(r"\b(?:page|slide)\s+(\d{1,4})\b", re.IGNORECASE)
_NAMED = re.compile(r"\b(fig(?:ure)?s?|tables?)\.?\s*(\d{1,3})\b", re.IGNORECASE)
_CAPTIONS = {"fig": "fig(?:ure)?", "tab": "table"}
_DROP = str.maketrans("", "", string.punctuation + "‘’‚“”„–—…•·«»¿¡")  # dropped from words


def _words(text: str) -> list[str]:
    """Lower-case words with their punctuation dropped ("2,000" is "2000", "U.S." is "us")."""
    return text.lower().translate(_DROP).split()


def _pairs(question: str) -> set[tuple[str, str]]:
    """The question's word pairs, but for those of two stop words."""
    words = _words(question)
    return {(a, b) for a, b in zip(words, words[1:])
            if not (a in STOP_WORDS and b in STOP_WORDS)}


def asks_to_see(question: str) -> bool:
    """Whether a question is about what a page shows (a chart, a photo, a colour), so that its
    best pages' images are worth their tokens before other pages' text."""
    return _VISUAL.search(question) is not None


def _overview(segments: Sequence[Segment]) -> int | None:
    """A document's overview: its first segment (a codebase's tree, a page, a text chunk), or the
    page's text when the first segment is a page image with text after it."""
    if not segments:
        return None
    first = segments[0]
    if (first.kind == SegmentKind.IMAGE and len(segments) > 1
            and segments[1].kind != SegmentKind.IMAGE and segments[1].locator.page == first.locator.page):
        return 1
    return 0

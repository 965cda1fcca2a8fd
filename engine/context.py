"""Context assembly: which segments of a collection the model reads for one question, in what
order, and what each costs.

Rendering (engine.prompt joins the pieces): every item is one piece of the user message,

    text, code:  "<label>\\n<content>\\n\\n"
    image:       "<label>\\n" followed by the image itself

and an item's `tokens` are exactly that piece's tokens, so a prompt costs the sum of its items plus
a fixed overhead (engine.prompt.prompt_overhead). Why the sum is exact under Llama 4's o200k-style
pre-tokenizer: a pre-token always starts after a newline that is followed by a non-space other
than "/", and every piece ends in a newline and the next begins with "[" (or an image's special
tokens), so pieces tokenize independently. Inside a piece the parts do merge (".\n\n" is one
token; a content starting with "/" or a newline joins the label line's "]\n"), so a piece costs
`label line + Segment.tokens + a correction` that depends only on the content's last word
(`_Costs`): segments are never re-tokenized. Label lines and corrections are cached per tokenizer
across questions. Checked against the real tokenizer on ingested PDFs, Markdown and code, and on
30,000 random pieces (tests/test_context.py).

Policies:
- Full mode: every readable segment fits the budget (sum <= budget) AND the collection's images are
  no more than the model's per-prompt limit. More images than the limit means focused mode, which
  keeps all the text it can and the most relevant images up to the limit: the limit is never
  exceeded, and "full" always means the model read everything it can read.
- Focused mode: each document's overview first (a codebase's tree; otherwise its first text
  segment, the page image coming along), within half the budget, documents with search hits
  first; then pages and files by bm25 rank, a PDF page's image together with its text; then, while
  room is left, the rest round-robin across documents (their beginnings first). Emitted in
  document order, segments by position, so the model reads excerpts in place.
- A text-only model (count_image returns None): image segments are left out; they still count in
  `collection_tokens`, so `read_fraction` says the images were not read.
- Windows (map-reduce): consecutive items; a text or code segment bigger than the budget is split
  at line boundaries into parts that fit (code parts keep their true line numbers); an image bigger
  than the budget is skipped with a logged warning.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from core.domain import Document, Mode, Segment, SegmentKind
from engine.citations import ambiguous_paths, label_for
from engine.types import Context, ContextItem, PromptTokenizer

if TYPE_CHECKING:
    from storage.repository import SearchHit

log = logging.getLogger(__name__)

SEPARATOR = "\n\n"  # ends every text piece
OVERVIEW_SHARE = 0.5  # overviews may take at most this share of a focused budget
MAX_MISSES = 64  # the fill stops after this many segments in a row were counted and did not fit
# Another model's tokenizer: a segment is not even counted when this share of its Llama 4 count is
# over the room left (a smaller vocabulary than Llama 4's 200K never needs half as many tokens).
ESTIMATE_FLOOR = 0.5
TAIL_CHARS = 256  # how far back the boundary correction looks for a pre-token boundary
MIN_HITS, MAX_HITS = 50, 10_000

Collection = Sequence[tuple[Document, Sequence[Segment]]]
Search = Callable[[str, int], "list[SearchHit]"]  # (question, k) -> hits, best first


# -- rendering ----------------------------------------------------------------------------------


def content_of(segment: Segment) -> str:
    """What the model reads for a segment (a part of a split source file is numbered from its
    own first line: Segment.prompt_text does that)."""
    return segment.prompt_text


def piece(label: str, segment: Segment) -> str:
    """An item's text in the prompt: the label line, and for text and code the content."""
    if segment.kind == SegmentKind.IMAGE:
        return label + "\n"
    return f"{label}\n{content_of(segment)}{SEPARATOR}"


def item_text(item: ContextItem) -> str:
    return piece(item.label, item.segment)


# -- costs --------------------------------------------------------------------------------------

_CACHES: dict[int, tuple[object, dict[str, int]]] = {}  # id(tokenizer) -> (tokenizer, cache)
_MAX_CACHED = 500_000


def _cache_for(tokenizer: object) -> dict[str, int]:
    entry = _CACHES.get(id(tokenizer))
    if entry is None or entry[0] is not tokenizer:
        if len(_CACHES) >= 8:
            _CACHES.pop(next(iter(_CACHES)))
        entry = _CACHES[id(tokenizer)] = (tokenizer, {})  # holds the tokenizer: ids stay unique
    if len(entry[1]) > _MAX_CACHED:
        entry[1].clear()
    return entry[1]


def _last_cut(text: str) -> int | None:
    """The last position (>= 1) where o200k-style pre-tokenization certainly starts a new
    pre-token whatever follows the text: after a newline when a non-space other than "/" comes
    next, or before a space or tab that follows a non-space."""
    for c in range(len(text) - 1, 0, -1):
        before, here = text[c - 1], text[c]
        if before in "\r\n":
            if not here.isspace() and here != "/":
                return c
        elif here in " \t" and not before.isspace():
            return c
    return None


class _Costs:
    """Item costs under one tokenizer. With Llama 4 counts: label line + Segment.tokens + the
    boundary correction. Otherwise (another model's tokenizer): the whole piece, counted."""

    def __init__(self, tokenizer: PromptTokenizer, llama4_counts: bool,
                 neutralize: Callable[[str], str] | None) -> None:
        self.tokenizer = tokenizer
        self.llama4 = llama4_counts
        self.neutralize = neutralize
        self.images = llama4_counts and tokenizer.count_image(336, 336) is not None
        self.cache = _cache_for(tokenizer)
        self.separator = self._count(SEPARATOR)

    def _count(self, text: str) -> int:
        n = self.cache.get(text)
        if n is None:
            n = self.cache[text] = self.tokenizer.count_text(text)
        return n

    def readable(self, segment: Segment) -> bool:
        return self.images or segment.kind != SegmentKind.IMAGE

    def item(self, label: str, segment: Segment) -> int:
        """Tokens of the item's piece (the segment must be readable)."""
        if segment.kind == SegmentKind.IMAGE:
            return self._count(label + "\n") + segment.tokens
        if not self.llama4 or self._special(label, segment):
            return self._exact(label, segment)
        text = segment.text
        if segment.kind == SegmentKind.CODE:
            head = "F"  # "File: ..."
            if segment.locator.line_end:
                tail = f"{segment.locator.line_end}| {text[text.rfind(chr(10)) + 1:]}"
            else:
                tail = f"File: {segment.locator.path or ''}\n"
        else:
            head, tail = text[:1], text[-TAIL_CHARS:]
        if not head or head in "\r\n/":  # would merge with the label line's "]\n"
            return self._exact(label, segment)
        delta = self._tail_delta(tail)
        if delta is None:
            return self._exact(label, segment)
        return self._count(label + "\n") + segment.tokens + delta

    def _tail_delta(self, tail: str) -> int | None:
        if tail[-1].isalnum():  # a word or number: the separator is a pre-token of its own
            return self.separator
        cut = _last_cut(tail)
        if cut is None:
            return None
        word = tail[cut:]
        key = "\x00tail" + word
        delta = self.cache.get(key)
        if delta is None:
            delta = self.cache[key] = (self.tokenizer.count_text(word + SEPARATOR)
                                       - self.tokenizer.count_text(word))
        return delta

    def _special(self, label: str, segment: Segment) -> bool:
        return self.neutralize is not None and ("<|" in segment.text or "<|" in label)

    def _exact(self, label: str, segment: Segment) -> int:
        text = piece(label, segment)
        if self.neutralize is not None:
            text = self.neutralize(text)
        return self.tokenizer.count_text(text)


# -- the collection -----------------------------------------------------------------------------


class _Plan:
    """A collection with document numbers, labels and costs, computed only where asked."""

    def __init__(self, collection: Collection, costs: _Costs) -> None:
        self.docs = [doc for doc, _ in collection]
        self.segs = [list(segs) for _, segs in collection]
        self.costs = costs
        self.ambiguous = ambiguous_paths(collection)
        self.total = sum(seg.tokens for segs in self.segs for seg in segs)
        self._priced: dict[tuple[int, int], tuple[str, int]] = {}

    def label(self, d: int, segment: Segment) -> str:
        return label_for(d + 1, self.docs[d], segment, self.ambiguous)

    def price(self, d: int, s: int) -> tuple[str, int]:
        key = (d, s)
        found = self._priced.get(key)
        if found is None:
            segment = self.segs[d][s]
            label = self.label(d, segment)
            found = self._priced[key] = (label, self.costs.item(label, segment))
        return found

    def item(self, d: int, s: int) -> ContextItem:
        label, tokens = self.price(d, s)
        return ContextItem(self.docs[d], s, self.segs[d][s], label, tokens)

    def collection_tokens(self, keys: set[tuple[int, int]], corpus_tokens: int) -> int:
        """The chosen items' tokens plus Segment.tokens of every other segment (labels of unread
        segments uncounted)."""
        return corpus_tokens + self.total - sum(self.segs[d][s].tokens for d, s in keys)


def _context(mode: Mode, budget: int, keys: Sequence[tuple[int, int]], plan: _Plan) -> Context:
    items = [plan.item(d, s) for d, s in keys]
    corpus = sum(i.tokens for i in items)
    return Context(mode, budget, tuple(items), corpus, plan.collection_tokens(set(keys), corpus))


# -- assemble -----------------------------------------------------------------------------------


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
    plan = _Plan(collection, _Costs(tokenizer, llama4_counts, neutralize))
    full = _full(plan, budget, max_images)
    if full is not None:
        return _context(Mode.FULL, budget, full, plan)
    chosen = _Focus(plan, budget, max_images).choose(question, search)
    return _context(Mode.FOCUSED, budget, sorted(chosen), plan)


def _full(plan: _Plan, budget: int, max_images: int) -> list[tuple[int, int]] | None:
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
    """Focused packing: overviews, then ranked pages and files, then round-robin fill."""

    def __init__(self, plan: _Plan, budget: int, max_images: int) -> None:
        self.plan, self.budget, self.max_images = plan, budget, max(max_images, 0)
        self.chosen: set[tuple[int, int]] = set()
        self.used = 0
        self.images = 0
        self.misses = 0  # consecutive segments counted that did not fit

    def choose(self, question: str, search: Search | None) -> set[tuple[int, int]]:
        ranked = self._ranked(question, search)
        self._overviews(ranked)
        for d, s in ranked:
            self._add_page(d, s, self.budget)
        self._fill()
        return self.chosen

    def _ranked(self, question: str, search: Search | None) -> list[tuple[int, int]]:
        if search is None or not question.strip():
            return []
        segments = sum(len(segs) for segs in self.plan.segs)
        mean = max(1, self.plan.total // max(1, segments))
        k = min(segments, max(MIN_HITS, min(MAX_HITS, 2 * self.budget // mean)))
        where = {doc.source: d for d, doc in enumerate(self.plan.docs)}
        ranked = []
        for hit in sorted(search(question, k), key=lambda h: h.score):
            d = where.get(hit.source)
            if d is not None and 0 <= hit.ordinal < len(self.plan.segs[d]):
                ranked.append((d, hit.ordinal))
        return ranked

    def _overviews(self, ranked: list[tuple[int, int]]) -> None:
        order = list(dict.fromkeys([d for d, _ in ranked] + list(range(len(self.plan.docs)))))
        cap = int(self.budget * OVERVIEW_SHARE)
        for d in order:
            s = _overview(self.plan.segs[d])
            if s is not None:
                self._add_page(d, s, cap)

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
                    self._add_page(d, s, self.budget)

    def _add_page(self, d: int, s: int, cap: int) -> None:
        """A segment, and the other segments of the same PDF page (its image, or its text)."""
        if not self._add(d, s, cap):
            return
        segs = self.plan.segs[d]
        page = segs[s].locator.page
        if page is None:
            return
        for n in (s - 1, s + 1):
            if 0 <= n < len(segs) and segs[n].locator.page == page:
                self._add(d, n, cap)

    def _add(self, d: int, s: int, cap: int) -> bool:
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
        self.used += cost
        self.images += image
        return True


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


# -- windows (map-reduce) -----------------------------------------------------------------------


def windows(
    collection: Collection,
    tokenizer: PromptTokenizer,
    budget: int,
    max_images: int,
    *,
    llama4_counts: bool = True,
    neutralize: Callable[[str], str] | None = None,
) -> list[Context]:
    """The whole collection as consecutive windows that each fit `budget` and `max_images`, in
    document order; every readable segment is in exactly one window (oversized text split)."""
    plan = _Plan(collection, _Costs(tokenizer, llama4_counts, neutralize))
    out: list[list[ContextItem]] = []
    current: list[ContextItem] = []
    used = images = 0
    keys: set[tuple[int, int]] = set()
    for d, segs in enumerate(plan.segs):
        for s, segment in enumerate(segs):
            if not plan.costs.readable(segment) or (
                    segment.kind == SegmentKind.IMAGE and max_images < 1):
                continue
            parts = _fitting(plan, d, s, budget)
            if parts:
                keys.add((d, s))
            for item in parts:
                image = item.segment.kind == SegmentKind.IMAGE
                if current and (used + item.tokens > budget or (image and images >= max_images)):
                    out.append(current)
                    current, used, images = [], 0, 0
                current.append(item)
                used += item.tokens
                images += image
    if current:
        out.append(current)
    total = plan.collection_tokens(keys, sum(i.tokens for window in out for i in window))
    return [Context(Mode.MAP_REDUCE, budget, tuple(w), sum(i.tokens for i in w), total)
            for w in out]


def _fitting(plan: _Plan, d: int, s: int, budget: int) -> list[ContextItem]:
    item = plan.item(d, s)
    if item.tokens <= budget:
        return [item]
    if item.segment.kind == SegmentKind.IMAGE:
        log.warning("%s: skipped %s, an image of %d tokens, larger than the %d-token window",
                    item.document.source, item.label, item.tokens, budget)
        return []
    return _split(plan, d, s, budget)


def _split(plan: _Plan, d: int, s: int, budget: int) -> list[ContextItem]:
    """An oversized text or code segment as consecutive parts of whole lines that each fit."""
    document, segment = plan.docs[d], plan.segs[d][s]
    lines = segment.text.split("\n")
    parts: list[ContextItem] = []
    a = 0
    while a < len(lines):
        def part(b: int, a: int = a) -> ContextItem:
            return _part_item(plan, d, s, segment, lines, a, b)

        b = _largest(a + 1, len(lines), lambda b: part(b).tokens <= budget)
        if b is None:  # one line alone is over the budget: keep what fits of it
            item = _cut_line(plan, d, s, segment, lines, a, budget)
            if item is not None:
                parts.append(item)
            log.warning("%s: line %d of %s is longer than the %d-token window; cut",
                        document.source, (segment.locator.line_start or 1) + a,
                        plan.label(d, segment), budget)
            a += 1
        else:
            parts.append(part(b))
            a = b
    return parts


def _part_item(plan: _Plan, d: int, s: int, segment: Segment, lines: list[str], a: int, b: int,
               text: str | None = None) -> ContextItem:
    loc = segment.locator
    if loc.line_start is not None:
        loc = replace(loc, line_start=loc.line_start + a, line_end=loc.line_start + b - 1)
    part = Segment(segment.kind, text if text is not None else "\n".join(lines[a:b]), loc, 0,
                   segment.image_sha256)
    part = replace(part, tokens=plan.costs.tokenizer.count_text(content_of(part)))
    label = plan.label(d, part)
    return ContextItem(plan.docs[d], s, part, label, plan.costs.item(label, part))


def _cut_line(plan: _Plan, d: int, s: int, segment: Segment, lines: list[str], a: int,
              budget: int) -> ContextItem | None:
    line = lines[a]

    def part(n: int) -> ContextItem:
        return _part_item(plan, d, s, segment, lines, a, a + 1, text=line[:n])

    n = _largest(1, len(line), lambda n: part(n).tokens <= budget)
    return part(n) if n is not None else None


def _largest(low: int, high: int, fits: Callable[[int], bool]) -> int | None:
    """The largest n in low..high with fits(n), for a monotone fits; None when fits(low) fails.
    Galloping from low, so a part costs a few counts of about its own size, not of the rest."""
    if low > high or not fits(low):
        return None
    step = 1
    while low < high:
        probe = min(high, low + step)
        if fits(probe):
            low, step = probe, step * 2
        else:
            high = probe - 1
            break
    while low < high:
        mid = (low + high + 1) // 2
        if fits(mid):
            low = mid
        else:
            high = mid - 1
    return low


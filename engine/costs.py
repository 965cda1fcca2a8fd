"""What each piece of a prompt costs, exactly, without re-tokenizing segments.

Rendering (engine.prompt joins the pieces): every item is one piece of the user message,

    text, code:  "<label>\\n<content>\\n\\n"
    image:       "<label>\\n" followed by the image itself

and an item's `tokens` are exactly that piece's tokens, so a prompt costs the sum of its items plus
a fixed overhead (engine.prompt.prompt_overhead). Why the sum is exact under Llama 4's o200k-style
pre-tokenizer: a pre-token always starts after a newline that is followed by a non-space other
than "/", and every piece ends in a newline and the next begins with "[" (or an image's special
tokens), so pieces tokenize independently. Inside a piece the parts do merge (".\\n\\n" is one
token; a content starting with "/" or a newline joins the label line's "]\\n"), so a piece costs
`label line + Segment.tokens + a correction` that depends only on the content's last word
(`Costs`): segments are never re-tokenized. Label lines and corrections are cached per tokenizer
across questions. Checked against the real tokenizer on ingested PDFs, Markdown and code, and on
30,000 random pieces (tests/test_context.py).

A text-only model (count_image returns None): image segments are not readable, and they are left
out of `collection_tokens` too (`Context.skipped_tokens` holds them), so `read_fraction` is the
share of what the model can read: full mode reads all of it, as the UI's context meter says,
rather than "43% of the collection" for a model that never sees images.

`Plan` is a collection with document numbers, labels and costs, computed only where asked; the
packing (engine.packing) and the windows (engine.windows) both choose from it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from core.domain import Document, Mode, Segment, SegmentKind
from engine.citations import ambiguous_paths, label_for
from engine.types import Context, ContextItem, PromptTokenizer

SEPARATOR = "\n\n"  # ends every text piece
TAIL_CHARS = 256  # how far back the boundary correction looks for a pre-token boundary

Collection = Sequence[tuple[Document, Sequence[Segment]]]


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


class Costs:
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


class Plan:
    """A collection with document numbers, labels and costs, computed only where asked."""

    def __init__(self, collection: Collection, costs: Costs) -> None:
        self.docs = [doc for doc, _ in collection]
        self.segs = [list(segs) for _, segs in collection]
        self.costs = costs
        self.ambiguous = ambiguous_paths(collection)
        self.total = sum(seg.tokens for segs in self.segs for seg in segs)
        self.readable = sum(seg.tokens for segs in self.segs for seg in segs
                            if costs.readable(seg))  # what this model can read at all
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

    def item(self, d: int, s: int, why: str = "") -> ContextItem:
        label, tokens = self.price(d, s)
        return ContextItem(self.docs[d], s, self.segs[d][s], label, tokens, why)

    def collection_tokens(self, keys: set[tuple[int, int]], corpus_tokens: int) -> int:
        """The chosen items' tokens plus Segment.tokens of every other segment the model can
        read (labels of unread segments uncounted; segments it cannot read left out)."""
        return corpus_tokens + self.readable - sum(self.segs[d][s].tokens for d, s in keys)

    @property
    def skipped_tokens(self) -> int:
        """Segment.tokens of what this model cannot read (images, for a text-only model)."""
        return self.total - self.readable


def context_of(mode: Mode, budget: int, keys: Sequence[tuple[int, int]], plan: Plan,
               why: Mapping[tuple[int, int], str] | None = None) -> Context:
    """The context of the chosen (document, segment) keys, each item with why it is there
    (`why`; in full mode every item is there as part of the whole collection)."""
    items = [plan.item(d, s, why.get((d, s), "") if why is not None else "whole collection")
             for d, s in keys]
    corpus = sum(i.tokens for i in items)
    return Context(mode, budget, tuple(items), corpus, plan.collection_tokens(set(keys), corpus),
                   plan.skipped_tokens)

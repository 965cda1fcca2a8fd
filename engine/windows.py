"""Windows (map-reduce): the whole collection as consecutive contexts that each fit the budget.

Consecutive items, in document order; a text or code segment bigger than the budget is split at
line boundaries into parts that fit (code parts keep their true line numbers); an image bigger
than the budget is skipped with a logged warning. Every readable segment is in exactly one window.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace

from core.domain import Mode, Segment, SegmentKind
from engine.costs import Collection, Costs, Plan, content_of
from engine.types import Context, ContextItem, PromptTokenizer

log = logging.getLogger(__name__)


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
    plan = Plan(collection, Costs(tokenizer, llama4_counts, neutralize))
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
    return [Context(Mode.MAP_REDUCE, budget, tuple(w), sum(i.tokens for i in w), total,
                    plan.skipped_tokens) for w in out]


def _fitting(plan: Plan, d: int, s: int, budget: int) -> list[ContextItem]:
    item = plan.item(d, s)
    if item.tokens <= budget:
        return [item]
    if item.segment.kind == SegmentKind.IMAGE:
        log.warning("%s: skipped %s, an image of %d tokens, larger than the %d-token window",
                    item.document.source, item.label, item.tokens, budget)
        return []
    return _split(plan, d, s, budget)


def _split(plan: Plan, d: int, s: int, budget: int) -> list[ContextItem]:
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


def _part_item(plan: Plan, d: int, s: int, segment: Segment, lines: list[str], a: int, b: int,
               text: str | None = None) -> ContextItem:
    loc = segment.locator
    if loc.line_start is not None:
        loc = replace(loc, line_start=loc.line_start + a, line_end=loc.line_start + b - 1)
    part = Segment(segment.kind, text if text is not None else "\n".join(lines[a:b]), loc, 0,
                   segment.image_sha256)
    part = replace(part, tokens=plan.costs.tokenizer.count_text(content_of(part)))
    label = plan.label(d, part)
    return ContextItem(plan.docs[d], s, part, label, plan.costs.item(label, part))


def _cut_line(plan: Plan, d: int, s: int, segment: Segment, lines: list[str], a: int,
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

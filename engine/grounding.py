"""Is an answer supported by what the model read? A lexical check, no second model call.

Small models rarely say "not in the documents": asked for the CEO's salary or a company's
revenue that the collection does not hold, they give a figure from a page about something else.
So after an answer is generated, DocScout checks it against what the model read (see
`unsupported` for the four checks): a name it made up, figures nothing holds, figures that sit
in the documents next to something other than what was asked ("2147" given as a roofing firm's
telephone number is the memo's building number), or passages about another subject. "How many
employees does Tidewell Analytics have?" answered with the 412 employees of another company's
report fails (the report never names Tidewell); "In which town is Quillfeather headquartered?"
passes although "town" is nowhere (words absent from the whole prompt are not held against an
answer: they are often just the asker's phrasing).

An answer with no figure, name, quote or citation to check is left alone, and so is one that
already says the documents do not hold the answer. Measured on the sample fact set (README,
"Measuring answers"): 9 of 10 unanswerable questions end as "not in the documents", and no
correct answer is refused; a name given for a role the documents lack ("Who is the CTO?"
answered with the CFO) gets through: nothing lexical tells it from a right answer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from core.domain import (
    OCR_FIGURE_HEADER,
    OCR_IMAGE_HEADER,
    OCR_VALUES,
    Citation,
    SegmentKind,
)
from engine.citations import STOPWORDS, answer_figures, answer_terms, cites_item
from engine.types import ContextItem

MIN_COVERAGE = 0.5
NEAR = 100  # characters either side of a figure that count as its surroundings
_SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+|\n\s*\n")  # PDF text wraps lines mid-sentence
# All-capitals codes (2+ letters, maybe digits) and CamelCase names an answer may introduce.
_NAME = re.compile(r"\b(?:[A-Z]{2,}[A-Z0-9]*|[A-Z][a-z]+[A-Z][A-Za-z0-9]*)\b")
# Abbreviations a model writes for words a document spells out, or adds around a figure.
_COMMON = frozenset("""
USD EUR GBP JPY CNY CHF CAD AUD US USA UK EU UN CEO CFO COO CTO CIO VP LLC LLP INC LTD PLC
GMBH FY YOY QOQ AM PM UTC GMT PDF ID OK NA
""".split())
_WORD = re.compile(r"[^\W\d_]{3,}")
_NUMBER = re.compile(r"\d[\d,.]*\d")
# Words of how a question is asked, not of what it is about.
_ASKING = frozenset("""
many much long take often old kind type tell give according value amount total must shall
""".split())
_NOT_FOUND = re.compile(
    r"not (?:in|contained in|found in|present in|included in|covered by|available in) the "
    r"(?:provided |given )?(?:documents?|collection|context|text|excerpts?)"
    r"|(?:documents?|collection|context|excerpts?|text) (?:do|does|did) not (?:contain|mention|"
    r"include|say|specify|provide|state|give|list|show|describe|indicate|disclose)"
    r"|(?:is|are|was|were) not (?:mentioned|stated|specified|provided|given|listed|disclosed|"
    r"available|found|included)"
    r"|no (?:information|mention|data|details?|record)\b"
    r"|(?:cannot|can't|could not|couldn't|unable to) (?:be )?(?:find|found|determine|determined|"
    r"answer|answered|locate|located|identify|identified)"
    r"|not answerable|there is no (?:information|mention|indication)",
    re.IGNORECASE)
NOT_FOUND_LEAD = "Not in the documents, as far as DocScout can check"


def says_not_found(text: str) -> bool:
    """Whether an answer says the documents do not hold the answer."""
    return bool(_NOT_FOUND.search(text))


def stem(word: str) -> str:
    word = word.lower().removesuffix("'s")
    for suffix in ("ies", "es", "s", "ed", "ing"):
        if len(word) > 4 and word.endswith(suffix):
            return word[: -len(suffix)]
    if len(word) == 4 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]  # "arms" and "arm", "fees" and "fee" are one word
    return word


def _terms(text: str) -> set[str]:
    words = {stem(w) for w in _WORD.findall(text) if w.lower() not in STOPWORDS}
    return (words - _ASKING) | {n.replace(",", "") for n in _NUMBER.findall(text)}


def _item_terms(item: ContextItem) -> set[str]:
    name = re.sub(r"[/_.\-]", " ", item.document.source)
    return _terms(f"{item.segment.text} {item.document.title} {name}")


@dataclass(frozen=True)
class Unsupported:
    """Why an answer is not supported by what the model read: `why` completes "the answer is
    not supported: ..." for the user; `missing` holds the question's words it could not place."""

    why: str
    missing: tuple[str, ...] = ()


def unsupported(question: str, answer_text: str, items: Sequence[ContextItem],
                citations: Sequence[Citation]) -> Unsupported | None:
    """Why the answer is not supported by the items the model read, or None when it is (or when
    there is nothing to check). Four checks, in order:

    1. a name the answer introduces (an all-capitals code such as a ticker, or a CamelCase name)
       that neither the question nor any item holds: made up;
    2. figures or quoted phrases that no item holds;
    3. figures that text items hold, but never next to (`_near_figures`) at least two of the
       question's words (one when it has only one): "$12.3 million" given as a salary sits next
       to "net income", "2147" given as a telephone number is a building's number;
    4. items the answer rests on that mention too few of the question's distinctive words
       (`MIN_COVERAGE`): an answer about another company or item.

    Question words found nowhere in the prompt are left out of checks 3 and 4: they are often
    the asker's phrasing ("In which town ...")."""
    if says_not_found(answer_text):
        return None
    claim = re.sub(r"\[[^\]]*\]", " ", answer_text)  # labels are not claims
    readable = [item for item in items if item.segment.kind is not SegmentKind.IMAGE]
    invented = _invented_names(claim, question, readable)
    if invented:
        return Unsupported("no passage the model read names "
                           + ", ".join(f"'{n}'" for n in invented[:4]))
    support = [item for item in items if any(c.valid and cites_item(c, item) for c in citations)]
    if not support:
        # Nothing holds the answer's figures or phrases: unsupported. Nothing to check: unknown.
        return (Unsupported("no passage the model read holds the figures of its answer")
                if answer_terms(answer_text) else None)
    read = set().union(*(_item_terms(item) for item in items))
    asked = _terms(question) & read
    if not asked:
        return None
    figures = answer_figures(claim, question)
    near = _near_figures(figures, readable)
    if near:  # no text holds them when they come from an image the answer cites
        best = max((asked & terms for terms in near), key=len)
        if len(best) < min(2, len(asked)):
            unplaced = sorted(asked - best)
            shown = ", ".join(f"'{f}'" for f in figures[:3])
            words = ", ".join(f"'{w}'" for w in unplaced[:6])
            return Unsupported(f"the passages that hold its figures ({shown}) do not speak of "
                               f"{words}", tuple(unplaced))
    held = set().union(*(_item_terms(item) for item in support))
    missing = sorted(asked - held)
    if 1 - len(missing) / len(asked) < MIN_COVERAGE:
        words = ", ".join(f"'{w}'" for w in missing[:6])
        return Unsupported(f"the passages the answer relies on do not mention {words}",
                           tuple(missing))
    return None


def _near_figures(figures: Sequence[str], items: Sequence[ContextItem]) -> list[set[str]]:
    """For each place an item holds one of the figures, the words around it: those both within
    `NEAR` characters and in its sentence or the one before (a subject named once, then a
    figure). Either alone lets in too much: a paragraph break or a signature line is often
    within 100 characters, and a sentence can run across a whole list. A value that OCR read
    over a chart's label ("Q2 2024: $35.8M") is about the chart: its words are its line's and
    those of the chart's title and axis titles above (`_chart_words`)."""
    if not figures:
        return []
    pattern = re.compile(r"(?<![\d.])(?:" + "|".join(map(re.escape, figures)) + r")(?![\d]|\.\d)")
    near = []
    for item in items:
        text = item.segment.text.replace(",", "")
        starts = [0] + [m.end() for m in _SENTENCE_BREAK.finditer(text)]
        for match in pattern.finditer(text):
            own = max(i for i, start in enumerate(starts) if start <= match.start())
            ends = [start for start in starts if start >= match.end()]
            sentences = text[starts[max(own - 1, 0)]:ends[0] if ends else len(text)]
            window = text[max(0, match.start() - NEAR): match.end() + NEAR]
            near.append(_chart_words(text, match.start())
                        or _terms(window) & _terms(sentences))
    return near


def _chart_words(text: str, at: int) -> set[str]:
    """The words a chart value at `at` is about when it sits in the values section of an OCR
    block: its own line (the label) and the block's lines before that section; else none."""
    header = max(text.rfind(OCR_IMAGE_HEADER, 0, at), text.rfind(OCR_FIGURE_HEADER, 0, at))
    values = text.rfind(OCR_VALUES, 0, at)
    if header < 0 or values < header:
        return set()
    line_start = text.rfind("\n", 0, at) + 1
    line_end = text.find("\n", at)
    return _terms(text[header:values] + "\n" + text[line_start:line_end if line_end >= 0 else None])


def _invented_names(claim: str, question: str, items: Sequence[ContextItem]) -> list[str]:
    """Codes and CamelCase names in the answer that neither the question nor any item holds
    (common abbreviations such as currencies and titles aside)."""
    names = [n for n in dict.fromkeys(_NAME.findall(claim)) if n not in _COMMON]
    if not names:
        return []
    known = " ".join([question] + [f"{i.segment.text} {i.document.title} {i.document.source}"
                                   for i in items]).lower()
    return [n for n in names if n.lower() not in known]


def not_found_text(answer_text: str, reason: Unsupported) -> str:
    """What the user sees instead of an unsupported answer: it says so, and keeps the draft."""
    return (f"{NOT_FOUND_LEAD}: {reason.why}.\n\nThe model's draft, not supported by the "
            f"documents: {answer_text.strip()}")

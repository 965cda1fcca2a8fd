"""Is an answer supported by what the model read? A lexical check, no second model call.

Small models rarely say "not in the documents": asked for the CEO's salary or a company's
revenue that the collection does not hold, they give a figure from a page about something else.
So after an answer is generated, DocScout finds the items it rests on (its valid citations and
the items `infer_citations` finds for its figures and words) and checks that they are about what
the question asks: of the question's distinctive words (stop words and words found nowhere in
the prompt left out, light stemming), at least `MIN_COVERAGE` must occur in those items, their
document's title or name. "How many employees does Tidewell Analytics have?" answered with the
412 employees of another company's report fails (the report never names Tidewell); "In which
town is Quillfeather headquartered?" passes although "town" is nowhere (words absent from the
whole prompt are not held against an answer: they are often just the asker's phrasing).

An answer with no figure, quote or citation to check is left alone, and so is one that already
says the documents do not hold the answer. Measured on the sample fact set (README, "Measuring
answers"): it catches answers about the wrong company or item; it cannot catch an answer about
the right subject but a missing attribute (a salary, a price) without refusing good answers too.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from engine.citations import STOPWORDS, answer_terms, cites_item
from engine.types import Citation, ContextItem

MIN_COVERAGE = 0.5
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
    return word


def _terms(text: str) -> set[str]:
    words = {stem(w) for w in _WORD.findall(text) if w.lower() not in STOPWORDS}
    return (words - _ASKING) | {n.replace(",", "") for n in _NUMBER.findall(text)}


def _item_terms(item: ContextItem) -> set[str]:
    name = re.sub(r"[/_.\-]", " ", item.document.source)
    return _terms(f"{item.segment.text} {item.document.title} {name}")


def unsupported(question: str, answer_text: str, items: Sequence[ContextItem],
                citations: Sequence[Citation]) -> list[str] | None:
    """The question's distinctive words that the items the answer rests on never mention, when
    too many are missing (the answer is then not about what was asked); else None."""
    if says_not_found(answer_text):
        return None
    support = [item for item in items if any(c.valid and cites_item(c, item) for c in citations)]
    if not support:
        # Nothing holds the answer's figures or phrases: unsupported. Nothing to check: unknown.
        return ["(no passage holds the answer's figures)"] if answer_terms(answer_text) else None
    read = set().union(*(_item_terms(item) for item in items))
    asked = _terms(question) & read
    if not asked:
        return None
    held = set().union(*(_item_terms(item) for item in support))
    missing = sorted(asked - held)
    return missing if 1 - len(missing) / len(asked) < MIN_COVERAGE else None


def not_found_text(answer_text: str, missing: Sequence[str]) -> str:
    """What the user sees instead of an unsupported answer: it says so, and keeps the draft."""
    words = ", ".join(f"'{w}'" for w in missing[:6])
    why = ("no passage the model read holds the figures of its answer"
           if missing[0].startswith("(") else
           f"the passages the answer relies on do not mention {words}")
    return (f"{NOT_FOUND_LEAD}: {why}.\n\nThe model's draft, not supported by the documents: "
            f"{answer_text.strip()}")

"""Citation labels in the prompt, and citations in answers checked against them.

Documents are numbered D1..Dn in the collection's stable order (`Store.collection_segments`).
Every item in the prompt starts with one label:

    [D3 p.12]            page 12 of a PDF (its text and its rendered image), or an image file (p.1)
    [D5 lines 1-200]     lines of a text or Markdown document
    [D4 tree]            a codebase's tree overview
    [src/app.py:10-42]   a source file of a codebase; [D4 src/app.py:10-42] when two codebases of
                         the collection share that path (decided collection-wide, so a label never
                         changes from one question to the next)

When an answer cites nothing (small models often don't), `infer_citations` points to the item
of the prompt that holds the answer's claim (its figures, quoted phrases and distinctive words,
ranked), marked `inferred` so that no one mistakes it for the model's own citation.

`parse_citations` reads the bracketed citations of an answer, tolerating what models do to them
(`[D3 p. 12]`, `[D3, p.12]`, `[D3 pp.12-13]`, `[src/app.py:12]`, several in one bracket), and
checks each against the items that were in the prompt: valid only when the page, line range or
file it names was there. The index of what was in the prompt is built by parsing the items' own
labels with the same parser, so the two can never drift apart.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field, replace

from core.domain import Citation, Document, DocumentKind, Segment, SegmentKind
from engine.types import ContextItem

MAX_EXPANDED_PAGES = 50  # a cited page range is checked page by page up to this span


# -- labels --------------------------------------------------------------------------------------


def label_for(
    doc_number: int, document: Document, segment: Segment, ambiguous_paths: AbstractSet[str] = frozenset()
) -> str:
    """The label an item carries in the prompt (see the module docstring)."""
    loc = segment.locator
    doc = f"D{doc_number}"
    if loc.page is not None:
        return f"[{doc} p.{loc.page}]"
    if document.kind == DocumentKind.CODE:
        if segment.kind != SegmentKind.CODE or loc.path in (None, "."):
            return f"[{doc} tree]"
        where = loc.label()
        return f"[{doc} {where}]" if loc.path in ambiguous_paths else f"[{where}]"
    if loc.line_start is not None:
        return f"[{doc} lines {loc.line_start}-{loc.line_end}]"
    return f"[{doc}]"


def ambiguous_paths(collection: Iterable[tuple[Document, Sequence[Segment]]]) -> frozenset[str]:
    """Source-file paths that occur in more than one codebase of the collection."""
    counts: Counter[str] = Counter()
    for document, segments in collection:
        if document.kind == DocumentKind.CODE:
            counts.update({s.locator.path for s in segments
                           if s.kind == SegmentKind.CODE and s.locator.path})
    return frozenset(path for path, n in counts.items() if n > 1)


# -- parsing -------------------------------------------------------------------------------------

_BRACKET = re.compile(r"\[([^\[\]\n]{1,400})\](?!\()")  # not a Markdown link's [text](url)
_SPLIT = re.compile(r"\s*[;,]\s*|\s+and\s+|\s*&\s*")
_LEAD = re.compile(r"^(?:see(?:\s+also)?|cf\.?|source:?|sources:?|from)\s+", re.IGNORECASE)
_DOC = re.compile(r"^(?:D|Doc\.?|Document)\s?(\d{1,6})(?![\w/.\-])\s*:?\s*", re.IGNORECASE)
_DASH = r"\s*(?:-|–|—|to)\s*"
_RANGE = rf"(?P<a>\d{{1,7}})(?:{_DASH}(?:pp?\.?\s*|L)?(?P<b>\d{{1,7}}))?"
_PAGE = re.compile(rf"^(?:pp?|pgs?|pages?)\.?\s*{_RANGE}$", re.IGNORECASE)
_LINES = re.compile(rf"^(?:ll?|lines?)\.?\s*L?{_RANGE}$", re.IGNORECASE)
_TREE = re.compile(r"^(?:tree|overview|tree overview|file tree|files)$", re.IGNORECASE)
_NUMBERS = re.compile(rf"^:?\s*L?{_RANGE}$", re.IGNORECASE)
_FILE_LINES = re.compile(rf"^(.+?)(?::|#L|\s+lines?\s+|\s+l\.\s*|\s+(?=L\d))\s*L?{_RANGE}$",
                         re.IGNORECASE)
# A path cited without lines: has a folder, or a name with an extension ("app.py", not "i.e").
_PATHLIKE = re.compile(r"^(?:\S*[A-Za-z]\S*/\S*|\S*/\S*[A-Za-z]\S*|[\w\-.]{2,}\.[A-Za-z]\w{0,9}"
                       r"|[\w\-.]+\.[A-Za-z]\w{1,9})$")
_LETTER = re.compile(r"[^\W\d_]")


@dataclass(frozen=True, slots=True)
class Ref:
    """One citation as written: what kind of place it names, and where."""

    kind: str  # "page" | "lines" | "file" | "tree" | "doc" | "number" (a page or lines, by document)
    doc: int | None = None
    path: str | None = None
    start: int | None = None
    end: int | None = None


def parse_refs(content: str) -> list[Ref]:
    """The citations inside one pair of brackets (without the brackets); [] when it is none."""
    refs: list[Ref] = []
    doc: int | None = None  # the document the previous part named, for "D3 p.12, p.14"
    pending: int | None = None  # a bare "D3" that the next part may complete ("D3, p.12")
    last: Ref | None = None
    for raw in _SPLIT.split(content.strip()):
        part = _LEAD.sub("", raw.strip())
        match = _DOC.match(part)
        if match:
            if pending is not None:
                refs.append(Ref("doc", pending))
            doc, pending, last = int(match[1]), None, None
            part = part[match.end():].strip()
            if not part:
                pending = doc
                continue
        ref = _parse_place(part, doc, pending, last)
        if ref is None:
            continue
        if pending is not None and ref.doc != pending:
            refs.append(Ref("doc", pending))
        pending, last = None, ref
        refs.append(ref)
    if pending is not None:
        refs.append(Ref("doc", pending))
    return refs


def _parse_place(part: str, doc: int | None, pending: int | None, last: Ref | None) -> Ref | None:
    if not part:
        return None
    if m := _PAGE.match(part):
        return Ref("page", doc, None, *_range(m))
    if m := _LINES.match(part):
        return Ref("lines", doc, None, *_range(m))
    if _TREE.match(part):
        return Ref("tree", doc)
    if m := _NUMBERS.match(part):  # "14" after "p.12", "30-35" after "src/a.py:1-3"
        if last is not None and last.kind in ("page", "lines", "file", "number"):
            return Ref(last.kind, last.doc, last.path, *_range(m))
        return Ref("number", doc, None, *_range(m)) if doc is not None else None
    file_doc = pending if pending is not None else (doc if last is None else None)
    if (m := _FILE_LINES.match(part)) and _LETTER.search(m[1]):
        return Ref("file", file_doc, m[1].strip().strip("`"), *_range(m))
    path = part.strip("`")
    if _PATHLIKE.match(path):
        return Ref("file", file_doc, path)
    return None


def _range(match: re.Match) -> tuple[int, int]:
    start = int(match["a"])
    end = int(match["b"]) if match["b"] else start
    return (start, end) if start <= end else (end, start)


# -- what was in the prompt ----------------------------------------------------------------------


@dataclass
class _Index:
    docs: dict[int, Document] = field(default_factory=dict)  # D-number -> document
    numbers: dict[str, int] = field(default_factory=dict)  # source -> D-number
    pages: dict[int, set[int]] = field(default_factory=dict)
    lines: dict[int, list[tuple[int, int]]] = field(default_factory=dict)  # text documents
    trees: set[int] = field(default_factory=set)
    # path -> (source, first line, last line); files of codebases and text documents
    files: dict[str, list[tuple[str, int | None, int | None]]] = field(default_factory=dict)


def _index(items: Sequence[ContextItem]) -> _Index:
    index = _Index()
    for item in items:
        loc, source = item.segment.locator, item.document.source
        for ref in parse_refs(item.label.strip()[1:-1]):
            if ref.doc is not None:
                index.docs.setdefault(ref.doc, item.document)
                index.numbers.setdefault(source, ref.doc)
                if ref.kind == "page":
                    index.pages.setdefault(ref.doc, set()).add(ref.start)
                elif ref.kind == "lines":
                    index.lines.setdefault(ref.doc, []).append((ref.start, ref.end))
                elif ref.kind == "tree":
                    index.trees.add(ref.doc)
        if loc.path and loc.path != "." and loc.page is None:
            index.files.setdefault(loc.path, []).append((source, loc.line_start, loc.line_end))
    return index


def _covered(ranges: Iterable[tuple[int | None, int | None]], start: int, end: int) -> bool:
    """Whether the union of the line ranges covers start..end."""
    reach = start - 1
    for a, b in sorted((a, b) for a, b in ranges if a is not None and b is not None):
        if a > reach + 1:
            break
        reach = max(reach, b)
        if reach >= end:
            return True
    return False


# -- resolution ----------------------------------------------------------------------------------


def parse_citations(answer_text: str, items: Sequence[ContextItem]) -> tuple[Citation, ...]:
    """Every citation in an answer, each checked against the items that were in the prompt.
    Valid only when what it names was in the prompt; duplicates are reported once."""
    index = _index(items)
    out: dict[Citation, None] = {}
    for match in _BRACKET.finditer(answer_text):
        for ref in parse_refs(match[1]):
            for citation in _resolve(match[0], ref, index):
                out.setdefault(citation, None)
    return tuple(out)


# -- citations the model did not write ------------------------------------------------------------

MAX_INFERRED = 3
NEAR_BEST = 0.75  # a second source is kept only when it scores this close to the best one
_NUMBER = re.compile(r"\d[\d,.]*\d|\d")
_QUOTED = re.compile(r"[\"“]([^\"”\n]{3,80})[\"”]")
_WORD = re.compile(r"[^\W\d_]{3,}")
STOPWORDS = frozenset("""
a about above after again against all also an and any are as at be because been before being
below between both but by can could did do does doing down during each few for from further had
has have having he her here hers him his how i if in into is it its itself just me more most my
no nor not now of off on once only or other our out over own same she should so some such than
that the their them then there these they this those through to too under until up very was we
were what when where which while who whom why will with would you your document documents answer
question page pages file files according stated states says listed shown mentioned provided
""".split())


# A reference code: upper-case letters and digits joined by hyphens, with letters and digits
# ("TWA-MSA-2025-017", "ISO-9001"): its numbers name a document or a product, they are not figures.
_CODE = re.compile(r"(?<![\w,.$-])(?=[A-Z0-9-]*[A-Z])(?=[A-Z0-9-]*\d)[A-Z0-9]+(?:-[A-Z0-9]+)+"
                   r"(?![\w-])")


def answer_terms(text: str) -> tuple[str, ...]:
    """Distinctive strings of a claim: numbers of 3+ characters (not page numbers, list markers
    or the numbers inside a reference code) and quoted phrases, in order of appearance."""
    text = re.sub(r"\[[^\]]*\]", " ", text)  # labels are not claims
    text = _CODE.sub(" ", text)
    numbers = [n.rstrip(".,") for n in _NUMBER.findall(text)]
    return tuple(dict.fromkeys([n for n in numbers if len(n) >= 3] + _QUOTED.findall(text)))


def answer_figures(claim: str, question: str) -> list[str]:
    """The figures of a claim, in order: its numbers of 3+ characters (`answer_terms`) that the
    question does not already hold (a year in the question is not the answer's claim), without
    thousands separators."""
    asked = _numbers(question)
    if not _ASKS_TIME.search(question):  # "Who signed?": the date beside the name is no claim
        claim = _DATE.sub(" ", claim)
    figures = (n.replace(",", "") for n in answer_terms(claim) if _NUMBER.fullmatch(n))
    return [n for n in dict.fromkeys(figures) if n not in asked]


_MONTHS = ("january|february|march|april|may|june|july|august|september|october|november|"
           "december|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec")
# A calendar date: "March 3, 2025", "3 March 2025", "2025-03-03".
_DATE = re.compile(rf"\b(?:(?:{_MONTHS})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}|\d{{1,2}}"
                   rf"(?:st|nd|rd|th)?\s+(?:{_MONTHS})\.?,?\s+\d{{4}}|\d{{4}}-\d{{2}}-\d{{2}})\b",
                   re.IGNORECASE)
_ASKS_TIME = re.compile(r"\b(?:when|date|dates|dated|year|years|month|months|day|days|how long|"
                        r"period|deadline|time)\b", re.IGNORECASE)


def _numbers(text: str) -> set[str]:
    """Numbers as written, without thousands separators ("18,750" and "18750" are one)."""
    return {n.rstrip(".,").replace(",", "") for n in _NUMBER.findall(text)}


def _words(text: str) -> set[str]:
    return {w for w in (m.lower() for m in _WORD.findall(text)) if w not in STOPWORDS}


def _claim_scores(answer_text: str, items: Sequence[ContextItem], question: str
                  ) -> list[tuple[float, int, ContextItem, set[str]]]:
    """How well each readable item holds the answer's claim, best first (see infer_citations);
    only items that hold at least one of its figures or phrases (or, without any, enough of its
    words)."""
    claim = re.sub(r"\[[^\]]*\]", " ", answer_text)
    asked = _numbers(question)
    figures = set(answer_figures(claim, question))
    minor = {n for n in _numbers(claim) if len(n) == 2} - asked - figures  # "30 days", "45"
    phrases = [t for t in answer_terms(claim) if not _NUMBER.fullmatch(t)]
    claim_words = _words(claim)
    question_words = _words(question) - claim_words
    if not figures and not phrases and not claim_words:
        return []
    readable = [(n, item) for n, item in enumerate(items)
                if item.segment.kind != SegmentKind.IMAGE and item.segment.text]
    word_sets = {n: _words(item.segment.text) for n, item in readable}
    df: Counter[str] = Counter(w for words in word_sets.values() for w in words)
    total = max(len(readable), 1)

    def rarity(word: str) -> float:
        return 1.0 - (df[word] - 1) / total  # 1 when only this item has it, ~0 when all do

    scored = []
    for n, item in readable:
        text = item.segment.text
        numbers = _numbers(text)
        held = figures & numbers
        held_phrases = [p for p in phrases if p.lower() in text.lower()]
        words = claim_words & word_sets[n]
        if figures or phrases:
            if not held and not held_phrases:
                continue
        elif len(words) < max(2, len(claim_words) / 3):
            continue
        score = (3.0 * (len(held) + len(held_phrases)) + len(minor & numbers)
                 + sum(rarity(w) for w in words)
                 + 0.5 * sum(rarity(w) for w in question_words & word_sets[n]))
        scored.append((score, n, item, held))
    scored.sort(key=lambda s: (-s[0], s[1]))
    return scored


def infer_citations(answer_text: str, items: Sequence[ContextItem],
                    question: str = "") -> tuple[Citation, ...]:
    """The prompt items (text and code) that hold the answer's claim, best first, each labelled
    as it was in the prompt and marked inferred.

    An item must hold at least one of the answer's figures (numbers of 3+ characters that the
    question does not already hold) or quoted phrases, when it has any; otherwise two and at
    least a third of its distinctive words. Items are ranked by the figures and phrases they hold
    (weight 3 each), its two-digit numbers (1 each), the answer's words they hold, each weighted
    by how rare it is among the items (so "fee" counts little in a collection about fees), and
    half that for the question's words; the best is kept, and others only when they score close
    to it and add a figure the best one lacks. So a figure that occurs in many places is sourced
    to the item whose wording matches the claim, not to every item that shares the number."""
    return _inferred(_claim_scores(answer_text, items, question), items)


def _inferred(scored: list, items: Sequence[ContextItem]) -> tuple[Citation, ...]:
    if not scored:
        return ()
    best_score, _, best_item, covered = scored[0]
    chosen = [best_item]
    for score, _, item, held in scored[1:]:
        if len(chosen) == MAX_INFERRED or score < NEAR_BEST * best_score:
            break
        if held - covered:
            chosen.append(item)
            covered = covered | held
    found = (c for item in chosen for c in parse_citations(item.label, items))
    return tuple(dict.fromkeys(replace(c, inferred=True) for c in found))


def confirm_citations(citations: Sequence[Citation], answer_text: str,
                      items: Sequence[ContextItem], question: str = "") -> tuple[Citation, ...]:
    """The model's citations, checked against the claim: when the items its valid citations
    name hold the claim (scored as in infer_citations) clearly worse than the item that holds it
    best, those citations are marked invalid. Small models copy a label they saw rather than the
    one above the passage they used ([D4 p.1] for a memo that is D6), and a citation to a page
    that does not hold the claim misleads more than none. When a cited item holds the claim about
    as well as the best one, every citation stays as it is (a sentence may cite other pages for
    its other parts); so does an answer with nothing to score."""
    return _confirmed(citations, _claim_scores(answer_text, items, question))


def _confirmed(citations: Sequence[Citation], scored: list) -> tuple[Citation, ...]:
    if not scored:
        return tuple(citations)
    cited = [score for score, _, item, _ in scored
             if any(c.valid and cites_item(c, item) for c in citations)]
    if cited and cited[0] >= NEAR_BEST * scored[0][0]:
        return tuple(citations)
    return tuple(replace(c, valid=False) if c.valid else c for c in citations)


def answer_citations(answer_text: str, items: Sequence[ContextItem], question: str = ""
                     ) -> tuple[tuple[Citation, ...], tuple[Citation, ...]]:
    """The answer's own citations, parsed and confirmed, and the ones DocScout infers for it,
    from one scoring of the claim against the items."""
    scored = _claim_scores(answer_text, items, question)
    return (_confirmed(parse_citations(answer_text, items), scored), _inferred(scored, items))


def cites_item(citation: Citation, item: ContextItem) -> bool:
    """Whether a resolved citation points at this item (its page, or lines of its file)."""
    if citation.document != item.document.source:
        return False
    loc = item.segment.locator
    if citation.page is not None:
        return citation.page == loc.page
    if citation.path is not None and citation.path != ".":
        if citation.path != loc.path:
            return False
        if citation.line_start is None or loc.line_start is None:
            return True
        return citation.line_start <= loc.line_end and citation.line_end >= loc.line_start
    return citation.path is None and loc.page is None


def _resolve(label: str, ref: Ref, index: _Index) -> list[Citation]:
    if ref.kind == "file":
        return [_resolve_file(label, ref, index)]
    if ref.kind == "page" and ref.doc is None:
        ref = _guess_page_doc(ref, index)
    document = index.docs.get(ref.doc) if ref.doc is not None else None
    if document is None:
        return [Citation(label, None, page=ref.start if ref.kind == "page" else None)]
    source = document.source
    kind = ref.kind
    if kind == "number":
        kind = "page" if ref.doc in index.pages else "lines" if ref.doc in index.lines else ""
    if kind == "doc":
        return [Citation(label, source, valid=True)]
    if kind == "tree":
        return [Citation(label, source, path=".", valid=ref.doc in index.trees)]
    if kind == "page":
        pages = index.pages.get(ref.doc, set())
        if ref.end - ref.start < MAX_EXPANDED_PAGES:
            return [Citation(label, source, page=p, valid=p in pages)
                    for p in range(ref.start, ref.end + 1)]
        whole = all(p in pages for p in range(ref.start, ref.end + 1))
        return [Citation(label, source, page=ref.start, valid=whole)]
    if kind == "lines":
        valid = _covered(index.lines.get(ref.doc, []), ref.start, ref.end)
        path = next((p for p, rows in index.files.items() if any(r[0] == source for r in rows)),
                    None)
        return [Citation(label, source, path=path, line_start=ref.start, line_end=ref.end,
                         valid=valid)]
    return [Citation(label, source)]


def _guess_page_doc(ref: Ref, index: _Index) -> Ref:
    """`[p.5]` without a document: resolved only when exactly one document in the prompt has
    that page."""
    owners = [d for d, pages in index.pages.items() if ref.start in pages]
    return Ref("page", owners[0], None, ref.start, ref.end) if len(owners) == 1 else ref


def _resolve_file(label: str, ref: Ref, index: _Index) -> Citation:
    path = ref.path or ""
    candidates = _file_candidates(path, index)
    if not candidates and " " in path:  # "the handler in src/app.py:12"
        path = path.rsplit(" ", 1)[-1]
        candidates = _file_candidates(path, index)
    if ref.doc is not None:
        # The document number must agree wherever the prompt showed the file's document number.
        candidates = {(p, s): rows for (p, s), rows in candidates.items()
                      if index.numbers.get(s, ref.doc) == ref.doc}
    if len(candidates) != 1:  # nowhere, or in several codebases and the answer did not say which
        return Citation(label, None, path=path, line_start=ref.start, line_end=ref.end)
    (full_path, source), rows = next(iter(candidates.items()))
    if ref.start is None:
        valid = True
    else:
        valid = _covered([(a, b) for _, a, b in rows], ref.start, ref.end)
    return Citation(label, source, path=full_path, line_start=ref.start, line_end=ref.end,
                    valid=valid)


def _file_candidates(path: str, index: _Index) -> dict[tuple[str, str], list]:
    """(path, source) -> ranges in the prompt: the exact path, else the files it is a suffix of."""
    path = path.strip().removeprefix("./")
    if path in index.files:
        found = {path: index.files[path]}
    else:
        found = {p: rows for p, rows in index.files.items() if p.endswith("/" + path)}
    out: dict[tuple[str, str], list] = {}
    for p, rows in found.items():
        for row in rows:
            out.setdefault((p, row[0]), []).append(row)
    return out

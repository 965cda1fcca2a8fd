"""`docscout eval`: score a collection's answers against a question set.

A question set is a YAML or JSON file:

    name: Sample facts                  # optional; default: the file name
    questions:
      - id: contract-fee                # optional; default: q1, q2, ...
        question: What is the monthly fee in the services agreement?
        answer: 18750                   # a number: correct when the answer states it
        tolerance: 0.01                 # optional, relative (default 0.5%)
        evidence: [contract.pdf p.1]    # optional: every place that holds part of the fact;
                                        # "A | B" when either A or B holds it
        tags: [contract, number]        # optional: totals are also given per tag
      - question: Which state's law governs the agreement?
        answer: Vermont                 # a string: correct when the answer contains it
        any_of: [Vermont, VT]           # optional alternatives
      - question: Which quarters are charted?
        answer: [Q1, Q2, Q3, Q4]        # a list: correct when the answer contains every item
      - question: What is the CEO's salary?
        answer: not answerable          # correct when the answer says the documents lack it

It also reads MMLongBench-Doc's `samples.json` (a JSON list with `doc_id`, `question`,
`answer`, `answer_format` Int/Float/Str/List/None, `evidence_pages`): each question is then
asked of its own document (`doc_id`, matched to a document of the collection by file name).

Evidence is written `NAME p.N`, `NAME p.N-M` or `PATH:A-B`, where NAME is the end of a
document's source (`contract.pdf` matches `sample_docs/contract.pdf`) and PATH the end of a
source file's path in a codebase.

Per question the run records the answer, whether it is correct, whether every evidence place was
in the context the model read, the citations (the model's own valid and invalid ones, and those
DocScout inferred), whether a valid citation points at the evidence, the stop reason, time to
first token and total time. The totals give accuracy on answerable questions, the share of
unanswerable ones answered "not in the documents", loops and other failures, evidence recall,
and the share of correct answers whose citation points at the evidence. Answers of an eval run
are not added to the collection's history; the run itself is stored.

Matching is deliberately simple and transparent (no model judges the answers): numbers are read
from the answer text (thousands separators, percentages, "million"/"billion" scales), strings
are compared case- and punctuation-insensitively. A verbose answer that contains the fact counts
as correct.
"""

from __future__ import annotations

import ast
import dataclasses
import json
import re
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from core.domain import Answer, Citation, Document, DocumentKind, Mode, StopReason
from core.errors import EngineError, QuestionSetError, StorageError
from engine.grounding import says_not_found
from engine.types import Context

DEFAULT_TOLERANCE = 0.005  # relative
NOT_ANSWERABLE = "not answerable"


# -- the question set ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Place:
    """Where a fact is: a document's pages, or lines of a file (matched by the end of its name)."""

    name: str
    page_start: int | None = None
    page_end: int | None = None
    line_start: int | None = None
    line_end: int | None = None

    def __str__(self) -> str:
        if self.page_start is not None:
            pages = (f"{self.page_start}" if self.page_end == self.page_start
                     else f"{self.page_start}-{self.page_end}")
            return f"{self.name} p.{pages}"
        if self.line_start is not None:
            return f"{self.name}:{self.line_start}-{self.line_end}"
        return self.name


@dataclass(frozen=True, slots=True)
class Expected:
    kind: str  # "number" | "string" | "list" | "none"
    value: object  # float, str, or a list of str/float
    tolerance: float = DEFAULT_TOLERANCE
    any_of: tuple[str, ...] = ()

    def __str__(self) -> str:
        return NOT_ANSWERABLE if self.kind == "none" else str(self.value)


@dataclass(frozen=True, slots=True)
class EvalQuestion:
    id: str
    question: str
    expected: Expected
    evidence: tuple[tuple[Place, ...], ...] = ()  # all of these; each one of its alternatives
    tags: tuple[str, ...] = ()
    document: str | None = None  # ask only this document (a name matched like evidence)


@dataclass(frozen=True, slots=True)
class QuestionSet:
    name: str
    questions: tuple[EvalQuestion, ...]


_PLACE_PAGES = re.compile(r"^(?P<name>.+?)\s+pp?\.\s*(?P<a>\d+)(?:\s*-\s*(?P<b>\d+))?$")
_PLACE_LINES = re.compile(r"^(?P<name>.+?):(?P<a>\d+)(?:-(?P<b>\d+))?$")


def parse_place(text: str) -> Place:
    text = text.strip()
    if m := _PLACE_PAGES.match(text):
        a = int(m["a"])
        return Place(m["name"], page_start=a, page_end=int(m["b"] or a))
    if m := _PLACE_LINES.match(text):
        a = int(m["a"])
        return Place(m["name"], line_start=a, line_end=int(m["b"] or a))
    raise ValueError(f"evidence {text!r} is neither 'NAME p.N' nor 'PATH:A-B'")


def load_question_set(path: Path) -> QuestionSet:
    """Read a question set (see the module docstring); errors name the file and the question."""
    path = Path(path)
    try:
        raw = path.read_text(encoding="utf-8")
        data = json.loads(raw) if path.suffix.lower() == ".json" else yaml.safe_load(raw)
    except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError) as exc:
        raise QuestionSetError(f"{path}: cannot read the question set: {exc}") from exc
    if isinstance(data, list) and data and isinstance(data[0], dict) and "doc_id" in data[0]:
        return QuestionSet(path.stem, tuple(_mmlb(path, n, row) for n, row in enumerate(data, 1)))
    if not isinstance(data, dict) or not isinstance(data.get("questions"), list):
        raise QuestionSetError(f"{path}: expected a mapping with a 'questions' list, or "
                               "MMLongBench-Doc's samples.json")
    questions = tuple(_question(path, n, row) for n, row in enumerate(data["questions"], 1))
    if len({q.id for q in questions}) != len(questions):
        raise QuestionSetError(f"{path}: question ids must be unique")
    return QuestionSet(str(data.get("name") or path.stem), questions)


def _question(path: Path, n: int, row) -> EvalQuestion:
    where = f"{path}, question {n}"
    if not isinstance(row, dict) or not str(row.get("question") or "").strip():
        raise QuestionSetError(f"{where}: needs a 'question'")
    if "answer" not in row:
        raise QuestionSetError(f"{where}: needs an 'answer' (use 'not answerable' when the "
                               "documents do not hold one)")
    answer = row["answer"]
    try:
        tolerance = float(row.get("tolerance", DEFAULT_TOLERANCE))
        evidence = tuple(tuple(parse_place(alt) for alt in str(p).split("|"))
                         for p in row.get("evidence") or ())
    except ValueError as exc:
        raise QuestionSetError(f"{where}: {exc}") from exc
    if isinstance(answer, bool) or answer is None:
        raise QuestionSetError(f"{where}: 'answer' must be a number, a string or a list")
    if isinstance(answer, int | float):
        expected = Expected("number", float(answer), tolerance)
    elif isinstance(answer, list):
        expected = Expected("list", [a if isinstance(a, int | float) else str(a) for a in answer],
                            tolerance)
    elif str(answer).strip().lower() in (NOT_ANSWERABLE, "not in the documents"):
        expected = Expected("none", None)
    else:
        expected = Expected("string", str(answer), tolerance,
                            tuple(str(a) for a in row.get("any_of") or ()))
    tags = tuple(str(t) for t in row.get("tags") or ())
    return EvalQuestion(str(row.get("id") or f"q{n}"), str(row["question"]).strip(), expected,
                        evidence, tags, row.get("document"))


def _mmlb(path: Path, n: int, row: dict) -> EvalQuestion:
    """One MMLongBench-Doc sample, asked of its own document."""
    fmt = str(row.get("answer_format") or "Str")
    answer = str(row.get("answer", ""))
    try:
        pages = [int(p) for p in ast.literal_eval(str(row.get("evidence_pages") or "[]"))]
    except (ValueError, SyntaxError) as exc:
        raise QuestionSetError(f"{path}, sample {n}: bad evidence_pages") from exc
    if fmt == "None" or answer.strip().lower() == NOT_ANSWERABLE:
        expected = Expected("none", None)
    elif fmt in ("Int", "Float") and _NUMBER_TEXT.fullmatch(answer.strip().replace(",", "")):
        expected = Expected("number", float(answer.strip().replace(",", "")),
                            0.0 if fmt == "Int" else 0.01)
    elif fmt == "List":
        try:
            items = ast.literal_eval(answer)
        except (ValueError, SyntaxError):
            items = [answer]
        items = items if isinstance(items, list | tuple) else [items]
        expected = Expected("list", [i if isinstance(i, int | float) else str(i) for i in items],
                            0.01)
    else:
        expected = Expected("string", answer)
    doc = str(row["doc_id"])
    sources = str(row.get("evidence_sources") or "")
    tags = (f"format:{fmt}", *(f"source:{s}" for s in re.findall(r"[A-Za-z-]+", sources)))
    return EvalQuestion(f"mmlb-{n}", str(row["question"]).strip(), expected,
                        tuple((Place(doc, page_start=p, page_end=p),) for p in pages), tags, doc)


# -- scoring ------------------------------------------------------------------------------------

_NUMBER_TEXT = re.compile(r"-?\d+(?:\.\d+)?")
_NUMBER_IN = re.compile(r"(?<![\w.])-?\d[\d,]*(?:\.\d+)?(?:\s*(?:%|percent\b|per cent\b))?"
                        r"(?:\s*(?P<scale>thousand|million|billion|trillion|[kKmMbB]n?)\b)?")
_SCALES = {"thousand": 1e3, "k": 1e3, "million": 1e6, "m": 1e6, "mn": 1e6, "billion": 1e9,
           "b": 1e9, "bn": 1e9, "trillion": 1e12}
_PUNCT = re.compile(r"[^\w%$.]+|(?<!\d)\.|\.(?!\d)")


def numbers_in(text: str) -> list[float]:
    """Every number stated in `text`, also scaled when a scale word follows ("148.6 million"
    gives 148.6 and 148,600,000)."""
    text = re.sub(r"\[[^\]]*\]", " ", text)  # citation labels hold page numbers, not claims
    out: list[float] = []
    for m in _NUMBER_IN.finditer(text):
        raw = re.match(r"-?\d[\d,]*(?:\.\d+)?", m[0])[0].replace(",", "")
        try:
            value = float(raw)
        except ValueError:
            continue
        out.append(value)
        scale = (m["scale"] or "").lower()
        if scale in _SCALES:
            out.append(value * _SCALES[scale])
    return out


def _close(a: float, b: float, tolerance: float) -> bool:
    return abs(a - b) <= max(tolerance * abs(b), 1e-9)


def _number_stated(value: float, text: str, tolerance: float) -> bool:
    return any(_close(n, value, tolerance) or _close(n, value * 100, tolerance)
               or _close(n * 100, value, tolerance) for n in numbers_in(text))


def _normal(text: str) -> str:
    return " ".join(_PUNCT.sub(" ", text.lower()).split())


def _string_stated(expected: str, text: str) -> bool:
    want, have = _normal(expected), _normal(text)
    if not want:
        return False
    if f" {want} " in f" {have} ":
        return True
    if _NUMBER_TEXT.fullmatch(want.replace(",", "")):
        return _number_stated(float(want.replace(",", "")), text, 0.0)
    words = want.split()
    if len(words) >= 3:  # a long phrase: most of its words, in any order
        have_words = set(have.split())
        return sum(w in have_words for w in words) / len(words) >= 0.8
    return False


def is_correct(expected: Expected, answer: str) -> bool:
    """Whether an answer's text states the expected answer (see the module docstring)."""
    refused = says_not_found(answer)
    if expected.kind == "none":
        return refused
    if not answer.strip() or refused:  # a refusal is wrong, whatever else it quotes
        return False
    if expected.kind == "number":
        return _number_stated(float(expected.value), answer, expected.tolerance)
    if expected.kind == "list":
        return all(_number_stated(float(item), answer, expected.tolerance)
                   if isinstance(item, int | float) else _string_stated(str(item), answer)
                   for item in expected.value)
    return any(_string_stated(s, answer) for s in (str(expected.value), *expected.any_of))


# -- evidence -----------------------------------------------------------------------------------


def _names(source: str, name: str) -> bool:
    return source == name or source.endswith("/" + name)


def place_in_context(place: Place, context: Context) -> bool:
    """Whether the context held every page or line of `place`."""
    if place.page_start is not None:
        pages = {item.segment.locator.page for item in context.items
                 if _names(item.document.source, place.name)}
        return all(p in pages for p in range(place.page_start, place.page_end + 1))
    ranges = [(i.segment.locator.line_start, i.segment.locator.line_end) for i in context.items
              if i.segment.locator.path and i.segment.locator.line_start is not None
              and (_names(i.segment.locator.path, place.name)
                   or (i.document.kind != DocumentKind.CODE
                       and _names(i.document.source, place.name)))]
    return all(any(a <= line <= b for a, b in ranges)
               for line in range(place.line_start, place.line_end + 1))


def cites_place(citation: Citation, place: Place) -> bool:
    """Whether a valid citation points at (part of) `place`."""
    if not citation.valid or citation.document is None:
        return False
    if place.page_start is not None:
        return (_names(citation.document, place.name) and citation.page is not None
                and place.page_start <= citation.page <= place.page_end)
    path = citation.path or ""
    if not (_names(path, place.name) or _names(citation.document, place.name)):
        return False
    if citation.line_start is None:
        return True
    return citation.line_start <= place.line_end and citation.line_end >= place.line_start


# -- running ------------------------------------------------------------------------------------


@dataclass
class EvalResult:
    question: EvalQuestion
    answer: Answer
    correct: bool
    evidence_in_context: bool | None  # None: the question names no evidence
    cites_evidence: bool | None
    pages_read: int

    def as_json(self) -> dict:
        q, a = self.question, self.answer
        own = [c for c in a.citations if not c.inferred]
        return {
            "id": q.id,
            "question": q.question,
            "expected": str(q.expected),
            "answerable": q.expected.kind != "none",
            "tags": list(q.tags),
            "answer": a.text,
            "correct": self.correct,
            "evidence": [" | ".join(map(str, alternatives)) for alternatives in q.evidence],
            "evidence_in_context": self.evidence_in_context,
            "cites_evidence": self.cites_evidence,
            "citations": {
                "own_valid": sum(c.valid for c in own),
                "own_invalid": sum(not c.valid for c in own),
                "inferred": sum(c.inferred for c in a.citations),
                "labels": [c.label for c in a.citations],
            },
            "stop_reason": a.stop_reason.value if a.stop_reason else None,
            "error": a.error,
            "mode": a.mode.value,
            "pages_read": self.pages_read,
            "prompt_tokens": a.usage.prompt_tokens,
            "cached_tokens": a.usage.cached_tokens,
            "completion_tokens": a.usage.completion_tokens,
            "time_to_first_token_s": a.usage.time_to_first_token_s,
            "total_time_s": a.usage.total_time_s,
        }


@dataclass
class EvalRunResult:
    name: str
    collection: str
    model: str
    results: list[EvalResult] = field(default_factory=list)
    elapsed_s: float = 0.0

    def summary(self) -> dict:
        return summarize([r.as_json() for r in self.results], self.elapsed_s)


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def summarize(rows: list[dict], elapsed_s: float = 0.0) -> dict:
    """Totals over per-question results (`EvalResult.as_json` rows), overall and per tag."""
    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]
    correct = [r for r in answerable if r["correct"]]
    with_evidence = [r for r in rows if r["evidence"]]
    correct_with_evidence = [r for r in correct if r["evidence"]]
    stops: dict[str, int] = {}
    for r in rows:
        stops[r["stop_reason"] or "none"] = stops.get(r["stop_reason"] or "none", 0) + 1
    ttft = [r["time_to_first_token_s"] for r in rows if r["time_to_first_token_s"] is not None]
    totals = [r["total_time_s"] for r in rows]
    tags = sorted({t for r in rows for t in r["tags"]})
    return {
        "questions": len(rows),
        "answerable": len(answerable),
        "correct": len(correct),
        "accuracy": _share(len(correct), len(answerable)),
        "unanswerable": len(unanswerable),
        "said_not_found": sum(r["correct"] for r in unanswerable),
        "not_found_rate": _share(sum(r["correct"] for r in unanswerable), len(unanswerable)),
        "overall_accuracy": _share(sum(r["correct"] for r in rows), len(rows)),
        "loops": stops.get(StopReason.LOOP.value, 0),
        "stop_reasons": stops,
        "evidence_recall": _share(sum(bool(r["evidence_in_context"]) for r in with_evidence),
                                  len(with_evidence)),
        "pages_read_median": (statistics.median(r["pages_read"] for r in with_evidence)
                              if with_evidence else None),
        "correct_citing_evidence": _share(sum(bool(r["cites_evidence"])
                                              for r in correct_with_evidence),
                                          len(correct_with_evidence)),
        "own_citation_rate": _share(sum(r["citations"]["own_valid"] > 0 for r in answerable),
                                    len(answerable)),
        "ttft_median_s": round(statistics.median(ttft), 3) if ttft else None,
        "total_median_s": round(statistics.median(totals), 3) if totals else None,
        "elapsed_s": round(elapsed_s, 1),
        "by_tag": {
            tag: {
                "questions": sum(tag in r["tags"] for r in rows),
                "correct": sum(r["correct"] for r in rows if tag in r["tags"]),
                "accuracy": _share(sum(r["correct"] for r in rows if tag in r["tags"]),
                                   sum(tag in r["tags"] for r in rows)),
                "evidence_recall": _share(
                    sum(bool(r["evidence_in_context"]) for r in rows
                        if tag in r["tags"] and r["evidence"]),
                    sum(1 for r in rows if tag in r["tags"] and r["evidence"])),
            }
            for tag in tags
        },
    }


def select(questions: Sequence[EvalQuestion], *, per_document: int | None = None,
           limit: int | None = None, ids: Sequence[str] | None = None) -> list[EvalQuestion]:
    """A subset: the named ids, at most `per_document` per document (in file order), and at most
    `limit` in all."""
    chosen = [q for q in questions if not ids or q.id in ids]
    if per_document is not None:
        seen: dict[str | None, int] = {}
        kept = []
        for q in chosen:
            if seen.get(q.document, 0) < per_document:
                seen[q.document] = seen.get(q.document, 0) + 1
                kept.append(q)
        chosen = kept
    return chosen[:limit] if limit is not None else chosen


def evaluate(analyst, collection: str, question_set: QuestionSet,
             questions: Sequence[EvalQuestion] | None = None,
             on_result: Callable[[int, int, EvalResult], None] | None = None) -> EvalRunResult:
    """Ask every question (one at a time, as a user would: times are per question) and score
    it. A question about one document is asked of that document alone."""
    questions = list(question_set.questions if questions is None else questions)
    sources = [d.source for d in analyst.store.documents(collection)]
    run = EvalRunResult(question_set.name, collection, analyst.profile.name)
    started = time.perf_counter()
    for n, question in enumerate(questions, 1):
        result = _evaluate_one(analyst, collection, question, sources)
        run.results.append(result)
        if on_result is not None:
            on_result(n, len(questions), result)
    run.elapsed_s = time.perf_counter() - started
    return run


def _scope(question: EvalQuestion, sources: list[str], collection: str) -> list[str] | None:
    """The documents a question is asked of: the one it names, else the whole collection."""
    if question.document is None:
        return None
    scope = [s for s in sources if _names(s, question.document)]
    if not scope:
        raise EngineError(f"no document named {question.document!r} in {collection!r}")
    return scope


def _evidence_in(question: EvalQuestion, context: Context) -> bool | None:
    """Whether every evidence place (one of its alternatives) is in the context."""
    return (all(any(place_in_context(p, context) for p in alternatives)
                for alternatives in question.evidence) if question.evidence else None)


def _within(question: EvalQuestion, documents: Sequence[Document]) -> bool:
    """Whether every evidence place has an alternative inside the pages of a document it names
    (lines and documents not in the collection are not judged here)."""
    def inside(place: Place) -> bool:
        pages = [d.pages for d in documents if _names(d.source, place.name) and d.pages]
        return place.page_end is None or not pages or place.page_end <= max(pages)
    return all(any(inside(p) for p in alternatives) for alternatives in question.evidence)


def _pages_read(context: Context) -> int:
    return len({(i.document.source, i.segment.locator.page or i.segment.locator.path)
                for i in context.items})


def _evaluate_one(analyst, collection: str, question: EvalQuestion,
                  sources: list[str]) -> EvalResult:
    try:
        scope = _scope(question, sources, collection)
        context = analyst.context(collection, question.question, documents=scope)
    except (EngineError, StorageError) as exc:
        answer = Answer(question.question, "", Mode.FOCUSED, model=analyst.profile.name,
                        error=str(exc), stop_reason=StopReason.ERROR)
        return EvalResult(question, answer, False, False if question.evidence else None,
                          False if question.evidence else None, 0)
    answer = analyst.ask(collection, question.question, documents=scope, remember=False)
    text = answer.text if answer.ok else ""
    correct = is_correct(question.expected, text)
    cited = (any(cites_place(c, p) for c in answer.citations
                 for alternatives in question.evidence for p in alternatives)
             if question.evidence else None)
    return EvalResult(question, answer, correct, _evidence_in(question, context), cited,
                      _pages_read(context))


@dataclass(frozen=True, slots=True)
class RecallAt:
    """Evidence recall of the context alone at one budget (no model is called)."""

    budget: int
    questions: int  # questions that name evidence their documents have
    found: int  # of them, those whose every evidence place was in the context
    pages_read_median: float | None
    outside: int = 0  # questions left out: an evidence page beyond its document's last page
    by_label: int = 0  # questions whose evidence pages were read as printed page labels

    @property
    def recall(self) -> float | None:
        return _share(self.found, self.questions)


def recall_at(analyst, collection: str, questions: Sequence[EvalQuestion],
              budgets: Sequence[int]) -> list[RecallAt]:
    """For each budget (tokens for the documents), the share of `questions` with evidence whose
    every evidence place the context holds, and the median pages read: what packing finds,
    measured without answering (fast; `docscout eval --recall-at`). A question whose evidence
    names a page beyond its document's last page cites printed page labels ("p. 289" of a
    40-page book excerpt): those pages are read as the pages the PDF labels so (`by_label`), and
    where it labels none so, no context can hold them: the question is counted in `outside`,
    not in the recall."""
    documents = analyst.store.documents(collection)
    sources = [d.source for d in documents]
    labels = _PrintedLabels(analyst.store, collection)
    with_evidence = [q for q in questions if q.evidence]
    relabelled = [_by_printed_labels(q, documents, labels) for q in with_evidence]
    by_label = sum(new != old for new, old in zip(relabelled, with_evidence))
    asked = [q for q in relabelled if _within(q, documents)]
    out = []
    for budget in budgets:
        found, pages = 0, []
        for question in asked:
            try:
                context = analyst.context(collection, question.question, budget,
                                          documents=_scope(question, sources, collection))
            except EngineError:
                pages.append(0)
                continue
            found += bool(_evidence_in(question, context))
            pages.append(_pages_read(context))
        out.append(RecallAt(budget, len(asked), found,
                            statistics.median(pages) if pages else None,
                            len(with_evidence) - len(asked), by_label))
    return out


class _PrintedLabels:
    """A document's printed page labels ("287" -> page 6), read from its segments once."""

    def __init__(self, store, collection: str) -> None:
        self.store, self.collection = store, collection
        self._by_source: dict[str, dict[str, int]] = {}

    def pages(self, source: str) -> dict[str, int]:
        if source not in self._by_source:
            self._by_source[source] = {
                s.locator.page_label: s.locator.page
                for s in self.store.segments(self.collection, source)
                if s.locator.page_label and s.locator.page is not None}
        return self._by_source[source]


def _by_printed_labels(question: EvalQuestion, documents: Sequence[Document],
                       labels: _PrintedLabels) -> EvalQuestion:
    """The question with each evidence page range that lies beyond its document's last page
    read as printed page labels, where the document labels a run of pages so."""
    def relabel(place: Place) -> Place:
        if place.page_start is None:
            return place
        named = [d for d in documents if _names(d.source, place.name) and d.pages]
        if not named or place.page_end <= max(d.pages for d in named):
            return place
        for doc in named:
            by_label = labels.pages(doc.source)
            pages = [by_label.get(str(n)) for n in range(place.page_start, place.page_end + 1)]
            if all(pages) and pages == list(range(pages[0], pages[0] + len(pages))):
                return dataclasses.replace(place, page_start=pages[0], page_end=pages[-1])
        return place

    evidence = tuple(tuple(relabel(p) for p in alternatives) for alternatives in question.evidence)
    return question if evidence == question.evidence else dataclasses.replace(question,
                                                                              evidence=evidence)

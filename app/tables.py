"""Plain-text tables for the command line (presentation only)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from core.domain import Answer, Chat, Document, ReportInfo, Status
from ingest.pipeline import Outcome

MAX_CELL = 70


def format_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    numeric = [all(isinstance(row[i], int) for row in rows) and rows for i in range(len(headers))]

    def line(values: Sequence[str]) -> str:
        return "  ".join(
            v.rjust(w) if numeric[i] else v.ljust(w) for i, (v, w) in enumerate(zip(values, widths))
        ).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths])] + [line(r) for r in cells])


def _cell(value: object) -> str:
    text = "" if value is None else str(value).replace("\n", " ")
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"


def document_rows(documents: Sequence[Document]) -> tuple[list[str], list[list[object]]]:
    headers = ["document", "kind", "pages/files", "text tokens", "image tokens", "status", "error"]
    rows = [
        [d.source, d.kind.value, extent(d), d.text_tokens, d.image_tokens, d.status.value,
         "; ".join(p for p in (ocr_pending(d), d.error) if p) or None]
        for d in documents
    ]
    return headers, rows


def extent(document: Document) -> int:
    """What the "pages/files" column shows: a PDF's pages, a codebase's files, 1 for an image
    or a text file (one page, one file), 0 for a document nothing could be read from."""
    if document.pages is not None:
        return document.pages
    if document.files is not None:
        return document.files
    return 0 if document.status == Status.FAILED else 1


def ocr_pending(doc: Document | None) -> str | None:
    """"OCR pending: N pages" for a document stored before its OCR ran (ingest.pipeline)."""
    if doc is None or not doc.ocr_pending:
        return None
    return f"OCR pending: {doc.ocr_pending} page{'s' if doc.ocr_pending != 1 else ''}"


def outcome_summary(outcomes: Sequence[Outcome], collection: str) -> str:
    headers = ["document", "status", "text tokens", "image tokens", "note"]
    rows = []
    for o in outcomes:
        doc = o.document
        rows.append([o.source, o.status.value, doc.text_tokens if doc else 0,
                     doc.image_tokens if doc else 0,
                     "; ".join(p for p in (o.message, ocr_pending(doc)) if p)])
    counts = Counter(o.status for o in outcomes)
    tally = ", ".join(f"{counts[s]} {s.value}" for s in Status if counts[s])
    return f"{format_table(headers, rows)}\n\n{len(outcomes)} documents into {collection!r}: {tally}"


def format_answer(answer: Answer, streamed: bool = False) -> str:
    """The answer (unless it was already streamed), its citations, and a usage footer."""
    if answer.error and not answer.text.strip():
        return f"Error: {answer.error}"
    lines = [] if streamed else [answer.text.strip()]
    if answer.error:  # stopped (loop, timeout, cancel) after some text: not an answer
        lines += ["", f"Stopped: {answer.error}; this is not a complete answer."]
    lines.append("")
    if answer.citations:
        lines.append("Citations:")
        for c in answer.citations:
            where = c.document or "not in the documents read"
            if c.page is not None:
                where += f", page {c.page}"
            elif c.path is not None:
                where += f", {c.path}" + (f":{c.line_start}-{c.line_end}" if c.line_start else "")
            mark = "BAD" if not c.valid else "found" if c.inferred else "ok"
            lines.append(f"  {mark:5} {c.label} -> {where}")
        if any(c.inferred for c in answer.citations):
            lines.append("  (the model cited nothing: 'found' marks where DocScout found the "
                         "answer's figures)")
    lines.append(f"-- {usage_line(answer)}")
    return "\n".join(lines)


def usage_line(answer: Answer) -> str:
    """An answer's usage in one line, as the CLI and the web UI show it under the answer (the
    report's usage table has the same facts in columns: app.reports.render.usage_rows)."""
    u = answer.usage
    ttft = f"{u.time_to_first_token_s:.2f} s" if u.time_to_first_token_s is not None else "n/a"
    cached = f"{u.cached_tokens / u.prompt_tokens:.0%}" if u.prompt_tokens else "0%"
    return (f"{answer.mode.value} mode · {answer.model} · prompt {u.prompt_tokens:,} tokens "
            f"({u.prompt_text_tokens:,} text + {u.prompt_image_tokens:,} image) · "
            f"{_read(answer)} · cached {u.cached_tokens:,} "
            f"({cached}) · first token {ttft} · total {u.total_time_s:.1f} s"
            + (f" · waited {u.wait_s:.1f} s for the engine" if u.wait_s >= 0.05 else ""))


def _read(answer: Answer) -> str:
    """How much of the collection an answer read. `read_fraction` is the share of what the
    model can read (engine.costs), so a text-only model's full read of a collection with images
    is "100% of its text", as the Ask page's context meter says ("reads all of its text")."""
    if answer.read_fraction >= 0.9995 and not answer.usage.prompt_image_tokens:
        return "read 100% of its text"
    return f"read {answer.read_fraction:.0%} of the collection"


def format_context(report: dict) -> str:
    """`docscout context` as a table: what the model would read, and what it costs."""
    rows = []
    for item in report["items"]:
        where = ""
        if item["page"] is not None:
            where = f"p.{item['page']}"
        elif item["path"]:
            where = item["path"] if item["line_start"] is None else \
                f"{item['path']}:{item['line_start']}-{item['line_end']}"
        rows.append([item["document"], where, item["kind"], item["tokens"], item["why"]])
    table = format_table(["document", "where", "kind", "tokens", "why"], rows)
    return (f"{table}\n\n{report['mode']} mode: {len(rows)} items, {report['total_tokens']:,} "
            f"prompt tokens (budget for documents: {report['budget']:,})")


def chat_rows(chats: Sequence[Chat]) -> tuple[list[str], list[list[object]]]:
    headers = ["id", "title", "turns", "last active"]
    rows = [[c.id, c.title, c.turns, f"{c.updated_at:%Y-%m-%d %H:%M}" if c.updated_at else ""]
            for c in chats]
    return headers, rows


def report_rows(reports: Sequence[ReportInfo]) -> tuple[list[str], list[list[object]]]:
    headers = ["id", "collection", "title", "status", "questions", "failed", "model", "created",
               "seconds"]
    rows = [[r.id, r.collection, r.title, r.status.value, r.questions, r.failed, r.model,
             r.created_at.strftime("%Y-%m-%d %H:%M") if r.created_at else "", round(r.elapsed_s)]
            for r in reports]
    return headers, rows


def format_report_summary(info: ReportInfo, files: Sequence[Path]) -> str:
    """What `docscout report` prints once the report is written."""
    answered = info.questions - info.failed
    head = (f"Report {info.id} ({info.status.value}): {info.title!r} over {info.collection!r}, "
            f"{answered} of {info.questions} questions answered on {info.model} in "
            f"{info.elapsed_s:.1f} s")
    lines = [head]
    if info.failed:
        lines.append(f"{info.failed} failed: the report lists them with their errors")
    lines += [f"  {f}" for f in files]
    return "\n".join(lines)


def format_eval(summary: dict, rows: Sequence[dict], run_id: int | None = None) -> str:
    """`docscout eval`: one line per question, then the totals."""
    table = format_table(
        ["id", "ok", "expected", "answer", "evidence read", "cited", "stop", "ttft s", "s"],
        [[r["id"], "yes" if r["correct"] else "NO", r["expected"], r["answer"] or r["error"],
          _yes_no(r["evidence_in_context"]), _cited(r), r["stop_reason"] or "",
          _seconds(r["time_to_first_token_s"]), _seconds(r["total_time_s"])] for r in rows])
    s = summary
    lines = [table, "", f"Eval{f' run {run_id}' if run_id else ''}: {s['questions']} questions"
             f" in {s['elapsed_s']} s"]
    lines.append(f"  answerable correct       {s['correct']}/{s['answerable']}"
                 f"  {_percent(s['accuracy'])}")
    lines.append(f"  unanswerable, said so    {s['said_not_found']}/{s['unanswerable']}"
                 f"  {_percent(s['not_found_rate'])}")
    lines.append(f"  loops                    {s['loops']}   stop reasons: "
                 + ", ".join(f"{k} {v}" for k, v in sorted(s["stop_reasons"].items())))
    lines.append(f"  evidence in context      {_percent(s['evidence_recall'])}"
                 f"  (median {s['pages_read_median']} pages or files read)")
    lines.append(f"  correct, citing evidence {_percent(s['correct_citing_evidence'])}"
                 f"  (the model's own valid citations: {_percent(s['own_citation_rate'])})")
    lines.append(f"  first token median       {_seconds(s['ttft_median_s'])} s, "
                 f"answer median {_seconds(s['total_median_s'])} s")
    if s["by_tag"]:
        lines.append("")
        lines.append(format_table(
            ["tag", "questions", "correct", "accuracy", "evidence recall"],
            [[tag, t["questions"], t["correct"], _percent(t["accuracy"]),
              _percent(t["evidence_recall"])] for tag, t in s["by_tag"].items()]))
    return "\n".join(lines)


def _yes_no(value: bool | None) -> str:
    return "" if value is None else "yes" if value else "no"


def _cited(row: dict) -> str:
    c = row["citations"]
    kind = "own" if c["own_valid"] else "found" if c["inferred"] else "BAD" if c["own_invalid"] \
        else "none"
    return kind if row["cites_evidence"] is None else f"{kind}, {_yes_no(row['cites_evidence'])}"


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def _seconds(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"

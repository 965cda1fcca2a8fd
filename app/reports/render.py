"""A report run as Markdown and as HTML (the PDF is drawn from the same HTML body, app.reports.pdf).

Layout: title, intro, a line of facts (collection, model, date, questions answered and failed,
time), the failed questions with their errors, then every section with its questions and
answers, a usage table (mode, prompt, cached and completion tokens, time per question, totals)
and the sources: the citations as numbered footnotes (see app.reports.footnotes).

Everything that comes from the spec, the model or the documents is escaped: in HTML with
`html.escape` before any markup is added (answers get a small Markdown subset, applied to
already-escaped text: paragraphs, lists, code blocks, bold, inline code); in Markdown, `<` is
escaped outside code so that no viewer renders raw HTML, and table cells lose their pipes.
Citation labels in answers become footnote references: `[^3]` in Markdown, a superscript link
in HTML.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from dataclasses import dataclass
from html import escape

from app.reports.footnotes import Footnote, Footnotes
from app.reports.run import ReportItem, ReportRun
from storage.repository import Store

Refs = dict[str, list[int]]  # citation label -> footnote numbers
_LIST = re.compile(r"^\s*(?:[-*•]|(\d{1,3})[.)])(?:\s+(.*))?$")
_BOLD = re.compile(r"\*\*(.+?)\*\*")
_CODE = re.compile(r"`([^`]+)`")
_HEADING = re.compile(r"^#{1,6}\s+")


@dataclass(frozen=True, slots=True)
class Rendering:
    """A run with its citations numbered and resolved: what every format draws."""

    run: ReportRun
    refs: tuple[Refs, ...]  # per item
    notes: tuple[Footnote, ...]


def prepare(run: ReportRun, store: Store) -> Rendering:
    footnotes = Footnotes(store, run.spec.collection)
    refs = tuple(footnotes.numbers(item.answer) for item in run.items)
    return Rendering(run, refs, tuple(footnotes.notes))


# -- shared --------------------------------------------------------------------------------------


def facts(run: ReportRun) -> str:
    """The line under the title (plain text)."""
    answered = len(run.items) - len(run.failed)
    when = run.started_at.strftime("%Y-%m-%d %H:%M UTC")
    return (f"Collection {run.spec.collection} · model {run.model} · {when} · "
            f"{answered} of {len(run.items)} questions answered · {run.elapsed_s:.1f} s")


def _split_refs(line: str, refs: Refs) -> list[str | list[int]]:
    """A line of an answer cut into text and footnote numbers (where citation labels were)."""
    if not refs:
        return [line]
    pattern = "|".join(re.escape(label) for label in sorted(refs, key=len, reverse=True))
    out: list[str | list[int]] = []
    at = 0
    for match in re.finditer(pattern, line):  # "fee [D3 p.1]." -> "fee", [1], "."
        out.extend([line[at:match.start()].rstrip(" "), refs[match.group(0)]])
        at = match.end()
    out.append(line[at:])
    return [piece for piece in out if piece != ""]


def _numbered(run: ReportRun) -> Iterator[tuple[int, ReportItem]]:
    return enumerate(run.items, 1)


def usage_rows(run: ReportRun) -> tuple[list[str], list[list[str]]]:
    """The usage table as text cells: one row per question, then the totals."""
    headers = ["#", "question", "mode", "prompt tokens", "cached", "completion",
               "first token (s)", "time (s)"]
    rows = []
    for n, item in _numbered(run):
        u = item.answer.usage
        mode = "failed" if item.failed else item.answer.mode.value
        ttft = f"{u.time_to_first_token_s:.2f}" if u.time_to_first_token_s is not None else ""
        rows.append([str(n), item.question.text, mode, f"{u.prompt_tokens:,}",
                     f"{u.cached_tokens:,}", f"{u.completion_tokens:,}", ttft,
                     f"{u.total_time_s:.1f}"])
    prompt = sum(i.answer.usage.prompt_tokens for i in run.items)
    cached = sum(i.answer.usage.cached_tokens for i in run.items)
    share = f" ({cached / prompt:.0%})" if prompt else ""
    rows.append(["", "all questions", "", f"{prompt:,}", f"{cached:,}{share}",
                 f"{sum(i.answer.usage.completion_tokens for i in run.items):,}", "",
                 f"{run.elapsed_s:.1f}"])
    return headers, rows


USAGE_NOTE = ("The questions ran as one batch, so each one's time is the batch's; the last row "
              "gives the whole run's.")


# -- Markdown ------------------------------------------------------------------------------------


def _md_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace("<", "\\<")


def _md_cell(text: str) -> str:
    return _md_text(" ".join(text.split())).replace("|", "\\|")


def _md_answer(text: str, refs: Refs) -> str:
    out, fenced = [], False
    for line in text.strip().split("\n"):
        if line.lstrip().startswith("```"):
            fenced = not fenced
        if fenced or line.lstrip().startswith("```"):
            out.append(line)
            continue
        line = _HEADING.sub("", line)  # the report's own headings stay its structure
        out.append("".join(_md_text(p) if isinstance(p, str) else "".join(f"[^{n}]" for n in p)
                           for p in _split_refs(line, refs)))
    if fenced:
        out.append("```")
    return "\n".join(out)


def _md_fence(text: str) -> str:
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def _md_footnote(note: Footnote) -> list[str]:
    head = f"[^{note.number}]: {_md_text(note.where)} — `{note.label.replace('`', '')}`"
    if not note.valid:
        return [head]
    if note.code:
        fence = _md_fence(note.excerpt)
        body = [fence, *note.excerpt.split("\n"), fence]
        return [head, ""] + [f"    {line}" for line in body] + [""]
    return [head + (f": “{_md_cell(note.excerpt)}”" if note.excerpt else "")]


def to_markdown(rendering: Rendering) -> str:
    run, spec = rendering.run, rendering.run.spec
    lines = [f"# {_md_cell(spec.title)}", ""]
    if spec.intro:
        lines += [_md_text(spec.intro), ""]
    lines += [f"*{_md_cell(facts(run))}*", ""]
    if run.failed:
        lines += ["**Not answered:**", ""]
        lines += [f"- Q{n}. {_md_cell(item.question.text)} — {_md_cell(item.answer.error or '')}"
                  for n, item in _numbered(run) if item.failed]
        lines.append("")
    section = None
    for (n, item), refs in zip(_numbered(run), rendering.refs):
        if item.section != section:
            section = item.section
            lines += [f"## {_md_cell(section)}", ""]
        lines += [f"### Q{n}. {_md_cell(item.question.text)}", ""]
        if item.failed:
            lines += [f"> **Not answered:** {_md_cell(item.answer.error or '')}", ""]
        else:
            lines += [_md_answer(item.answer.text, refs), ""]
    headers, rows = usage_rows(run)
    lines += ["## Usage", "", "| " + " | ".join(headers) + " |",
              "|" + "|".join("---:" if i > 2 else "---" for i in range(len(headers))) + "|"]
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
    lines += ["", USAGE_NOTE, ""]
    if rendering.notes:
        lines += ["## Sources", ""]
        for note in rendering.notes:
            lines += _md_footnote(note)
    return "\n".join(lines).rstrip() + "\n"


# -- HTML ----------------------------------------------------------------------------------------


def _inline(text: str) -> str:
    """Escaped text with bold and inline code (applied after escaping: no markup gets in)."""
    return _CODE.sub(r"<code>\1</code>", _BOLD.sub(r"<strong>\1</strong>", escape(text)))


def _html_refs(numbers: list[int]) -> str:
    links = ",".join(f'<a href="#fn{n}">{n}</a>' for n in numbers)
    return f'<sup class="ref">{links}</sup>'


def _html_line(line: str, refs: Refs) -> str:
    return "".join(_inline(p) if isinstance(p, str) else _html_refs(p)
                   for p in _split_refs(line, refs))


def _html_answer(text: str, refs: Refs) -> str:
    """An answer's text as HTML blocks: paragraphs, lists and code blocks."""
    out: list[str] = []
    para: list[str] = []
    items: list[str] = []
    kind = ""
    code: list[str] | None = None

    def flush() -> None:
        nonlocal para, items
        if para:
            out.append("<p>" + "<br/>".join(para) + "</p>")
        if items:
            out.append(f"<{kind}>" + "".join(f"<li>{i}</li>" for i in items) + f"</{kind}>")
        para, items = [], []

    for line in text.strip().split("\n"):
        if line.lstrip().startswith("```"):
            if code is None:
                flush()
                code = []
            else:
                out.append("<pre>" + escape("\n".join(code)) + "</pre>")
                code = None
        elif code is not None:
            code.append(line)
        elif not line.strip():
            flush()
        elif m := _LIST.match(line):
            if para or (items and kind != ("ol" if m[1] else "ul")):
                flush()
            kind = "ol" if m[1] else "ul"
            if m[2] and m[2].strip():  # models leave empty bullets when cut off
                items.append(_html_line(m[2], refs))
        else:
            if items:
                flush()
            pieces = _split_refs(_HEADING.sub("", line), refs)
            html = "".join(_inline(p) if isinstance(p, str) else _html_refs(p) for p in pieces)
            if para and all(not isinstance(p, str) or not p.strip() for p in pieces):
                para[-1] += html  # a citation alone on its line belongs to the line before
            else:
                para.append(html)
    flush()
    if code is not None:
        out.append("<pre>" + escape("\n".join(code)) + "</pre>")
    return "\n".join(out)


def _data_url(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _html_footnote(note: Footnote) -> str:
    head = (f'<p class="where"><b>{note.number}.</b> {escape(note.where)} '
            f'<span class="label">{escape(note.label)}</span></p>')
    if not note.valid:
        return f'<div class="note invalid" id="fn{note.number}">{head}</div>'
    body = f"<pre>{escape(note.excerpt)}</pre>" if note.code else \
        (f'<p class="passage">“{escape(note.excerpt)}”</p>' if note.excerpt else "")
    if note.image is not None:
        image = f'<img class="thumb" src="{_data_url(note.image, note.image_mime)}" ' \
                f'alt="{escape(note.where)}"/>'
        body = f'<table class="cite"><tr><td class="thumb">{image}</td>' \
               f"<td>{body}</td></tr></table>"
    return f'<div class="note" id="fn{note.number}">{head}{body}</div>'


def _html_table(headers: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(
        f'<td class="{"num" if i > 2 else "text"}">{escape(c)}</td>' for i, c in enumerate(row))
        + "</tr>" for row in rows)
    return f'<table class="usage"><tr>{head}</tr>{body}</table>'


def html_body(rendering: Rendering) -> str:
    """The report as an HTML fragment (no <html> or <head>): for the HTML file and the PDF."""
    run, spec = rendering.run, rendering.run.spec
    out = [f"<h1>{escape(spec.title)}</h1>"]
    if spec.intro:
        out.append(f'<p class="intro">{escape(spec.intro)}</p>')
    out.append(f'<p class="facts">{escape(facts(run))}</p>')
    if run.failed:
        failed = "".join(f"<li>Q{n}. {escape(i.question.text)} — {escape(i.answer.error or '')}"
                         "</li>" for n, i in _numbered(run) if i.failed)
        out.append(f'<div class="failed"><p><b>Not answered:</b></p><ul>{failed}</ul></div>')
    section = None
    for (n, item), refs in zip(_numbered(run), rendering.refs):
        if item.section != section:
            section = item.section
            out.append(f"<h2>{escape(section)}</h2>")
        out.append(f'<h3>Q{n}. {escape(item.question.text)}</h3>')
        if item.failed:
            out.append(f'<p class="error"><b>Not answered:</b> {escape(item.answer.error or "")}'
                       "</p>")
        else:
            out.append(f'<div class="answer">{_html_answer(item.answer.text, refs)}</div>')
    out += ["<h2>Usage</h2>", _html_table(*usage_rows(run)),
            f'<p class="small">{escape(USAGE_NOTE)}</p>']
    if rendering.notes:
        out.append("<h2>Sources</h2>")
        out += [_html_footnote(note) for note in rendering.notes]
    return "\n".join(out)


HTML_CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; max-width: 52em;
       margin: 2em auto; padding: 0 1em; color: #1d1d1f; line-height: 1.45; }
h1 { font-size: 1.8em; margin-bottom: .2em; }
h2 { border-bottom: 1px solid #ddd; margin-top: 1.6em; }
h3 { font-size: 1.05em; margin-bottom: .3em; }
.facts, .small { color: #666; font-size: .9em; } .intro { font-size: 1.05em; }
.failed, .error { background: #fff4f2; border-left: 4px solid #c0392b; padding: .4em .8em; }
sup.ref a { text-decoration: none; color: #0a58ca; font-size: .8em; padding-left: 1px; }
pre { background: #f6f8fa; padding: .6em; overflow-x: auto; font-size: .85em; }
table.usage { border-collapse: collapse; font-size: .85em; width: 100%; }
table.usage th, table.usage td { border: 1px solid #ddd; padding: .25em .5em; }
table.usage td.num { text-align: right; white-space: nowrap; }
table.usage tr:last-child td { font-weight: bold; background: #f6f8fa; }
.note { margin: .8em 0; } .note .where { margin: 0 0 .3em; }
.note .label { color: #888; font-family: monospace; font-size: .85em; }
.note.invalid .where { color: #c0392b; }
table.cite td { vertical-align: top; } td.thumb { width: 160px; padding-right: .8em; }
img.thumb { width: 150px; border: 1px solid #ccc; }
.passage { font-style: italic; color: #333; margin: 0; }
"""


def to_html(rendering: Rendering) -> str:
    """A self-contained HTML file (styles and thumbnails inline)."""
    title = escape(rendering.run.spec.title)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"/>'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"/>'
            f"<title>{title}</title><style>{HTML_CSS}</style></head>\n<body>\n"
            f"{html_body(rendering)}\n</body></html>\n")

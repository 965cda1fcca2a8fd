"""A report run as Markdown and as HTML (the PDF is drawn from the same HTML body, app.reports.pdf).

Layout: title, intro, a line of facts (collection, model, date, questions answered and failed,
time), the failed questions with their errors, then every section with its questions and
answers, a usage table (mode, prompt, cached and completion tokens, time per question, totals)
and the sources: the citations as numbered footnotes (see app.reports.footnotes).

Everything that comes from the spec, the model or the documents is escaped by app.escape: in
Markdown, answers keep their formatting with links, images, raw HTML and LaTeX neutralised
(`answer_markdown`), other text is one escaped line (`markdown_text`); in HTML, answers are
rendered by markdown-it-py with raw HTML, links and images off (`answer_html`) and the page is a
Jinja2 template with autoescape (templates/). Citation labels in answers become footnote
references: `[^3]` in Markdown, a superscript link in HTML.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader
from markupsafe import Markup

from app.escape import answer_html, answer_markdown, markdown_text
from app.reports.footnotes import Footnote, Footnotes
from app.reports.run import ReportItem, ReportRun
from storage.repository import Store

Refs = dict[str, list[int]]  # citation label -> footnote numbers


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


# Citation labels are swapped for private-use markers before escaping (no escaper touches them)
# and for footnote references after it.
_REF = re.compile(r"[ \t]*\ue000([\d,]+)\ue001")


def _marked(text: str, refs: Refs) -> str:
    """The answer with each citation label replaced by a marker holding its footnote numbers; a
    marker alone on its line joins the line before (it cites that line)."""
    if refs:
        pattern = "|".join(re.escape(label) for label in sorted(refs, key=len, reverse=True))
        text = re.sub(pattern, lambda m: "\ue000" + ",".join(map(str, refs[m.group(0)]))
                      + "\ue001", text)
    return re.sub(r"\n[ \t]*((?:\ue000[\d,]+\ue001[ \t]*)+)(?=\n|$)", r" \1", text)


def _with_refs(rendered: str, reference: Callable[[list[int]], str]) -> str:
    """`rendered` with every marker (and the spaces before it) replaced by its references."""
    return _REF.sub(lambda m: reference([int(n) for n in m.group(1).split(",")]), rendered)


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


def _md_answer(text: str, refs: Refs) -> str:
    return _with_refs(answer_markdown(_marked(text, refs)),
                      lambda numbers: "".join(f"[^{n}]" for n in numbers))


def _md_fence(text: str) -> str:
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def _md_footnote(note: Footnote) -> list[str]:
    head = f"[^{note.number}]: {markdown_text(note.where)} — `{note.label.replace('`', '')}`"
    if not note.valid:
        return [head]
    if note.code:
        fence = _md_fence(note.excerpt)
        body = [fence, *note.excerpt.split("\n"), fence]
        return [head, ""] + [f"    {line}" for line in body] + [""]
    return [head + (f": “{markdown_text(note.excerpt)}”" if note.excerpt else "")]


def to_markdown(rendering: Rendering) -> str:
    run, spec = rendering.run, rendering.run.spec
    lines = [f"# {markdown_text(spec.title)}", ""]
    if spec.intro:
        lines += [markdown_text(spec.intro), ""]
    lines += [f"*{markdown_text(facts(run))}*", ""]
    if run.failed:
        lines += ["**Not answered:**", ""]
        lines += [f"- Q{n}. {markdown_text(item.question.text)} — "
                  f"{markdown_text(item.answer.error or '')}"
                  for n, item in _numbered(run) if item.failed]
        lines.append("")
    section = None
    for (n, item), refs in zip(_numbered(run), rendering.refs):
        if item.section != section:
            section = item.section
            lines += [f"## {markdown_text(section)}", ""]
        lines += [f"### Q{n}. {markdown_text(item.question.text)}", ""]
        if item.failed:
            lines += [f"> **Not answered:** {markdown_text(item.answer.error or '')}", ""]
        else:
            lines += [_md_answer(item.answer.text, refs), ""]
    headers, rows = usage_rows(run)
    lines += ["## Usage", "", "| " + " | ".join(headers) + " |",
              "|" + "|".join("---:" if i > 2 else "---" for i in range(len(headers))) + "|"]
    lines += ["| " + " | ".join(markdown_text(c) for c in row) + " |" for row in rows]
    lines += ["", USAGE_NOTE, ""]
    if rendering.notes:
        lines += ["## Sources", ""]
        for note in rendering.notes:
            lines += _md_footnote(note)
    return "\n".join(lines).rstrip() + "\n"


# -- HTML ----------------------------------------------------------------------------------------


def _data_url(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


_TEMPLATES = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"),
                         autoescape=True, trim_blocks=False, keep_trailing_newline=True)
_TEMPLATES.filters["data_url"] = _data_url


def _html_answer(text: str, refs: Refs) -> Markup:
    """An answer's text as HTML blocks (markdown-it-py, app.escape), citations as links."""
    links = lambda numbers: '<sup class="ref">' + ",".join(  # noqa: E731
        f'<a href="#fn{n}">{n}</a>' for n in numbers) + "</sup>"
    return Markup(_with_refs(answer_html(_marked(text, refs)), links).strip())


def html_body(rendering: Rendering) -> str:
    """The report as an HTML fragment (no <html> or <head>): for the HTML file and the PDF."""
    run, spec = rendering.run, rendering.run.spec
    items, section = [], None
    for (n, item), refs in zip(_numbered(run), rendering.refs):
        heading = item.section if item.section != section else None
        section = item.section
        items.append({"number": n, "heading": heading, "question": item.question.text,
                      "error": (item.answer.error or "") if item.failed else None,
                      "answer": None if item.failed else _html_answer(item.answer.text, refs)})
    headers, rows = usage_rows(run)
    return _TEMPLATES.get_template("body.html.j2").render(
        title=spec.title, intro=spec.intro, facts=facts(run),
        failed=[(n, i.question.text, i.answer.error or "") for n, i in _numbered(run)
                if i.failed],
        items=items, usage_headers=headers, usage_rows=rows, usage_note=USAGE_NOTE,
        notes=rendering.notes)


def to_html(rendering: Rendering) -> str:
    """A self-contained HTML file (styles and thumbnails inline)."""
    return _TEMPLATES.get_template("page.html.j2").render(
        title=rendering.run.spec.title, css=Markup(report_css()),
        body=Markup(html_body(rendering)))


@lru_cache(maxsize=1)
def report_css() -> str:
    """The report's styles (templates/report.css), every rule under `.docscout-report`: the
    HTML file's body has that class, and a page that shows a report inside its own (the web
    UI's Reports page) wraps it in an element of that class, so the rules touch nothing else."""
    return (Path(__file__).parent / "templates" / "report.css").read_text(encoding="utf-8")


_BODY = re.compile(r"<body[^>]*>\n?(.*)</body>", re.DOTALL)


def page_body(page: str) -> str:
    """The report inside a report.html page (`to_html`'s output), without the page's <head> and
    styles: what a web page that has its own shows (the web UI's Reports page)."""
    found = _BODY.search(page)
    return found.group(1).strip() if found else page

"""Showing untrusted text safely, in every output DocScout writes: the web UI (Streamlit
Markdown), report.md (CommonMark/GitHub Markdown) and report.html / report.pdf (HTML).

Answers echo document text, and documents, file names, collection names and report specs come
from anyone: nothing they contain may become HTML, a link, an image fetched from the network,
LaTeX, a colour directive or an emoji code.

- `literal(text)`: Markdown that shows `text` exactly as written. Every ASCII punctuation
  character Markdown (or Streamlit's extensions: `:material/...:` icons, `:red[...]` colours,
  `$...$` LaTeX) gives a meaning to is backslash-escaped; CommonMark allows a backslash before any
  ASCII punctuation, so the result reads the same everywhere. Names, titles, errors, table cells.
  Streamlit also turns bare URLs, `www.` names and e-mail addresses into links once escapes are
  read (GFM autolink literals, found in the text itself), so a zero-width space breaks each
  (after `http:`, before the dot of `www.`, after `@`; seen in a real browser,
  tests/test_ui_browser.py).
- `answer_markdown(text)`: a model's answer for report.md. Its formatting is kept (emphasis,
  inline code, code blocks, lists, tables); everything that could link, fetch or inject is
  neutralised outside code: `[`, `]`, `!`, `<`, `$` and `\\` are escaped, headings lose their
  marks (the report's own headings stay its structure). `markdown_text(text)` does the same for
  one line of text from the spec or the documents (titles, cells, footnotes; pipes escaped too).
  (GitHub's `:emoji:` codes are left alone in report.md: they draw GitHub's own pictures, never a
  fetch or markup; Streamlit's `:` directives are escaped by `literal`.)
- `answer_html(text)`: a model's answer as an HTML fragment, rendered by markdown-it-py with raw
  HTML off and the link, image, autolink and link-reference rules disabled.
- `html_text(text)`: text for HTML (html.escape; Jinja2's autoescape does the same in templates).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import escape

from markdown_it import MarkdownIt

# Characters with a meaning in Markdown or in Streamlit's extensions of it.
_ACTIVE = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>$~:=&])")
# In report Markdown: the ones that make links, images, raw HTML or LaTeX.
_LINKING = re.compile(r"([\\\[\]!<$])")
_HEADING = re.compile(r"^(\s{0,3})#{1,6}(\s+|$)")
# Where GFM's autolink literals start: "http(s)://", "www." and the "@" of an address.
_AUTOLINK = re.compile(r"(?i)(?<=https:)(?=//)|(?<=http:)(?=//)|(?<=\bwww)(?=\.)|(?<=@)")
_ZWSP = "\u200b"
_FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})")
_CODE_SPAN = re.compile(r"(`+)(.+?)\1")


def literal(text: str, *, line_breaks: bool = True) -> str:
    """Markdown that shows `text` literally. Line breaks are kept as hard breaks, or (with
    `line_breaks=False`, for one-line places such as table cells) folded into spaces."""
    if not line_breaks:
        text = " ".join(text.split())
    text = _AUTOLINK.sub(_ZWSP, text)
    escaped = _ACTIVE.sub(r"\\\1", text)
    return escaped.replace("\n", "  \n") if line_breaks else escaped


def answer_markdown(text: str) -> str:
    """A model's answer as report Markdown: formatting kept, links, images, HTML, LaTeX and
    emoji codes neutralised (see the module docstring). Code blocks and inline code stay
    verbatim; an unclosed code block is closed."""
    return "\n".join(line if code else _outside_code(_HEADING.sub(r"\1", line))
                     for line, code in _lines(text))


def _outside_code(line: str) -> str:
    pieces, at = [], 0
    for match in _CODE_SPAN.finditer(line):
        pieces.append(_LINKING.sub(r"\\\1", line[at:match.start()]))
        pieces.append(match.group(0))
        at = match.end()
    pieces.append(_LINKING.sub(r"\\\1", line[at:]))
    return "".join(pieces)


def _lines(text: str) -> Iterator[tuple[str, bool]]:
    """The lines of a Markdown text, each with whether it is part of a code block (its fences
    included); an unclosed block gets its closing fence."""
    fence: str | None = None
    for line in text.strip().split("\n"):
        opened = _FENCE.match(line)
        if fence is None and opened:
            fence = opened.group(1)
        elif fence is not None and opened and opened.group(1)[0] == fence[0] \
                and len(opened.group(1)) >= len(fence):
            yield line, True
            fence = None
            continue
        yield line, fence is not None
    if fence is not None:
        yield fence, True


def markdown_text(text: str) -> str:
    """One line of report Markdown showing `text`: line breaks folded, pipes escaped (it may
    sit in a table cell), and no link, image, raw HTML or LaTeX."""
    return _LINKING.sub(r"\\\1", " ".join(text.split())).replace("|", "\\|")


_MARKDOWN = (MarkdownIt("commonmark", {"html": False, "linkify": False, "breaks": True})
             .enable("table")
             .disable(["link", "image", "autolink", "reference", "heading", "lheading"]))


def answer_html(text: str) -> str:
    """A model's answer as an HTML fragment: paragraphs, emphasis, code, lists and tables;
    raw HTML is shown as text, no link or image is ever made, headings lose their marks."""
    return _MARKDOWN.render("\n".join(line if code else _HEADING.sub(r"\1", line)
                                      for line, code in _lines(text)))


def html_text(text: str) -> str:
    return escape(text)

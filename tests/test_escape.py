"""app/escape.py: untrusted text never becomes markup in the UI, report.md or report.html."""

from __future__ import annotations

from html.parser import HTMLParser

from markdown_it import MarkdownIt

from app.escape import answer_html, answer_markdown, html_text, literal, markdown_text

HOSTILE = [
    "![x](http://127.0.0.1:8999/track.png)",  # an image fetched from the network
    "[click](javascript:alert(1))",  # a link
    "<https://evil.example/a>",  # an autolink
    "<img src=x onerror=alert(1)><script>alert(2)</script>",  # HTML
    "$e^{i\\pi}$ and $$x$$",  # LaTeX
    ":material/warning: :red[alarm] :smile:",  # Streamlit icons and colours, emoji codes
]


class _Html(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs += [name for name, _ in attrs]


def _rendered(markdown: str) -> _Html:
    """What a CommonMark renderer (with raw HTML on, the worst case) makes of `markdown`."""
    parser = _Html()
    parser.feed(MarkdownIt("commonmark", {"html": True}).render(markdown))
    return parser


def test_literal_markdown_renders_as_the_text_itself():
    for text in HOSTILE + ["a_b*c* #1 1. x | y ~~z~~ `k`", "two\nlines"]:
        shown = _rendered(literal(text))
        assert set(shown.tags) <= {"p", "br"}, (text, shown.tags)
        assert "$" not in literal(text).replace("\\$", "")  # no LaTeX delimiter survives
        assert ":" not in literal(text).replace("\\:", "")  # no icon, colour or emoji code


def test_report_markdown_keeps_formatting_and_drops_links_images_html_and_latex():
    for text in HOSTILE:
        for markdown in (markdown_text(text), answer_markdown(text)):
            shown = _rendered(markdown)
            assert set(shown.tags) <= {"p"}, (text, markdown, shown.tags)
            assert "$" not in markdown.replace("\\$", "")
    answer = "**Fee**: *US$18,750* per `month`\n\n- one\n- two\n\n| a | b |\n|---|---|\n| 1 | 2 |"
    shown = _rendered(answer_markdown(answer))
    assert {"strong", "em", "code", "ul", "li"} <= set(shown.tags)
    code = "```\n<script>![x](u)</script>\n```"
    assert answer_markdown(code) == code  # code stays verbatim: it renders as text anyway
    assert answer_markdown("```\nunclosed") == "```\nunclosed\n```"
    assert answer_markdown("# Heading\ntext") == "Heading\ntext"
    assert markdown_text("a | b\nc") == "a \\| b c"


def test_answer_html_has_formatting_but_no_links_images_or_raw_html():
    for text in HOSTILE:
        shown = _Html()
        shown.feed(answer_html(text))
        assert set(shown.tags) <= {"p"}, (text, shown.tags)
        assert not shown.attrs
    html = answer_html("**Fee** `<b>`\n\n1. one\n2. two\n\n| a |\n|---|\n| 1 |\n\n# Title")
    assert "<strong>Fee</strong>" in html and "<code>&lt;b&gt;</code>" in html
    assert "<ol>" in html and "<table>" in html and "<h1>" not in html and "Title" in html
    assert html_text("<b>&") == "&lt;b&gt;&amp;"


def test_literal_breaks_the_links_streamlit_makes_of_bare_urls_and_addresses():
    # Streamlit's Markdown links bare URLs, www. names and e-mail addresses even when every
    # punctuation mark is escaped (GFM autolink literals work on the text itself).
    import re

    for text in ("see http://127.0.0.1:9/t.png", "HTTPS://evil.example/a", "www.evil.example",
                 "mail ceo@evil.example"):
        shown = literal(text).replace("\\", "")
        assert re.search(r"(?i)https?://|www\.|@\w", shown) is None, shown
        assert shown.replace("\u200b", "") == text  # reads the same

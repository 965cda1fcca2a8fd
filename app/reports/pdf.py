"""The report as a PDF, drawn by PyMuPDF's `Story` from the same HTML body as report.html.

`Story` lays HTML and a subset of CSS out on pages (no browser, no new dependency); thumbnails
travel inside the HTML as data URLs. (2026-11, PyMuPDF 2.0: a background colour on the table
header cells of a table split across pages is drawn again as an empty bar where the story ends,
so header cells get a rule instead.) `write_with_links` keeps the footnote references as links
inside the PDF. A footer with the title and "page i of n" is stamped on every page afterwards,
when the page count is known.
"""

from __future__ import annotations

import pymupdf

from app.reports.render import Rendering, html_body

PAGE = pymupdf.paper_rect("a4")
MARGIN = 50  # points
FOOTER_SIZE = 8

PDF_CSS = """
* { font-family: sans-serif; }
body { font-size: 10pt; color: #1d1d1f; }
h1 { font-size: 18pt; margin-bottom: 4pt; }
h2 { font-size: 13.5pt; margin-top: 16pt; margin-bottom: 6pt; color: #223; }
h3 { font-size: 11pt; margin-top: 10pt; margin-bottom: 3pt; }
p { margin-top: 3pt; margin-bottom: 3pt; }
.facts, .small { color: #666666; font-size: 8.5pt; }
.intro { font-size: 10.5pt; }
.failed, .error { background-color: #fff1ee; color: #8a1f11; padding: 4pt; }
sup { font-size: 7pt; color: #0a58ca; }
a { color: #0a58ca; text-decoration: none; }
pre { font-family: monospace; font-size: 7.5pt; background-color: #f4f6f8; padding: 4pt; }
code { font-family: monospace; font-size: 9pt; }
table.usage { font-size: 7.5pt; border-collapse: collapse; width: 100%; }
table.usage th { text-align: left; border-bottom: 1pt solid #888888; }
table.usage th, table.usage td { border: 0.5pt solid #bbbbbb; padding: 2pt; }
td.num { text-align: right; }
.answer table { border-collapse: collapse; }
.answer th, .answer td { border: 0.5pt solid #bbbbbb; padding: 2pt; }
.where { font-size: 9pt; margin-top: 6pt; margin-bottom: 2pt; }
.label { font-family: monospace; font-size: 7.5pt; color: #888888; }
.invalid .where { color: #a8261a; }
table.cite td { vertical-align: top; }
td.thumb { width: 160pt; padding-right: 8pt; }
img.thumb { width: 150pt; border: 0.5pt solid #bbbbbb; }
.passage { font-style: italic; font-size: 9pt; color: #333333; }
"""


def to_pdf(rendering: Rendering) -> bytes:
    """PDF bytes of the report."""
    story = pymupdf.Story(html=html_body(rendering), user_css=PDF_CSS)
    frame = PAGE + (MARGIN, MARGIN, -MARGIN, -MARGIN)
    doc = story.write_with_links(lambda rect_num, filled: (PAGE, frame, None))
    _stamp_footers(doc, rendering.run.spec.title)
    doc.set_metadata({"title": rendering.run.spec.title, "creator": "DocScout",
                      "producer": "DocScout (PyMuPDF Story)"})
    data = doc.tobytes(garbage=3, deflate=True)
    doc.close()
    return data


def _stamp_footers(doc: pymupdf.Document, title: str) -> None:
    short = title if len(title) <= 90 else title[:89] + "…"
    for number, page in enumerate(doc, 1):
        y = page.rect.height - MARGIN / 2
        page.insert_text((MARGIN, y), short, fontsize=FOOTER_SIZE, color=(0.45, 0.45, 0.45))
        label = f"page {number} of {doc.page_count}"
        width = pymupdf.get_text_length(label, fontsize=FOOTER_SIZE)
        page.insert_text((page.rect.width - MARGIN - width, y), label, fontsize=FOOTER_SIZE,
                         color=(0.45, 0.45, 0.45))

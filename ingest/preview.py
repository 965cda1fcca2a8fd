"""The reverse of ingestion: draw a stored PDF page as the reader saw it, for a citation.

The page is rendered from the document's kept original (storage `originals`) at a width fit for
a screen, with the cited region outlined when the segment knows it and the answer's key terms
(numbers, quoted phrases) highlighted where they occur on the page.
"""

from __future__ import annotations

import pymupdf

HIGHLIGHT = (1.0, 0.85, 0.1)
REGION = (0.85, 0.1, 0.1)


def render_page(pdf: bytes, page: int, *, terms: tuple[str, ...] = (),
                region: tuple[float, float, float, float] | None = None,
                width_px: int = 900) -> tuple[bytes, int]:
    """PNG bytes of 1-based `page`, and how many term occurrences were highlighted."""
    with pymupdf.open(stream=pdf, filetype="pdf") as doc:
        if doc.needs_pass and not doc.authenticate(""):
            raise ValueError("the PDF needs a password")
        if not 1 <= page <= doc.page_count:
            raise ValueError(f"page {page} is outside the document's {doc.page_count} pages")
        sheet = doc[page - 1]
        hits = 0
        for term in terms:
            for rect in sheet.search_for(term)[:20]:
                sheet.draw_rect(rect, color=None, fill=HIGHLIGHT, fill_opacity=0.4, overlay=True)
                hits += 1
        if region is not None:
            sheet.draw_rect(pymupdf.Rect(region), color=REGION, width=2, overlay=True)
        zoom = width_px / max(sheet.rect.width, 1)
        return sheet.get_pixmap(matrix=pymupdf.Matrix(zoom, zoom), alpha=False).tobytes("png"), hits

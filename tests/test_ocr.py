"""Text for images (ingest/ocr.py): a chart's words in reading order and its values by label,
searchable and readable by a text-only model."""

from __future__ import annotations

import io

import pytest

from core.domain import SegmentKind
from ingest.base import FileInput
from ingest.images import parse_image
from ingest.ocr import VALUES, Word, chart_text, tessdata
from ingest.pipeline import ingest_paths
from storage.repository import Store

from .conftest import SAMPLE_DOCS

needs_tesseract = pytest.mark.skipif(tessdata() is None, reason="Tesseract is not installed")


def _w(x0: float, y0: float, text: str, height: float = 12) -> Word:
    return Word(x0, y0, x0 + 8 * len(text), y0 + height, text)


def test_values_go_to_the_label_under_them_ticks_and_titles_are_not_values():
    words = [
        _w(100, 10, "Sales"), _w(150, 10, "2023"), _w(200, 10, "(total:"), _w(260, 10, "412)"),
        _w(40, 50, "300"), _w(40, 150, "200"), _w(40, 250, "100"), _w(56, 350, "0"),  # ticks
        _w(10, 140, "=", 20), _w(10, 180, "mn", 20),  # a rotated axis title, read as noise
        _w(120, 200, "$1.5M"), _w(330, 120, "$2.9M"),  # value labels over their bars
        _w(100, 370, "North"), _w(150, 370, "East"), _w(320, 370, "South"),  # category labels
    ]
    text = chart_text(words)
    assert text.split(VALUES)[1].strip().splitlines() == ["North East: $1.5M", "South: $2.9M"]
    assert "Axis ticks: 0, 100, 200, 300" in text
    assert "Sales 2023 (total: 412)" in text and "mn" not in text and "=" not in text
    # the values come once, beside their labels, not also as rows of bare values
    assert text.count("$1.5M") == text.count("$2.9M") == 1


def test_plain_text_in_an_image_gets_no_values_section():
    words = [_w(10, 10, "Quarterly"), _w(100, 10, "review"), _w(10, 40, "Revenue"),
             _w(100, 40, "rose"), _w(150, 40, "12%")]
    text = chart_text(words)
    assert VALUES not in text and "Revenue rose 12%" in text
    assert chart_text([]) == ""


@needs_tesseract
@pytest.mark.parametrize("chart, pairs", [
    ("revenue_by_quarter.png", ["Q1 2024: $31.2M", "Q2 2024: $35.8M", "Q3 2024: $38.4M",
                                "Q4 2024: $43.2M"]),
    ("headcount_by_team.png", ["Engineering: 168", "Manufacturing: 121", "Sales & Mktg: 54",
                               "Support: 39", "G&A: 30"]),
])
def test_sample_charts_are_read_with_their_values_by_label(settings, chart, pairs):
    data = (SAMPLE_DOCS / "charts" / chart).read_bytes()
    parsed = parse_image(FileInput(chart, data), settings)
    image, text = parsed.segments
    assert image.kind == SegmentKind.IMAGE and text.kind == SegmentKind.TEXT
    assert text.locator == image.locator and text.tokens > 0
    read, by_label = text.text.split(VALUES)
    assert by_label.strip().splitlines() == pairs
    assert not any(value.split(": ")[1] in read for value in pairs)  # no bare values above


@needs_tesseract
def test_a_chart_is_found_by_search_through_its_ocr_text(settings):
    store = Store(settings)
    ingest_paths([SAMPLE_DOCS / "charts"], "Charts", store, settings)
    [hit, *_] = store.search("Charts", "Manufacturing headcount", 5)
    assert hit.source.endswith("headcount_by_team.png") and "Manufacturing" in hit.segment.text
    store.close()


@needs_tesseract
def test_a_chart_pasted_into_a_pdf_as_a_picture_is_read_into_its_page_text(settings):
    from ingest.ocr import FIGURE_HEADER
    from ingest.pdf import parse_pdf

    data = (SAMPLE_DOCS / "report.pdf").read_bytes()
    texts = {s.locator.page: s.text for s in parse_pdf(FileInput("report.pdf", data), settings)
             .segments if s.kind == SegmentKind.TEXT}
    page = texts[3]  # page 3 shows the revenue chart as a raster, with no text layer over it
    written, read = page.split(FIGURE_HEADER)
    assert written.startswith("Revenue by Quarter")  # the page's own text comes first
    assert read.split(VALUES)[1].strip().splitlines()[:2] == ["Q1 2024: $31.2M",
                                                             "Q2 2024: $35.8M"]
    assert all(FIGURE_HEADER not in texts[p] for p in (1, 2, 5))  # no raster figure there
    for off in ({"ocr": False}, {"ocr_figures": False}):
        plain = parse_pdf(FileInput("report.pdf", data), settings.model_copy(update=off))
        assert all(FIGURE_HEADER not in s.text for s in plain.segments)


def test_photos_are_not_read_graphics_are():
    import pymupdf
    from PIL import Image as PILImage

    from ingest.pdf import _flat

    # a photo's spread of colours: red across, green down, blue along the diagonal
    noise = PILImage.merge("RGB", [PILImage.linear_gradient("L").rotate(90).resize((300, 200)),
                                   PILImage.linear_gradient("L").resize((300, 200)),
                                   PILImage.radial_gradient("L").resize((300, 200))])
    chart = PILImage.new("RGB", (300, 200), "white")
    chart.paste((60, 120, 200), (40, 60, 90, 190))
    doc = pymupdf.open()
    page = doc.new_page()
    for image, rect in [(noise, (50, 50, 350, 250)), (chart, (50, 400, 350, 600))]:
        out = io.BytesIO()
        image.save(out, "PNG")
        page.insert_image(pymupdf.Rect(*rect), stream=out.getvalue())
    assert not _flat(page, pymupdf.Rect(50, 50, 350, 250))
    assert _flat(page, pymupdf.Rect(50, 400, 350, 600))

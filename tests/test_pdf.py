"""ingest/pdf.py: text order, ruled tables, figure pages and their images, scanned pages and OCR,
errors, and the shared corpus (outcomes per file, goldens)."""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
from pathlib import Path

import pymupdf
import pytest

import ingest.pdf as pdf
import ingest.pdf_layout as pdf_layout
from core.domain import ParsedDocument, SegmentKind, Status
from core.errors import IngestError
from core.settings import Settings
from core.tokens import TILE, best_canvas, count_image_tokens
from ingest.base import FileInput
from ingest.pdf import parse_pdf

# Read here only: regenerate tests/golden/*.json instead of comparing (never in CI, see below).
REGEN_GOLDEN = os.environ.get("DOCSCOUT_REGEN_GOLDEN") == "1"
GOLDEN = Path(__file__).parent / "golden"

TEXT, IMAGE = SegmentKind.TEXT, SegmentKind.IMAGE
LOREM = (
    "Revenue grew in every region this quarter, led by strong demand for the new product line. "
    "Costs stayed flat, so the operating margin widened by two points. "
)
TABLE = [
    ["Region", "Q1", "Q2"],
    ["Northwest", "120", "135"],
    ["Southeast", "98", "101"],
    ["Central", "77", "80"],
    ["Mountain", "64", "70"],
    ["Pacific", "143", "150"],
    ["Atlantic", "88", "91"],
    ["Gulf", "59", "62"],
]
SCANNED_SENTENCE = "The committee approved the budget on March 3."


def png_of(width: int, height: int, background: tuple, bars: list[tuple]) -> bytes:
    pix = pymupdf.Pixmap(pymupdf.csRGB, pymupdf.IRect(0, 0, width, height), False)
    pix.set_rect(pix.irect, background)
    for rect, colour in bars:
        pix.set_rect(pymupdf.IRect(rect), colour)
    return pix.tobytes("png")


def add_text_page(doc: pymupdf.Document) -> None:
    """Text, and a tiny logo raster that must not make it a figure page."""
    page = doc.new_page()
    page.insert_textbox(pymupdf.Rect(72, 72, 540, 300), "Quarterly report\n\n" + LOREM * 4)
    page.insert_image(pymupdf.Rect(500, 20, 530, 50), stream=png_of(40, 40, (200, 30, 30), []))


def add_table_page(doc: pymupdf.Document) -> None:
    """A ruled table with grey banded rows (many ruling and shading items, none a chart mark)
    between a sentence above and one below."""
    page = doc.new_page()
    page.insert_text((72, 90), "Sales by region, in thousands of dollars.", fontsize=11)
    xs = [72, 250, 360, 470]
    ys = [110 + 24 * i for i in range(len(TABLE) + 1)]
    for r in range(0, len(TABLE), 2):
        page.draw_rect(pymupdf.Rect(xs[0], ys[r], xs[-1], ys[r + 1]), color=None, fill=(0.9,) * 3)
    for y in ys:
        page.draw_line((xs[0], y), (xs[-1], y), width=0.8)
    for x in xs:
        page.draw_line((x, ys[0]), (x, ys[-1]), width=0.8)
    for r, row in enumerate(TABLE):
        for c, cell in enumerate(row):
            page.insert_text((xs[c] + 6, ys[r] + 16), cell, fontsize=10)
    page.insert_text((72, ys[-1] + 30), "Totals are audited once a year.", fontsize=11)


def add_raster_chart_page(doc: pymupdf.Document) -> None:
    page = doc.new_page()
    bars = [((80, 150, 180, 380), (200, 60, 60)), ((260, 60, 360, 380), (60, 120, 200))]
    chart = png_of(600, 400, (240, 244, 255), bars)
    page.insert_image(pymupdf.Rect(100, 100, 500, 367), stream=chart)  # 22% of the page
    page.insert_text((100, 390), "Figure 1: units shipped per plant.", fontsize=10)


def add_vector_chart_page(doc: pymupdf.Document) -> None:
    page = doc.new_page()
    page.insert_text((72, 80), "Figure 2: monthly output.", fontsize=11)
    page.draw_line((100, 400), (520, 400))
    page.draw_line((100, 120), (100, 400))
    colours = [(0.85, 0.2, 0.2), (0.2, 0.5, 0.85), (0.2, 0.7, 0.3)]
    for i in range(12):
        height = 40 + (i * 37) % 200
        bar = pymupdf.Rect(110 + i * 34, 400 - height, 134 + i * 34, 400)
        page.draw_rect(bar, color=None, fill=colours[i % 3])
    for i in range(6):
        x = 110 + i * 68
        purple = (0.5, 0.1, 0.6)
        page.draw_bezier((x, 300), (x + 20, 250), (x + 40, 350), (x + 68, 280), color=purple)
    for i, month in enumerate(["Jan", "Apr", "Jul", "Oct"]):
        page.insert_text((110 + i * 102, 415), month, fontsize=9)


def add_scanned_page(doc: pymupdf.Document) -> None:
    """A picture of a letter and no text layer, as a scanner makes it."""
    with pymupdf.open() as source:
        letter = source.new_page()
        text = f"Scanned letter\n\n{SCANNED_SENTENCE} " * 3
        letter.insert_textbox(pymupdf.Rect(72, 72, 540, 400), text, fontsize=14)
        scan = letter.get_pixmap(dpi=150, colorspace=pymupdf.csGRAY).tobytes("png")
    page = doc.new_page()
    page.insert_image(page.rect, stream=scan)


def pdf_bytes(*builders, title: str = "", **save) -> bytes:
    with pymupdf.open() as doc:
        for build in builders:
            build(doc)
        if title:
            doc.set_metadata({"title": title})
        return doc.tobytes(garbage=3, deflate=True, **save)


@pytest.fixture(scope="module")
def report_bytes() -> bytes:
    return pdf_bytes(
        add_text_page,
        add_table_page,
        add_raster_chart_page,
        add_vector_chart_page,
        add_scanned_page,
        title="Synthetic report",
    )


@pytest.fixture(scope="module")
def report(report_bytes: bytes) -> ParsedDocument:
    return parse_pdf(FileInput.of("reports/q3.pdf", report_bytes), Settings(ocr=False))


def page_text(parsed: ParsedDocument, page: int) -> str:
    [segment] = [s for s in parsed.segments if s.kind == TEXT and s.locator.page == page]
    return segment.text


# --- synthetic documents ----------------------------------------------------------------------


def test_segments_in_page_order_with_images_only_on_figure_pages(report: ParsedDocument) -> None:
    layout = [(s.kind, s.locator.page) for s in report.segments]
    assert layout == [
        (TEXT, 1),
        (TEXT, 2),
        (IMAGE, 3), (TEXT, 3),
        (IMAGE, 4), (TEXT, 4),
        (IMAGE, 5),  # scanned, OCR off: the image alone, and that is no error
    ]  # fmt: skip
    doc = report.document
    assert (doc.status, doc.error, doc.pages, doc.title) == (Status.OK, None, 5, "Synthetic report")
    assert doc.text_tokens == sum(s.tokens for s in report.segments if s.kind == TEXT)
    assert doc.image_tokens == sum(s.tokens for s in report.segments if s.kind == IMAGE)


def test_table_is_markdown_in_place_and_not_repeated(report: ParsedDocument) -> None:
    text = page_text(report, 2)
    rows = ["| " + " | ".join(row) + " |" for row in TABLE]
    markdown = "\n".join([rows[0], "| --- | --- | --- |", *rows[1:]])
    assert markdown in text
    before, after = text.split(markdown)
    assert before.strip() == "Sales by region, in thousands of dollars."
    assert after.strip() == "Totals are audited once a year."
    assert text.count("Northwest") == 1


def test_page_images_fit_the_tile_budget_and_count_tokens(report: ParsedDocument) -> None:
    images = {img.sha256: img for img in report.images}
    for segment in (s for s in report.segments if s.kind == IMAGE):
        image = images[segment.image_sha256]
        assert segment.text == ""
        assert image.mime == "image/jpeg" and image.data.startswith(b"\xff\xd8\xff")
        assert hashlib.sha256(image.data).hexdigest() == image.sha256
        decoded = pymupdf.Pixmap(image.data)
        assert (decoded.width, decoded.height, decoded.n) == (image.width, image.height, 3)
        assert segment.tokens == image.tokens == count_image_tokens(image.width, image.height)
        rows, cols = best_canvas(image.width, image.height)
        assert rows * cols <= Settings().page_image_max_tiles
        # the largest such image: with 9 tiles an A4 page fills the height of a 3x3 canvas
        assert (rows, cols) == (3, 3) and image.width <= 3 * TILE and image.height == 3 * TILE


@pytest.mark.parametrize("max_tiles", [1, 4, 9, 12, 16])
@pytest.mark.parametrize("size", [(612, 792), (842, 595), (200, 2000), (3000, 3000)])
def test_render_size_uses_the_best_canvas(size: tuple[int, int], max_tiles: int) -> None:
    width, height = size
    with pymupdf.open() as doc:
        page = doc.new_page(width=width, height=height)
        image = pdf._render(page, max_tiles)
    rows, cols = best_canvas(image.width, image.height)
    assert rows * cols <= max_tiles
    assert image.width <= cols * TILE and image.height <= rows * TILE
    assert max(image.width / (cols * TILE), image.height / (rows * TILE)) > 0.99
    assert image.tokens == count_image_tokens(image.width, image.height)


def test_scanned_page_gets_ocr_text_when_tesseract_is_installed(report_bytes: bytes) -> None:
    if shutil.which("tesseract") is None:
        pytest.skip("Tesseract is not installed: OCR of scanned pages is not available here")
    parsed = parse_pdf(FileInput.of("q3.pdf", report_bytes), Settings(ocr=True))
    assert [s.kind for s in parsed.segments if s.locator.page == 5] == [IMAGE, TEXT]
    assert SCANNED_SENTENCE in " ".join(page_text(parsed, 5).split())
    assert parsed.document.status == Status.OK


def test_pie_chart_is_a_figure_but_boxes_around_text_are_not(settings: Settings) -> None:
    def pie(doc: pymupdf.Document) -> None:
        page = doc.new_page()
        page.insert_text((72, 80), "Figure 3: revenue by product line.", fontsize=11)
        colours = [(0.16, 0.38, 0.62), (0.93, 0.55, 0.17), (0.3, 0.62, 0.36), (0.72, 0.26, 0.3)]
        angle = 0.0
        for share, colour in zip([46, 27, 19, 8], colours):  # 4 paths of several items each
            start = (200 + 100 * math.cos(angle), 300 + 100 * math.sin(angle))
            page.draw_sector((200, 300), start, -3.6 * share, color=None, fill=colour)
            angle += math.radians(3.6 * share)
        page.draw_circle((200, 300), 102, color=(0.3, 0.3, 0.3))
        page.insert_text((150, 310), "46%", fontsize=9)

    def boxes(doc: pymupdf.Document) -> None:
        page = doc.new_page()
        for i in range(4):
            box = pymupdf.Rect(72, 80 + 150 * i, 520, 200 + 150 * i)
            page.draw_rect(box, radius=0.2, color=(0.6, 0.8, 0.2), fill=(0.87, 0.92, 0.72))
            page.draw_rect(box + (10, 10, -10, -10), color=None, fill=(0.75, 0.85, 1.0))
            page.insert_textbox(box + (16, 16, -16, -16), LOREM * 2, fontsize=10)

    parsed = parse_pdf(FileInput.of("pie.pdf", pdf_bytes(pie, boxes)), settings)
    assert [(s.kind, s.locator.page) for s in parsed.segments] == [(IMAGE, 1), (TEXT, 1), (TEXT, 2)]


def test_two_columns_read_column_by_column(settings: Settings) -> None:
    """The paragraph gaps of both columns line up at y 180-200: still one column, then the next."""

    def build(doc: pymupdf.Document) -> None:
        page = doc.new_page()
        page.insert_text((72, 60), "Two columns", fontsize=14)
        for i, y in enumerate([100, 200, 300]):
            page.insert_textbox(pymupdf.Rect(72, y, 290, y + 80), f"Left paragraph {i}. " * 4)
        for i, y in enumerate([130, 260]):
            page.insert_textbox(pymupdf.Rect(320, y, 540, y + 110), f"Right paragraph {i}. " * 5)
        for i, (label, value) in enumerate([("Name:", "Alice"), ("City:", "Lyon")]):
            page.insert_text((72, 500 + 20 * i), label)
            page.insert_text((300, 500 + 20 * i), value)

    text = page_text(parse_pdf(FileInput.of("cols.pdf", pdf_bytes(build)), settings), 1)
    order = ["Two columns", "Left paragraph 0", "Left paragraph 1", "Left paragraph 2",
             "Right paragraph 0", "Right paragraph 1", "Name:", "Alice", "City:", "Lyon"]
    positions = [text.index(marker) for marker in order]
    assert positions == sorted(positions)


@pytest.mark.parametrize(
    "boxes",
    [
        # a form: labels and values are separate blocks that pair up row by row
        [(72, 100, 120, 112), (300, 100, 360, 112), (72, 120, 120, 132), (300, 120, 360, 132),
         (72, 140, 120, 152), (300, 140, 360, 152)],
        # columns that start level: the first pair lines up at the top, not at the bottom
        [(72, 40, 540, 60), (72, 100, 264, 150), (72, 160, 264, 300), (320, 100, 534, 180),
         (320, 190, 534, 300), (72, 700, 540, 720)],
    ],
)  # fmt: skip
def test_reading_order_of_blocks(boxes: list[tuple]) -> None:
    blocks = [(box, str(n)) for n, box in enumerate(boxes)]
    shuffled = blocks[1::2] + blocks[::2]
    assert [text for _, text in pdf_layout.reading_order(shuffled)] == [t for _, t in blocks]


def test_title_falls_back_to_the_file_stem(settings: Settings) -> None:
    file = FileInput.of("archive.zip/2024/minutes.pdf", pdf_bytes(add_text_page))
    parsed = parse_pdf(file, settings)
    assert parsed.document.title == "minutes"


# --- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data,message",
    [(b"", "empty file"),
     (b"this is not a PDF at all",
      r"not a PDF: the content does not start with %PDF- \(it is text\)"),
     (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", r"not a PDF: .* \(it is a PNG image\)"),
     (b"%PDF-1.7\n1 0 obj garbage", "not a readable PDF")],
)  # fmt: skip
def test_unreadable_files_raise(data: bytes, message: str, settings: Settings) -> None:
    with pytest.raises(IngestError, match=message) as caught:
        parse_pdf(FileInput.of("bad.pdf", data), settings)
    assert caught.value.source == "bad.pdf"


def test_password_protected_pdf_raises_but_empty_user_password_opens(settings: Settings) -> None:
    secret = dict(encryption=pymupdf.PDF_ENCRYPT_AES_256, owner_pw="owner", user_pw="secret")
    with pytest.raises(IngestError, match="password required"):
        parse_pdf(FileInput.of("locked.pdf", pdf_bytes(add_text_page, **secret)), settings)
    restricted = dict(encryption=pymupdf.PDF_ENCRYPT_AES_256, owner_pw="owner", user_pw="")
    parsed = parse_pdf(FileInput.of("r.pdf", pdf_bytes(add_text_page, **restricted)), settings)
    assert parsed.document.status == Status.OK and "Quarterly report" in page_text(parsed, 1)


def test_too_many_pages(report_bytes: bytes) -> None:
    with pytest.raises(IngestError, match="5 pages, more than the limit of 4"):
        parse_pdf(FileInput.of("q3.pdf", report_bytes), Settings(max_pages=4))


def test_a_failing_page_is_recorded_and_the_rest_is_read(
    report_bytes: bytes, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_scan = pdf._scan

    def scan(page: pymupdf.Page, textpage: pymupdf.TextPage) -> pdf_layout.Scan:
        if page.number == 1:
            raise RuntimeError("broken content stream")
        return real_scan(page, textpage)

    def render(page: pymupdf.Page, max_tiles: int) -> None:
        raise MemoryError("out of memory")

    monkeypatch.setattr(pdf, "_scan", scan)
    monkeypatch.setattr(pdf, "_render", render)
    parsed = parse_pdf(FileInput.of("q3.pdf", report_bytes), Settings(ocr=False))
    assert parsed.document.status == Status.PARTIAL
    errors = parsed.document.error.split("; ")
    assert errors[:2] == ["page 2: broken content stream",
                          "page 3: could not render the page image: out of memory"]  # fmt: skip
    assert [(s.kind, s.locator.page) for s in parsed.segments] == [(TEXT, 1), (TEXT, 3), (TEXT, 4)]


def test_nothing_readable_fails(settings: Settings) -> None:
    parsed = parse_pdf(FileInput.of("blank.pdf", pdf_bytes(lambda doc: doc.new_page())), settings)
    assert (parsed.document.status, parsed.document.error) == (Status.FAILED, "no readable content")


def test_damaged_pdf_is_read_and_flagged(settings: Settings) -> None:
    good = pdf_bytes(lambda doc: doc.new_page().insert_text((72, 72), "Still readable text."))
    damaged = good.replace(b"xref", b"xrfe")  # MuPDF must rebuild the cross-reference table
    parsed = parse_pdf(FileInput.of("damaged.pdf", damaged), settings)
    assert parsed.document.status == Status.PARTIAL
    assert parsed.document.error.startswith(DAMAGED)
    assert "Still readable text." in parsed.segments[0].text


def test_page_sized_scan_with_stray_text_counts_as_scanned() -> None:
    scan = pdf_layout.Scan(area=100.0, texts=[((0, 0, 1, 1), "2021 3 31")], images=[(0, 0, 10, 10)],
                           vectors=[])
    assert pdf._is_scanned(scan)
    scan.texts = [((0, 0, 1, 1), "A real paragraph of text that runs on for a while. " * 2)]
    assert not pdf._is_scanned(scan)


# --- the shared corpus ------------------------------------------------------------------------

CORPUS_ERRORS = {
    "empty.pdf": "empty file",
    "password-example.pdf": "password required",
}
CORPUS_FAILED = {
    # A single blank page (the file tests integer metadata) in a file with a broken xref.
    "issue-297-example.pdf": "no readable content; the file is damaged",
}
DAMAGED = "the file is damaged: its cross-reference table had to be rebuilt"
CORPUS_PARTIAL = {
    # Garbage before the %PDF marker and a broken xref: MuPDF rebuilds it and reads every page,
    # but the user is told the file was damaged.
    "issue-848.pdf": DAMAGED,
    "malformed-from-issue-932.pdf": "page 1: malformed page box",
}


@pytest.mark.corpus
def test_every_corpus_pdf_has_its_expected_outcome(corpus_pdfs: Path) -> None:
    # OCR off: the outcome must not depend on whether this machine has Tesseract, and OCR of the
    # three scanned pages would add seconds.
    settings = Settings(ocr=False)
    for path in sorted(corpus_pdfs.glob("*.pdf")):
        file = FileInput.of(path.name, path.read_bytes())
        if path.name in CORPUS_ERRORS:
            with pytest.raises(IngestError, match=CORPUS_ERRORS[path.name]):
                parse_pdf(file, settings)
            continue
        parsed = parse_pdf(file, settings)
        doc = parsed.document
        if path.name in CORPUS_FAILED:
            assert doc.status == Status.FAILED, path.name
            assert doc.error.startswith(CORPUS_FAILED[path.name]), path.name
        elif path.name in CORPUS_PARTIAL:
            assert doc.status == Status.PARTIAL, path.name
            assert doc.error.startswith(CORPUS_PARTIAL[path.name]), path.name
        else:
            assert (doc.status, doc.error) == (Status.OK, None), path.name
        for image in parsed.images:
            rows, cols = best_canvas(image.width, image.height)
            assert rows * cols <= settings.page_image_max_tiles, path.name
            assert image.tokens == count_image_tokens(image.width, image.height), path.name


@pytest.mark.corpus
def test_malformed_pdf_is_read_and_flagged(corpus_pdfs: Path) -> None:
    """malformed-from-issue-932.pdf (written by PyPDF2) has an upside-down MediaBox
    [0 841.68 631.08 0]; MuPDF normalises it, so the page reads: a full-page raster (hence an
    image) over a few stray words. The document is partial and says why."""
    path = corpus_pdfs / "malformed-from-issue-932.pdf"
    parsed = parse_pdf(FileInput.of(path.name, path.read_bytes()), Settings(ocr=False))
    doc = parsed.document
    assert (doc.status, doc.pages) == (Status.PARTIAL, 1)
    assert doc.error == "page 1: malformed page box (MediaBox [0 841.68 631.08 0] is inverted; read as corrected)"
    assert [s.kind for s in parsed.segments] == [IMAGE, TEXT]
    assert parsed.segments[1].text.split() == ["2021", "3", "31"]


@pytest.mark.corpus
def test_rotated_page_reads_like_the_upright_one(corpus_pdfs: Path, settings: Settings) -> None:
    def texts(name: str) -> list[str]:
        data = (corpus_pdfs / name).read_bytes()
        return [s.text for s in parse_pdf(FileInput.of(name, data), settings).segments]

    upright = texts("nics-background-checks-2015-11.pdf")
    assert texts("nics-background-checks-2015-11-rotated.pdf") == upright
    assert "| State / Territory | Permit |" in upright[0]


def golden_view(parsed: ParsedDocument) -> dict:
    images = {img.sha256: img for img in parsed.images}
    segments = []
    for s in parsed.segments:
        item = {"kind": s.kind.value, "locator": {"page": s.locator.page}, "tokens": s.tokens}
        if s.kind == IMAGE:
            image = images[s.image_sha256]
            item |= {"width": image.width, "height": image.height}
        else:
            item["text"] = s.text
        segments.append(item)
    doc = parsed.document
    return {
        "title": doc.title,
        "status": doc.status.value,
        "pages": doc.pages,
        "text_tokens": doc.text_tokens,
        "image_tokens": doc.image_tokens,
        "segments": segments,
    }


@pytest.mark.corpus
@pytest.mark.parametrize("name", ["nics-background-checks-2015-11.pdf", "figure_structure.pdf"])
def test_golden_segments(name: str, corpus_pdfs: Path, settings: Settings) -> None:
    data = (corpus_pdfs / name).read_bytes()
    view = golden_view(parse_pdf(FileInput.of(name, data), settings))
    golden = GOLDEN / f"{Path(name).stem}.json"
    if REGEN_GOLDEN:
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(json.dumps(view, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    assert view == json.loads(golden.read_text(encoding="utf-8"))


def test_golden_regeneration_is_off_in_ci() -> None:
    if os.environ.get("CI") == "true":
        assert not REGEN_GOLDEN, "DOCSCOUT_REGEN_GOLDEN=1 in CI would overwrite the goldens"

"""PDF parser (PyMuPDF): per page, one text segment in reading order with ruled tables as
Markdown, preceded by a rendered page image when the page carries figures or has no text layer.

Speed matters, so a page is interpreted once: a MuPDF text page that also collects image and
vector blocks gives text, raster boxes and drawing boxes together. Cheap signals from it decide
the expensive work: crossing ruling lines -> a table grid filled from the words; large rasters,
many curves or coloured fills, or no text layer -> render the page at the largest size that fits
a Llama 4 canvas of at most `settings.page_image_max_tiles` tiles (no image token wasted); no
text layer and Tesseract installed -> OCR of the page; large rasters on a page with a text layer
(a chart pasted as a picture) -> OCR of each of them, added to the page's text under its own
label (ingest.ocr), so that their words and values are searchable and read by text-only models.
A page that fails is recorded as "page N: ..." and the rest of the document is still read.
"""

from __future__ import annotations

import io
import re
from pathlib import PurePosixPath

import pymupdf
from PIL import Image as PILImage

from core.domain import (
    DocumentKind,
    Image,
    Locator,
    ParsedDocument,
    Segment,
    SegmentKind,
)
from core.errors import IngestError
from core.settings import Settings
from core.tokens import (
    TILE,
    best_canvas,
    count_image_tokens,
    count_text_tokens,
    supported_canvases,
)
from ingest.base import FileInput, sha256_bytes
from ingest.detect import HEAD_BYTES, describe_content, has_pdf_header
from ingest.ocr import FIGURE_HEADER, image_text, tessdata
from ingest.pdf_layout import (
    THIN,
    Box,
    Scan,
    Vector,
    area,
    blocks_with_tables,
    direction,
    grids,
    reading_order,
    to_frame,
)

_SCAN_FLAGS = pymupdf.TEXTFLAGS_TEXT | pymupdf.TEXT_PRESERVE_IMAGES | pymupdf.TEXT_COLLECT_VECTORS
_VECTOR = re.compile(r"<vector (\w+), color: #([0-9a-fA-F]{6}), alpha: (\d+), is-rect: (\w+)")
_SPECK = 0.01  # rasters under 1% of the page (bullets, small logos, specks) never make a figure
_SCAN_RASTER = 0.5  # a raster over half the page with ...
_SCAN_MAX_CHARS = 40  # ... fewer characters of text than this is a scan (stamped page numbers)
_CHROMA = 26  # max - min of the 0..255 RGB channels from which a fill is coloured, not grey
JPEG_QUALITY = 90  # rendered pages; see _jpeg
_OCR_DPI = 200  # Tesseract: ~0.9 s a page at 200 dpi, ~1.1 s at 300, no better on clean print
_FIGURE_DPI = 100  # a raster figure rendered for OCR, which reads it at twice that (sharper
# than rendering at 200 dpi: measured on sample_docs/report.pdf's charts)
_FIGURES_PER_PAGE = 3  # the largest rasters of a page that are OCRed (a photo collage has more)
_WHOLE_PAGE = 0.8  # a raster this big under a text layer is a scan already read (or a backdrop)
_FLAT_DPI = 36  # a thumbnail of the raster, to tell a graphic from a photo
_FLAT_SHARE = 0.6  # a graphic: its six commonest colours (3 bits a channel) cover this share



def parse_pdf(file: FileInput, settings: Settings, *, defer_ocr: bool = False) -> ParsedDocument:
    """Parse a PDF into per-page segments; raise IngestError when none of it can be read.
    `defer_ocr`: run no OCR, and count the pages that OCR would read (`Document.ocr_pending`),
    for ingest.pipeline.run_ocr to parse the document again with OCR later."""
    with _open(file, settings) as doc:
        title = ((doc.metadata or {}).get("title") or "").strip() or PurePosixPath(file.name).stem
        segments: list[Segment] = []
        images: list[Image] = []
        errors: list[str] = []
        pending = 0
        if doc.is_repaired:
            errors.append("the file is damaged: its cross-reference table had to be rebuilt, "
                          "so some content may be missing")
        labelled = _has_page_labels(doc)
        for number in range(1, doc.page_count + 1):
            label = None
            try:
                page = doc.load_page(number - 1)
                label = _page_label(page, number) if labelled else None
                image, text, problems, deferred = _parse_page(page, settings, defer_ocr)
                problems += _page_box_problems(doc, page)
                pending += deferred
            except Exception as exc:  # one bad page must not lose the others
                image, text, problems = None, "", [_describe(exc)]
            errors += [f"page {number}: {problem}" for problem in problems]
            where = Locator(page=number, page_label=label)
            if image is not None:
                images.append(image)
                segments.append(Segment(SegmentKind.IMAGE, "", where, image.tokens, image.sha256))
            if text:
                segments.append(Segment(SegmentKind.TEXT, text, where, count_text_tokens(text)))
        return ParsedDocument.build(
            source=file.name,
            kind=DocumentKind.PDF,
            sha256=file.sha256 or sha256_bytes(file.data),
            title=title,
            segments=segments,
            images=images,
            errors=errors,
            size_bytes=len(file.data),
            pages=doc.page_count,
            ocr_pending=pending,
        )


def _open(file: FileInput, settings: Settings) -> pymupdf.Document:
    if not file.data:
        raise IngestError(file.name, "empty file")
    if not has_pdf_header(file.data):  # MuPDF would only say "Failed to open stream"
        raise IngestError(file.name, "not a PDF: the content does not start with %PDF- (it is "
                          f"{describe_content(file.data[:HEAD_BYTES])})")
    try:
        doc = pymupdf.open(stream=file.data, filetype="pdf")
        # Many PDFs are encrypted with an empty user password (only printing or copying is
        # restricted): they open once authenticated with "".
        if doc.needs_pass and not doc.authenticate(""):
            problem = "password required: the PDF is encrypted"
        elif doc.page_count == 0:
            problem = "not a readable PDF: it has no pages"
        elif doc.page_count > settings.max_pages:
            problem = f"{doc.page_count} pages, more than the limit of {settings.max_pages}"
        else:
            return doc
    except Exception as exc:
        raise IngestError(file.name, f"not a readable PDF: {_describe(exc)}") from exc
    doc.close()
    raise IngestError(file.name, problem)


def _has_page_labels(doc: pymupdf.Document) -> bool:
    try:
        return bool(doc.get_page_labels())
    except Exception:  # a malformed label tree: the pages keep their numbers
        return False


def _page_label(page: pymupdf.Page, number: int) -> str | None:
    """The label the PDF gives the page (a book excerpt's "287", a preface's "iv"), or None
    where it is the page's own number or none at all."""
    try:
        label = page.get_label().strip()[:64]
    except Exception:
        return None
    return label if label and label != str(number) else None


def _describe(exc: BaseException) -> str:
    return str(exc).strip() or type(exc).__name__


def _page_box_problems(doc: pymupdf.Document, page: pymupdf.Page) -> list[str]:
    """A malformed page box, which MuPDF silently normalises: worth telling the user, since
    text positions (and so reading order) on such a page may be off."""
    # 2026-11-23: malformed-from-issue-932.pdf has /MediaBox [0 841.68 631.08 0], upside down.
    kind, value = doc.xref_get_key(page.xref, "MediaBox")
    if kind != "array":
        return []
    try:
        x0, y0, x1, y1 = (float(v) for v in value.strip("[]").split())
    except ValueError:
        return [f"malformed page box (MediaBox {value})"]
    if x0 > x1 or y0 > y1:
        return [f"malformed page box (MediaBox {value} is inverted; read as corrected)"]
    return []


def _is_scanned(scan: Scan) -> bool:
    """No text layer, or a page-sized raster with only a few stray characters on it."""
    raster = _raster_share(scan)
    if not scan.texts:
        return raster >= _SPECK
    chars = sum(len(text) for _, text in scan.texts)
    return raster >= _SCAN_RASTER and chars < _SCAN_MAX_CHARS


def _parse_page(page: pymupdf.Page, settings: Settings, defer_ocr: bool = False
                ) -> tuple[Image | None, str, list[str], bool]:
    """The page's image (figure or scanned pages only), its text, what went wrong, and whether
    OCR would have read it had it not been deferred."""
    textpage = page.get_textpage(flags=_SCAN_FLAGS)
    scan = _scan(page, textpage)
    scanned = _is_scanned(scan)
    figure = scanned or _is_figure_page(page, scan, settings)
    text, image, problems = _page_text(page, textpage, scan), None, []
    if figure:
        try:
            image = _render(page, settings.page_image_max_tiles)
        except Exception as exc:
            problems.append(f"could not render the page image: {_describe(exc)}")
    if not (settings.ocr and tessdata() is not None and figure):
        return image, text, problems, False
    try:
        graphics = [] if scanned or not settings.ocr_figures else _graphics(page, scan, settings)
        if defer_ocr:
            return image, text, problems, scanned or bool(graphics)
        if scanned:
            text = _ocr_text(page, settings)
        elif graphics:
            text = "\n\n".join(t for t in [text, *_figure_texts(page, graphics, settings)] if t)
    except Exception as exc:
        problems.append(f"OCR failed: {_describe(exc)}")
    return image, text, problems, False


def _page_text(page: pymupdf.Page, textpage: pymupdf.TextPage, scan: Scan) -> str:
    """The page's text in reading order, its ruled tables as Markdown in their place."""
    blocks = scan.texts
    tables = grids(scan) if blocks else []
    if tables or (blocks and page.rotation):
        words = page.get_text("words", textpage=textpage)
        text_direction = direction(words)
        if text_direction != (1, 0):
            words = to_frame(scan, words, text_direction)
            tables = grids(scan)
        blocks = blocks_with_tables(scan, words, tables)
    return "\n\n".join(text for _, text in reading_order(blocks))


# --- one pass over the page -------------------------------------------------------------------


def _scan(page: pymupdf.Page, textpage: pymupdf.TextPage) -> Scan:
    # Text coordinates are those of the unrotated page, and so is this clip rectangle.
    # 2026-11-23: content off the page (issue-71-duplicate-chars-2.pdf draws glyph outlines at
    # x < 0 and past the right edge) is clipped away, or it would count as a figure.
    clip = (page.rect * page.derotation_matrix).normalize()
    texts, rasters, vectors = [], [], []
    for x0, y0, x1, y1, content, _, kind in page.get_text("blocks", textpage=textpage):
        box = (max(x0, clip.x0), max(y0, clip.y0), min(x1, clip.x1), min(y1, clip.y1))
        if box[0] > box[2] or box[1] > box[3]:
            continue
        if kind == 0:
            content = "\n".join(line.rstrip() for line in content.strip().splitlines())
            if content:
                texts.append((box, content))
        elif kind == 1:
            rasters.append(box)
        elif kind == 3 and (vector := _vector(box, content)) is not None:
            vectors.append(vector)
    return Scan(abs(clip), texts, rasters, vectors)


def _vector(box: Box, description: str) -> Vector | None:
    """A vector block from MuPDF's description of it, or None when it cannot be seen."""
    match = _VECTOR.search(description)
    if match is None:
        return None
    paint, color, alpha, is_rect = match.groups()
    rgb = (int(color[0:2], 16), int(color[2:4], 16), int(color[4:6], 16))
    # 2026-11-23: invisible paint is no drawing and no ruling: issue-71-duplicate-chars-2.pdf
    # strokes hundreds of glyph outlines in white, issue-848.pdf lays white boxes over its text.
    if int(alpha) == 0 or min(rgb) >= 250:
        return None
    return Vector(box, paint == "filled", rgb, is_rect == "true")


# --- figure signals -----------------------------------------------------------------------------



def _raster_share(scan: Scan) -> float:
    """Share of the page covered by rasters that are not specks."""
    shares = [area(b) / scan.area for b in scan.images] if scan.area else []
    return min(1.0, sum(s for s in shares if s >= _SPECK))


def _is_figure_page(page: pymupdf.Page, scan: Scan, settings: Settings) -> bool:
    if _raster_share(scan) >= settings.figure_min_area:
        return True
    texts = [box for box, _ in scan.texts]
    marks = [v for v in scan.vectors if _is_chart_mark(v, texts)]
    if not marks or not scan.area:
        return False
    # A logo drawn with many curves (federal-register-2020-17221.pdf) stays small: the marks
    # must span as much of the page as a figure raster would.
    x0, y0 = min(v.box[0] for v in marks), min(v.box[1] for v in marks)
    x1, y1 = max(v.box[2] for v in marks), max(v.box[3] for v in marks)
    if area((x0, y0, x1, y1)) / scan.area < settings.figure_min_area:
        return False
    if len(marks) >= settings.figure_min_vector_items or all(v.is_rect for v in marks):
        return len(marks) >= settings.figure_min_vector_items
    # 2026-11-23: MuPDF reports a path as one vector block however many curves it holds (the pie
    # of sample_docs/report.pdf: 9 blocks, 26 drawing items); count the drawing items.
    return _drawing_items(page, texts) >= settings.figure_min_vector_items


def _drawing_items(page: pymupdf.Page, texts: list[Box]) -> int:
    """Drawing items that are chart marks: every item of a coloured shape, and the curves and
    slanted lines of other visible paths. Axis-parallel lines (table rules) do not count."""
    count = 0
    for path in page.get_cdrawings():
        paint = path.get("fill") or path.get("color")
        if not paint or len(paint) != 3 or min(paint) >= 250 / 255:
            continue
        kinds = [item[0] for item in path["items"]]
        rgb = (round(paint[0] * 255), round(paint[1] * 255), round(paint[2] * 255))
        shape = Vector(tuple(path["rect"]), "f" in path["type"], rgb, set(kinds) == {"re"})
        if not _is_chart_mark(shape, texts):
            continue
        if shape.filled and max(rgb) - min(rgb) >= _CHROMA:
            count += len(kinds)
            continue
        for kind, *points in path["items"]:
            if kind == "l":
                (ax, ay), (bx, by) = points[0], points[1]
                count += min(abs(bx - ax), abs(by - ay)) > 1  # slanted
            count += kind == "c"
    return count


def _is_chart_mark(v: Vector, texts: list[Box]) -> bool:
    """Curves and coloured shapes are chart marks; ruling lines, grey shading, and boxes around
    text are not."""
    x0, y0, x1, y1 = v.box
    inside = [t for t in texts if x0 <= (t[0] + t[2]) / 2 <= x1 and y0 <= (t[1] + t[3]) / 2 <= y1]
    if not v.is_rect:  # a pie slice holds a small label, a rounded text box mostly text
        return sum(map(area, inside)) < 0.25 * area(v.box)
    if not v.filled or max(v.rgb) - min(v.rgb) < _CHROMA or min(x1 - x0, y1 - y0) <= THIN:
        return False
    # 2026-11-23: coloured table cells and text boxes (issue-71-duplicate-chars-2.pdf,
    # word365_structure.pdf) are fills behind text, not the bars of a chart.
    return not inside



# --- page images and OCR ------------------------------------------------------------------------


def _render(page: pymupdf.Page, max_tiles: int) -> Image:
    """The page as JPEG at the largest zoom that fits a canvas of at most `max_tiles` tiles."""
    width, height = page.rect.width, page.rect.height
    if width <= 0 or height <= 0:
        raise ValueError("the page has no area")
    canvases = supported_canvases(max_tiles)
    fits = [(min(c * TILE / width, r * TILE / height), (r, c)) for r, c in canvases]
    zoom, (rows, cols) = max(fits, key=lambda f: (f[0], -f[1][0] * f[1][1]))  # then fewest tiles
    for _ in range(20):  # rounding to whole pixels can tip the size past the canvas
        size = (page.rect * pymupdf.Matrix(zoom, zoom)).irect
        w, h = size.width, size.height
        if w <= cols * TILE and h <= rows * TILE and best_canvas(w, h) == (rows, cols):
            break
        zoom *= 0.998
    pix = page.get_pixmap(matrix=pymupdf.Matrix(zoom, zoom), colorspace=pymupdf.csRGB, alpha=False)
    data = _jpeg(pix)
    tokens = count_image_tokens(pix.width, pix.height)
    return Image(sha256_bytes(data), pix.width, pix.height, "image/jpeg", data, tokens)


def _jpeg(pix: pymupdf.Pixmap) -> bytes:
    """A rendered page as JPEG. Measured on a 1008x1311 page: Pillow's JPEG at quality 90 takes
    ~3-4 ms, a level-1 deflate PNG ~10 ms and MuPDF's own PNG ~30 ms; the JPEG is also smaller
    (~200 KB against ~230 KB), and at this quality text and chart labels stay crisp."""
    frame = PILImage.frombuffer("RGB", (pix.width, pix.height), pix.samples, "raw", "RGB",
                                pix.stride, 1)
    out = io.BytesIO()
    frame.save(out, "JPEG", quality=JPEG_QUALITY, optimize=False)
    return out.getvalue()


def _graphics(page: pymupdf.Page, scan: Scan, settings: Settings) -> list[pymupdf.Rect]:
    """The page's largest graphics, worth OCR: rasters covering at least
    `settings.figure_min_area` of the page, less than all of it, in flat colours (a chart, a
    text box pasted as a picture). Photos are skipped: Tesseract reads noise in them, slowly."""
    large = [box for box in scan.images
             if scan.area and settings.figure_min_area <= area(box) / scan.area < _WHOLE_PAGE]
    clips = [(pymupdf.Rect(box) * page.rotation_matrix).normalize()  # scan boxes: unrotated
             for box in sorted(large, key=area, reverse=True)[:_FIGURES_PER_PAGE]]
    return [clip for clip in clips if _flat(page, clip)]


def _figure_texts(page: pymupdf.Page, graphics: list[pymupdf.Rect], settings: Settings
                  ) -> list[str]:
    """What OCR reads in the page's graphics (`_graphics`): the words of a chart or a text box
    pasted as a picture, with a chart's values by label; nothing for a graphic holding fewer
    than two words. Measured on ../shared/corpus: see README, "What packing finds"."""
    texts = []
    for clip in graphics:
        pix = page.get_pixmap(dpi=_FIGURE_DPI, clip=clip, colorspace=pymupdf.csRGB, alpha=False)
        text = image_text(pix.tobytes("png"), settings.ocr_language, FIGURE_HEADER)
        words = text.removeprefix(FIGURE_HEADER).split()
        if sum(len(w) > 1 and any(c.isalnum() for c in w) for w in words) >= 2:
            texts.append(text)
    return texts


def _flat(page: pymupdf.Page, clip: pymupdf.Rect) -> bool:
    """Whether a region is a graphic (chart, diagram, text, screenshot) rather than a photo:
    in a thumbnail with 3 bits a channel, its six commonest colours cover most of it (a chart:
    0.97-1.0, a screenshot: 0.8-0.9, photos: 0.24-0.5 in ../shared/corpus)."""
    pix = page.get_pixmap(dpi=_FLAT_DPI, clip=clip, colorspace=pymupdf.csRGB, alpha=False)
    thumb = PILImage.frombuffer("RGB", (pix.width, pix.height), pix.samples, "raw", "RGB",
                                pix.stride, 1).point(lambda v: v & 0xE0)
    counts = sorted((n for n, _ in thumb.getcolors(512) or []), reverse=True)
    return sum(counts[:6]) >= _FLAT_SHARE * pix.width * pix.height


def _ocr_text(page: pymupdf.Page, settings: Settings) -> str:
    textpage = page.get_textpage_ocr(
        flags=pymupdf.TEXTFLAGS_TEXT,
        language=settings.ocr_language,
        dpi=_OCR_DPI,
        full=True,
        tessdata=tessdata(),
    )
    return "\n\n".join(text for _, text in reading_order(_scan(page, textpage).texts))

"""scanned_memo.pdf: one page that is only a picture of a typed memo, like a flatbed scan.

Text is typed with Pillow at 200 dpi in a monospaced font, then the sheet is tinted off-white,
rotated by 0.8 degrees, given paper grain, dust specks and a scanner shadow, softened, and
saved as greyscale JPEG. The PDF page holds that image and nothing else, so page.get_text()
is empty and only OCR or a vision model can read it. Noise comes from a seeded random.Random,
so every run draws the same pixels.
"""

from __future__ import annotations

import io
import random
import textwrap
from pathlib import Path

import pymupdf
from PIL import Image, ImageChops, ImageDraw, ImageFilter

from .common import LETTER, pil_font, save_pdf

DPI = 200
SIZE = (LETTER[0] * DPI // 72, LETTER[1] * DPI // 72)  # 1700 x 2200 px
SEED = 20241014
TEXT_BOTTOM = 1800  # px; the typed text ends above this line

HEADER = [
    ("TO:", "All Brackenridge Plant Staff"),
    ("FROM:", "Harriet Vossberg, Facilities Director"),
    ("DATE:", "October 14, 2024"),
    ("RE:", "Roof replacement over Building C"),
]
BODY = [
    "The board has approved a budget of $86,500 to replace the roof membrane over Building C, "
    "the parts warehouse at the Brackenridge plant. The contractor, Pellingham Roofing Co., will "
    "start work on November 4, 2024 and expects to finish by November 22, 2024.",
    "While the work is under way the Building C loading dock will be closed. Deliveries of spare "
    "parts will be received at Dock 4 in Building A instead. Please keep the marked walkway "
    "between the buildings clear at all times.",
    "Hard hats are required within 10 metres of the scaffolding. Questions about the schedule "
    "should go to extension 2147.",
]
CLOSING = ["HV/jk", "cc: Tobias Frenette, Chief Financial Officer"]


def _typed_sheet() -> Image.Image:
    sheet = Image.new("L", SIZE, 255)
    d = ImageDraw.Draw(sheet)
    big, body, bold = pil_font(50, bold=True, mono=True), pil_font(40, mono=True), pil_font(40, bold=True, mono=True)
    x, y = 190, 210
    d.text((SIZE[0] // 2, y), "QUILLFEATHER ROBOTICS, INC.", font=big, fill=20, anchor="mm")
    d.text((SIZE[0] // 2, y + 72), "INTERNAL MEMORANDUM", font=bold, fill=20, anchor="mm")
    y += 190
    for label, value in HEADER:
        d.text((x, y), label, font=bold, fill=25)
        d.text((x + 220, y), value, font=body, fill=25)
        y += 64
    d.line((x, y + 10, SIZE[0] - x, y + 10), fill=40, width=4)
    y += 70
    for para in BODY:
        for line in textwrap.wrap(para, width=54):
            d.text((x, y), line, font=body, fill=25)
            y += 58
        y += 40
    y += 30
    for line in CLOSING:
        d.text((x, y), line, font=body, fill=25)
        y += 58
    if y >= TEXT_BOTTOM:
        raise ValueError(f"memo text ends at {y}px, below TEXT_BOTTOM={TEXT_BOTTOM}")
    return sheet


def _age(sheet: Image.Image, rng: random.Random) -> Image.Image:
    w, h = SIZE
    sheet = sheet.rotate(0.8, resample=Image.Resampling.BICUBIC, fillcolor=255)
    # Blotchy low-frequency tint plus fine grain: paper is never flat white.
    blotch = Image.frombytes("L", (w // 40, h // 40), rng.randbytes((w // 40) * (h // 40)))
    blotch = blotch.resize(SIZE, Image.Resampling.BICUBIC).point(lambda v: 234 + v * 12 // 255)
    grain = Image.frombytes("L", SIZE, rng.randbytes(w * h)).point(lambda v: 255 - v * 22 // 255)
    paper = ImageChops.multiply(blotch, grain)
    shadow = Image.linear_gradient("L").rotate(90).resize((70, h)).point(lambda v: 150 + v * 105 // 255)
    paper.paste(ImageChops.multiply(paper.crop((0, 0, 70, h)), shadow), (0, 0))  # dark at the left edge
    page = ImageChops.multiply(sheet, paper)
    d = ImageDraw.Draw(page)
    for _ in range(140):  # dust specks, kept off the typed block so OCR reads the figures cleanly
        cx, cy, r = rng.randrange(w), rng.randrange(h), rng.choice((1, 1, 2, 2, 3))
        if 150 < cx < w - 150 and 150 < cy < TEXT_BOTTOM:
            continue
        d.ellipse((cx - r, cy - r, cx + r, cy + r), fill=rng.randrange(60, 150))
    return page.filter(ImageFilter.GaussianBlur(0.8))


def memo_jpeg() -> bytes:
    page = _age(_typed_sheet(), random.Random(SEED))
    buf = io.BytesIO()
    page.save(buf, format="JPEG", quality=60, dpi=(DPI, DPI))
    return buf.getvalue()


def build(path: Path) -> None:
    doc = pymupdf.open()
    page = doc.new_page(width=LETTER[0], height=LETTER[1])
    page.insert_image(page.rect, stream=memo_jpeg())
    save_pdf(
        doc,
        path,
        title="Scanned memo: Roof replacement over Building C (October 14, 2024)",
        author="Quillfeather Robotics, Inc.",
        subject="Fictional image-only scanned memo (DocScout sample document)",
    )

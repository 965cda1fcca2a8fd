"""Raster charts drawn with Pillow: a bar chart and a line chart, both 1000x700 px PNG bytes.

Values are printed on the bars and points so a vision model (and a human) can read exact
figures off the image; the report PDF embeds these same bytes with page.insert_image.
"""

from __future__ import annotations

import io
import math

from PIL import Image, ImageDraw

from .common import pil_font

SIZE = (1000, 700)
PLOT = (120, 110, 950, 580)  # left, top, right, bottom of the plotting area
GRID = (225, 225, 225)
INK = (40, 40, 40)


def _nice_top(value: float, steps: int = 5) -> tuple[float, float]:
    """An axis maximum slightly above `value` that divides into `steps` round ticks."""
    raw = value * 1.12 / steps
    magnitude = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        if raw <= factor * magnitude:
            step = factor * magnitude
            return step * steps, step
    return raw * steps, raw


def _fmt_tick(v: float) -> str:
    return f"{v:g}"


def _frame(title: str, subtitle: str, xlabel: str, ylabel: str, top: float, step: float) -> tuple[Image.Image, ImageDraw.ImageDraw]:
    img = Image.new("RGB", SIZE, "white")
    d = ImageDraw.Draw(img)
    left, ptop, right, bottom = PLOT
    d.text((SIZE[0] // 2, 38), title, font=pil_font(30, bold=True), fill=INK, anchor="mm")
    d.text((SIZE[0] // 2, 76), subtitle, font=pil_font(18), fill=(90, 90, 90), anchor="mm")
    tick_font = pil_font(17)
    ticks = int(round(top / step))
    for i in range(ticks + 1):
        v = i * step
        y = bottom - (bottom - ptop) * v / top
        d.line((left, y, right, y), fill=GRID, width=1)
        d.text((left - 10, y), _fmt_tick(v), font=tick_font, fill=INK, anchor="rm")
    d.line((left, ptop, left, bottom), fill=INK, width=2)
    d.line((left, bottom, right, bottom), fill=INK, width=2)
    d.text(((left + right) // 2, 660), xlabel, font=pil_font(20, bold=True), fill=INK, anchor="mm")
    label = Image.new("RGB", (400, 34), "white")
    ImageDraw.Draw(label).text((200, 17), ylabel, font=pil_font(20, bold=True), fill=INK, anchor="mm")
    img.paste(label.rotate(90, expand=True), (18, (ptop + bottom) // 2 - 200))
    return img, d


def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def bar_chart(
    title: str,
    subtitle: str,
    labels: list[str],
    values: list[float],
    *,
    xlabel: str,
    ylabel: str,
    value_fmt: str,
    color: tuple[int, int, int],
) -> bytes:
    top, step = _nice_top(max(values))
    img, d = _frame(title, subtitle, xlabel, ylabel, top, step)
    left, ptop, right, bottom = PLOT
    slot = (right - left) / len(values)
    bar_w = slot * 0.58
    value_font, label_font = pil_font(20, bold=True), pil_font(19)
    for i, (label, v) in enumerate(zip(labels, values)):
        cx = left + slot * (i + 0.5)
        y = bottom - (bottom - ptop) * v / top
        d.rectangle((cx - bar_w / 2, y, cx + bar_w / 2, bottom - 1), fill=color, outline=INK)
        d.text((cx, y - 8), value_fmt.format(v), font=value_font, fill=INK, anchor="mb")
        d.text((cx, bottom + 12), label, font=label_font, fill=INK, anchor="mt")
    return _png(img)


def line_chart(
    title: str,
    subtitle: str,
    labels: list[str],
    values: list[float],
    *,
    xlabel: str,
    ylabel: str,
    color: tuple[int, int, int],
) -> bytes:
    top, step = _nice_top(max(values))
    img, d = _frame(title, subtitle, xlabel, ylabel, top, step)
    left, ptop, right, bottom = PLOT
    slot = (right - left) / len(values)
    points = [
        (left + slot * (i + 0.5), bottom - (bottom - ptop) * v / top) for i, v in enumerate(values)
    ]
    d.line(points, fill=color, width=4, joint="curve")
    value_font, label_font = pil_font(16, bold=True), pil_font(17)
    for (x, y), label, v in zip(points, labels, values):
        d.ellipse((x - 6, y - 6, x + 6, y + 6), fill=color, outline=INK)
        d.text((x, y - 12), f"{v:g}", font=value_font, fill=INK, anchor="mb")
        d.text((x, bottom + 12), label, font=label_font, fill=INK, anchor="mt")
    return _png(img)

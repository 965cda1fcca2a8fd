"""Text for images: Tesseract (through PyMuPDF's OCR) over chart and figure images, so that an
image can be found by full-text search and read by a text-only model.

A chart's words alone lose what a reader sees at once: which value sits over which label. OCR
returns "$31.2M" and "Q1 2024" as separate words at their places; `image_text` keeps the lines
in reading order and, when the image has a row of labels under a plot with values above them
(bar and line charts with value labels), puts one line per label with the values over it in
place of the rows of bare values (a column "$43.2M $38.4M ..." over a row of labels reads, to a
small model, as if the first value went with the first label):

    Text read from the image by OCR:
    Quillfeather Robotics - Revenue by Quarter, FY2024
    ...
    Values over each label (read by their position):
    Q1 2024: $31.2M
    ...

Axis ticks (a column of numbers with aligned right edges) are not values, and whatever lies left
of them (a rotated axis title, read by Tesseract as noise) is dropped. Charts with categories on
the vertical axis, pies and legends get their words only.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from functools import lru_cache
from statistics import median

import pymupdf

MAX_OCR_SIDE = 2400  # pixels: small labels of a chart stay legible, a photo stays quick
HEADER = "Text read from the image by OCR:"
FIGURE_HEADER = "Text read from a figure on this page by OCR:"
VALUES = "Values over each label (read by their position):"
_NUMBER = re.compile(r"^[(]?[-+]?[$€£¥]?\d[\d,]*(?:\.\d+)?(?:[%kKmMbB]|bn)?[)]?$")
MIN_TICKS = 3  # numbers with aligned right edges, from which they are an axis's ticks
ALIGNED = 4.0  # points


@dataclass(frozen=True, slots=True)
class Word:
    x0: float
    y0: float
    x1: float
    y1: float
    text: str

    @property
    def centre(self) -> float:
        return (self.x0 + self.x1) / 2


@lru_cache(maxsize=1)
def tessdata() -> str | None:
    """Tesseract's language folder, or None when Tesseract is not installed."""
    if shutil.which("tesseract") is None:
        return None
    try:
        return pymupdf.get_tessdata()  # asks `tesseract --list-langs`, once per process
    except Exception:
        return None


def image_words(data: bytes, language: str = "eng", zoom: float = 2.0) -> list[Word]:
    """The words Tesseract reads in an encoded image (PNG or JPEG), with their boxes (in the
    image's pixels). Read at `zoom` times the image's size, its longer side at most
    `MAX_OCR_SIDE` (Tesseract's time grows with the pixels it reads)."""
    with pymupdf.open(stream=data) as image, pymupdf.open("pdf", image.convert_to_pdf()) as pdf:
        page = pdf[0]
        scale = min(zoom, MAX_OCR_SIDE / max(page.rect.width, page.rect.height, 1))
        textpage = page.get_textpage_ocr(language=language, dpi=round(72 * scale), full=True,
                                         tessdata=tessdata())
        return [Word(x0, y0, x1, y1, text)
                for x0, y0, x1, y1, text, *_ in page.get_text("words", textpage=textpage)]


def image_text(data: bytes, language: str = "eng", header: str = HEADER,
               zoom: float = 2.0) -> str:
    """What an image says, for search and text-only models ("" when it holds no words)."""
    return chart_text(image_words(data, language, zoom), header)


def chart_text(words: list[Word], header: str = HEADER) -> str:
    """OCR words as text under `header`: their lines in reading order, then the values over each
    label when the words look like a labelled chart (see the module docstring)."""
    ticks = _ticks(words)
    kept = [w for w in words if w not in ticks and not _beside_axis(w, ticks)]
    if not kept and not ticks:
        return ""
    pairs, placed = _values_by_label(kept)
    lines = [" ".join(w.text for w in row) for row in _rows(kept)
             if not all(w in placed for w in row)]  # bare values: they come with their labels
    if ticks:
        lines.append("Axis ticks: " + ", ".join(w.text for w in sorted(ticks, key=lambda w: -w.y0)))
    if pairs:
        lines += [VALUES, *(f"{label}: {values}" for label, values in pairs)]
    return "\n".join([header, *lines])


def _beside_axis(word: Word, ticks: list[Word]) -> bool:
    """Left of an axis's ticks and within their height: its title, which Tesseract reads
    rotated as noise ("mn", "=", "2g")."""
    if not ticks:
        return False
    centre = (word.y0 + word.y1) / 2
    return (word.x1 <= min(w.x0 for w in ticks) + ALIGNED
            and min(w.y0 for w in ticks) <= centre <= max(w.y1 for w in ticks))


def _rows(words: list[Word]) -> list[list[Word]]:
    """Words in visual rows, top to bottom, each left to right: a word joins a row when its
    middle is within half a word's height of the row's (Tesseract's own lines split a chart's
    axis labels, far apart, into lines of their own)."""
    rows: list[list[Word]] = []
    for word in sorted(words, key=lambda w: (w.y0 + w.y1) / 2):
        middle, height = (word.y0 + word.y1) / 2, word.y1 - word.y0
        if rows and abs(middle - _middle(rows[-1])) <= height / 2:
            rows[-1].append(word)
        else:
            rows.append([word])
    return [sorted(row, key=lambda w: w.x0) for row in rows]


def _middle(row: list[Word]) -> float:
    return median((w.y0 + w.y1) / 2 for w in row)


def _ticks(words: list[Word]) -> list[Word]:
    """The biggest set of numbers whose right edges align (an axis's tick labels), if any."""
    numbers = [w for w in words if _NUMBER.match(w.text)]
    best: list[Word] = []
    for anchor in numbers:
        column = [w for w in numbers if abs(w.x1 - anchor.x1) <= ALIGNED]
        if len(column) > len(best) and len({round(w.y0) for w in column}) == len(column):
            best = column
    return best if len(best) >= MIN_TICKS else []


def _labels(line: list[Word]) -> list[list[Word]]:
    """A row's words split where the gap is wider than the row's height: the labels of a
    category axis ("Q1 2024", "Q2 2024") are far apart, a label's words a space apart."""
    height = median(w.y1 - w.y0 for w in line)
    groups = [[line[0]]]
    for before, word in zip(line, line[1:]):
        if word.x0 - before.x1 > height:
            groups.append([word])
        else:
            groups[-1].append(word)
    return groups


def _values_by_label(words: list[Word]) -> tuple[list[tuple[str, str]], list[Word]]:
    """(label, values) for a row of at least two labels under numbers, and the value words
    placed; ([], []) when there is none. Values are numbers in rows of numbers only (a title's
    or a note's figures are not)."""
    rows = _rows(words)
    numbers = [w for row in rows if all(_NUMBER.match(w.text) for w in row) for w in row]
    for line in reversed(rows):  # the category axis is the lowest row of labels
        labels = _labels(line)
        if len(labels) < 2 or all(_NUMBER.match(w.text) for w in line):
            continue
        top = min(w.y0 for w in line)
        centres = [(g[0].x0 + g[-1].x1) / 2 for g in labels]
        reach = min(b - a for a, b in zip(centres, centres[1:])) / 2
        over: dict[int, list[Word]] = {}
        for word in numbers:
            if word.y1 <= top:
                nearest = min(range(len(labels)), key=lambda i: abs(centres[i] - word.centre))
                if abs(centres[nearest] - word.centre) < reach:
                    over.setdefault(nearest, []).append(word)
        if len(over) < 2:
            return [], []
        pairs = [(" ".join(w.text for w in labels[i]),
                  ", ".join(w.text for w in sorted(over[i], key=lambda w: w.y0)))
                 for i in sorted(over)]
        return pairs, [w for placed in over.values() for w in placed]
    return [], []

"""Shared helpers: Pillow font lookup, a tiny PDF text-flow writer, and deterministic saving.

PDF text uses the base-14 fonts (Helvetica, Times, Courier) so nothing is embedded and the
files stay small. Pillow drawings use DejaVu when the machine has it and Pillow's built-in
scalable font otherwise, so the script runs anywhere (pixels then differ slightly).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pymupdf
from PIL import ImageFont

LETTER = (612, 792)  # US Letter in PDF points
FIXED_DATE = "D:20250115090000Z"  # every PDF claims the same creation time, for byte-identical reruns

_FONT_DIRS = [Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu")]


def pil_font(size: int, *, bold: bool = False, mono: bool = False) -> ImageFont.FreeTypeFont:
    """DejaVu at `size` pixels if installed, else Pillow's bundled font at the same size."""
    name = "DejaVuSansMono" if mono else "DejaVuSans"
    name += "-Bold.ttf" if bold else ".ttf"
    for folder in _FONT_DIRS:
        if (folder / name).exists():
            return ImageFont.truetype(str(folder / name), size)
    return ImageFont.load_default(size=size)


def pil_font_name() -> str:
    """Which font family pil_font() resolves to on this machine (for the README and report)."""
    found = any((d / "DejaVuSans.ttf").exists() for d in _FONT_DIRS)
    return "DejaVu Sans / DejaVu Sans Mono" if found else "Pillow built-in default font"


def wrap(text: str, width: float, fontname: str, fontsize: float) -> list[str]:
    """Greedy word wrap measured with the PDF font's real glyph widths."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        trial = f"{current} {word}".strip()
        if pymupdf.get_text_length(trial, fontname=fontname, fontsize=fontsize) <= width:
            current = trial
        else:
            lines.append(current)
            current = word
    if current:
        lines.append(current)
    return lines


@dataclass
class Flow:
    """Writes headings and paragraphs down one page, tracking the baseline position `y`."""

    page: pymupdf.Page
    y: float = 72.0
    left: float = 72.0
    right: float = 540.0
    body_font: str = "helv"
    bold_font: str = "hebo"
    size: float = 10.5
    bottom: float = 742.0  # the footer rule sits at 752

    @property
    def width(self) -> float:
        return self.right - self.left

    def _advance(self, dy: float) -> None:
        self.y += dy
        if self.y > self.bottom:
            raise ValueError(f"text runs past the bottom margin on page {self.page.number + 1}")

    def heading(self, text: str, size: float = 14.0, gap_before: float = 10.0) -> None:
        self._advance(gap_before + size)
        self.page.insert_text((self.left, self.y), text, fontname=self.bold_font, fontsize=size)
        self.y += size * 0.6

    def paragraph(self, text: str, *, indent: float = 0.0, gap_after: float = 7.0) -> None:
        leading = self.size * 1.38
        for line in wrap(text, self.width - indent, self.body_font, self.size):
            self._advance(leading)
            self.page.insert_text(
                (self.left + indent, self.y), line, fontname=self.body_font, fontsize=self.size
            )
        self.y += gap_after

    def labelled(self, label: str, text: str, *, gap_after: float = 6.0) -> None:
        """A paragraph that starts with a bold run, e.g. a clause number and its title."""
        leading = self.size * 1.38
        label_w = pymupdf.get_text_length(label + " ", fontname=self.bold_font, fontsize=self.size)
        first, *rest = wrap(text, self.width - label_w, self.body_font, self.size) or [""]
        self._advance(leading)
        self.page.insert_text((self.left, self.y), label, fontname=self.bold_font, fontsize=self.size)
        self.page.insert_text(
            (self.left + label_w, self.y), first, fontname=self.body_font, fontsize=self.size
        )
        remaining = " ".join(rest)
        for line in wrap(remaining, self.width, self.body_font, self.size) if remaining else []:
            self._advance(leading)
            self.page.insert_text((self.left, self.y), line, fontname=self.body_font, fontsize=self.size)
        self.y += gap_after


def footer(page: pymupdf.Page, left_text: str, number: int, total: int) -> None:
    page.draw_line((72, 752), (540, 752), color=(0.6, 0.6, 0.6), width=0.5)
    page.insert_text((72, 766), left_text, fontname="helv", fontsize=8, color=(0.35, 0.35, 0.35))
    label = f"Page {number} of {total}"
    w = pymupdf.get_text_length(label, fontname="helv", fontsize=8)
    page.insert_text((540 - w, 766), label, fontname="helv", fontsize=8, color=(0.35, 0.35, 0.35))


def save_pdf(doc: pymupdf.Document, path: Path, *, title: str, author: str, subject: str) -> None:
    """Fixed metadata and no fresh file id, so two runs write the same bytes."""
    doc.set_metadata(
        {
            "title": title,
            "author": author,
            "subject": subject,
            "creator": "DocScout sample_docs/make_samples.py",
            "producer": "PyMuPDF",
            "creationDate": FIXED_DATE,
            "modDate": FIXED_DATE,
        }
    )
    doc.save(path, garbage=4, deflate=True, no_new_id=True)
    doc.close()

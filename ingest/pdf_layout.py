"""Page layout for the PDF parser: reading order and ruled tables, from one MuPDF text pass.

`Scan` is what the parser collects from a page: text blocks, raster boxes and vector boxes, in a
frame where the text runs left to right. From it, `grids` finds ruled tables (crossing ruling
lines), `blocks_with_tables` fills their cells from MuPDF's words and puts each table, as
Markdown, where it stands on the page, and `reading_order` orders the blocks by recursive XY-cuts.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass

Box = tuple[float, float, float, float]
Block = tuple[Box, str]

THIN = 2.0  # points: a rectangle this thin is a ruling line
_MIN_RULE = 3.0  # points: shorter strokes are no table rules
_SNAP = 3.0  # points: rules this close are one grid line
_MAX_CELL_WORDS = 60  # a "cell" holding more is a frame around text, not a table cell


@dataclass(frozen=True, slots=True)
class Vector:
    box: Box
    filled: bool
    rgb: tuple[int, int, int]
    is_rect: bool  # rectangles and straight lines; curves and polygons are not


@dataclass(slots=True)
class Scan:
    """One text pass over a page, in a frame where its text runs left to right."""

    area: float
    texts: list[Block]
    images: list[Box]
    vectors: list[Vector]



def area(b: Box) -> float:
    return max(0.0, b[2] - b[0]) * max(0.0, b[3] - b[1])



def direction(words: list) -> tuple[int, int]:
    """The page's main text direction, from the steps between neighbouring words of a line."""
    dx = dy = 0.0
    for a, b in zip(words, words[1:]):
        if a[5:7] == b[5:7]:
            dx += (b[0] + b[2] - a[0] - a[2]) / 2
            dy += (b[1] + b[3] - a[1] - a[3]) / 2
    if abs(dy) > abs(dx):
        return (0, 1) if dy > 0 else (0, -1)
    return (-1, 0) if dx < 0 else (1, 0)


def to_frame(scan: Scan, words: list, d: tuple[int, int]) -> list:
    """Turn the scan (in place) and the words so that text runs along d becomes left to right."""
    # 2026-11-23: rotated pages may write their text along the page's y axis
    # (senate-expenditures.pdf, issue-140-example.pdf: /Rotate 90 and upward text), while
    # nics-background-checks-2015-11-rotated.pdf rotates upright text: the words decide.

    def turn(b: Box) -> Box:  # u along d, v along its normal (-d.y, d.x)
        us = (b[0] * d[0] + b[1] * d[1], b[2] * d[0] + b[3] * d[1])
        vs = (b[1] * d[0] - b[0] * d[1], b[3] * d[0] - b[2] * d[1])
        return (min(us), min(vs), max(us), max(vs))

    scan.texts = [(turn(b), t) for b, t in scan.texts]
    scan.images = [turn(b) for b in scan.images]
    scan.vectors = [Vector(turn(v.box), v.filled, v.rgb, v.is_rect) for v in scan.vectors]
    return [(*turn(w[:4]), *w[4:]) for w in words]



# --- ruled tables -------------------------------------------------------------------------------
# 2026-11-23: PyMuPDF's find_tables() costs 100-2000 ms a page here (pymupdf_layout, which
# pymupdf4llm pulls in, adds an ONNX layout model to it; without it, 10-450 ms of per-character
# Python), against ~2 ms for the page's text, and half the corpus pages carry ruled tables. So
# tables come from the ruling lines this pass already has, their cells from MuPDF's words.


def grids(scan: Scan) -> list[tuple[list[float], list[float]]]:
    """(column x's, row y's) of each set of crossing rules outlining at least 2x2 cells,
    smallest first."""
    horizontal, vertical = _rules(scan.vectors)
    parent = list(range(len(horizontal) + len(vertical)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    xs = [v[0] for v in vertical]
    for i, (y, x0, x1) in enumerate(horizontal):
        for j in range(bisect_left(xs, x0 - _SNAP), bisect_right(xs, x1 + _SNAP)):
            if vertical[j][1] - _SNAP <= y <= vertical[j][2] + _SNAP:
                parent[root(i)] = root(len(horizontal) + j)
    groups: dict[int, tuple[set[float], set[float]]] = {}
    for i, (y, _, _) in enumerate(horizontal):
        groups.setdefault(root(i), (set(), set()))[1].add(y)
    for j, x in enumerate(xs):
        groups.setdefault(root(len(horizontal) + j), (set(), set()))[0].add(x)
    grids = [(sorted(c), sorted(r)) for c, r in groups.values() if len(c) >= 3 and len(r) >= 3]
    return sorted(grids, key=lambda g: (g[0][-1] - g[0][0]) * (g[1][-1] - g[1][0]))


def _rules(vectors: list[Vector]) -> tuple[list, list]:
    """Horizontal (y, x0, x1) and vertical (x, y0, y1) rules from lines and rectangle edges,
    merged where collinear, each sorted by position."""
    horizontal, vertical = [], []
    for v in vectors:
        x0, y0, x1, y1 = v.box
        if not v.is_rect or max(x1 - x0, y1 - y0) < _MIN_RULE:
            continue
        if y1 - y0 <= THIN:
            horizontal.append(((y0 + y1) / 2, x0, x1))
        elif x1 - x0 <= THIN:
            vertical.append(((x0 + x1) / 2, y0, y1))
        else:
            horizontal += [(y0, x0, x1), (y1, x0, x1)]
            vertical += [(x0, y0, y1), (x1, y0, y1)]
    return _merge(horizontal), _merge(vertical)


def _merge(segments: list[tuple[float, float, float]]) -> list[tuple[float, float, float]]:
    merged: list[list[float]] = []
    for pos, a, b in sorted(segments):
        for seg in reversed(merged):  # an earlier rule within _SNAP that this one touches
            if pos - seg[0] > _SNAP:
                merged.append([pos, a, b])
                break
            if a <= seg[2] + _SNAP and b >= seg[1] - _SNAP:
                seg[1], seg[2] = min(seg[1], a), max(seg[2], b)
                break
        else:
            merged.append([pos, a, b])
    return sorted((pos, a, b) for pos, a, b in merged)


def blocks_with_tables(scan: Scan, words: list, grids: list) -> list[Block]:
    """One block per table, plus the text blocks rebuilt from the words no table took."""
    taken = [False] * len(words)
    tables = [(xs, ys, _fill(xs, ys, words, taken)) for xs, ys in grids]
    blocks = [((xs[0], ys[0], xs[-1], ys[-1]), md) for xs, ys, md in tables if md is not None]
    if not blocks:
        return scan.texts
    by_block: dict[int, dict[int, list]] = {}
    for word, used in zip(words, taken):
        if not used:
            by_block.setdefault(word[5], {}).setdefault(word[6], []).append(word)
    for lines in by_block.values():
        flat = [w for line in lines.values() for w in line]
        box = (min(w[0] for w in flat), min(w[1] for w in flat),
               max(w[2] for w in flat), max(w[3] for w in flat))  # fmt: skip
        blocks.append((box, "\n".join(" ".join(w[4] for w in line) for line in lines.values())))
    return blocks


def _fill(xs: list[float], ys: list[float], words: list, taken: list[bool]) -> str | None:
    """The grid as Markdown with the words whose centre lies in it, or None if it is no table:
    fewer than two non-empty rows or columns, or cells the size of paragraphs."""
    grid: dict[int, dict[int, list[int]]] = {}
    for i, w in enumerate(words):
        cx, cy = (w[0] + w[2]) / 2, (w[1] + w[3]) / 2
        if not taken[i] and xs[0] <= cx <= xs[-1] and ys[0] <= cy <= ys[-1]:
            row = min(bisect_right(ys, cy), len(ys) - 1) - 1
            col = min(bisect_right(xs, cx), len(xs) - 1) - 1
            grid.setdefault(row, {}).setdefault(col, []).append(i)
    rows = [sub for r in sorted(grid) for sub in _text_rows(grid[r], words)]
    cols = sorted({c for row in rows for c in row})
    if len(rows) < 2 or len(cols) < 2:
        return None
    if max(len(cell) for row in rows for cell in row.values()) > _MAX_CELL_WORDS:
        return None
    for row in rows:
        for i in (i for cell in row.values() for i in cell):
            taken[i] = True

    def line(row: dict[int, list[int]]) -> str:
        cells = (" ".join(words[i][4] for i in row.get(c, ())).replace("|", "\\|") for c in cols)
        return "| " + " | ".join(cells) + " |"

    return "\n".join([line(rows[0]), "|" + " --- |" * len(cols), *map(line, rows[1:])])


def _text_rows(row: dict[int, list[int]], words: list) -> list[dict[int, list[int]]]:
    """A grid row split at its text lines when it holds several short table rows (rules only
    every few rows, as in nics-background-checks-2015-11.pdf) rather than wrapped text."""
    members = [i for cell in row.values() for i in cell]
    centres = sorted({(words[i][1] + words[i][3]) / 2 for i in members})
    height = min(words[i][3] - words[i][1] for i in members)
    cuts = [(a + b) / 2 for a, b in zip(centres, centres[1:]) if b - a > height / 2]
    if not cuts:
        return [row]
    lines = {i: bisect_right(cuts, (words[i][1] + words[i][3]) / 2) for i in members}
    spans = [{lines[i] for i in cell} for cell in row.values()]
    full = sum(len(span) == len(cuts) + 1 for span in spans)
    split = [{} for _ in range(len(cuts) + 1)]
    for c, cell in row.items():
        for i in cell:
            split[lines[i]].setdefault(c, []).append(i)
    if full < 2 or full * 2 < len(spans) or max(len(c) for sub in split for c in sub.values()) > 4:
        return [row]
    return split


# --- reading order ------------------------------------------------------------------------------


def reading_order(blocks: list[Block]) -> list[Block]:
    """Recursive XY-cut. Columns left to right, unless their blocks pair up row by row (a form,
    an unruled table); then bands top to bottom, where neighbouring bands that continue the same
    columns are read as one (two columns whose paragraph gaps happen to line up)."""
    if len(blocks) <= 1 or len(blocks) > 2000:
        return sorted(blocks, key=lambda b: (b[0][1], b[0][0]))
    columns = _split(blocks, 0)
    if len(columns) > 1 and not _rows_align(columns):
        return [b for group in columns for b in reading_order(group)]
    bands = _merge_columnar(_split(blocks, 1))
    if len(bands) > 1:
        return [b for group in bands for b in reading_order(group)]
    if len(columns) > 1:
        return [b for group in columns for b in reading_order(group)]
    return sorted(blocks, key=lambda b: (b[0][1], b[0][0]))


def _split(blocks: list[Block], axis: int) -> list[list[Block]]:
    """Groups separated by an empty strip across x (axis 0) or y (axis 1)."""
    groups: list[list[Block]] = []
    end = float("-inf")
    for block in sorted(blocks, key=lambda b: b[0][axis]):
        if block[0][axis] >= end:
            groups.append([])
        groups[-1].append(block)
        end = max(end, block[0][axis + 2])
    return groups


def _rows_align(columns: list[list[Block]]) -> bool:
    """Whether most blocks of two neighbouring columns have a partner of equal top and bottom."""
    for left, right in zip(columns, columns[1:]):
        small, large = sorted((left, right), key=len)
        hits = sum(
            any(abs(b[0][1] - o[0][1]) <= 3 and abs(b[0][3] - o[0][3]) <= 3 for o in large)
            for b in small
        )
        if hits * 2 >= len(small):
            return True
    return False


def _merge_columnar(bands: list[list[Block]]) -> list[list[Block]]:
    """Join each band to the group above while none of its blocks crosses that group's column
    gutters; a band of rows (a form) or a block across a gutter starts a new group."""
    merged: list[list[Block]] = []
    gutters: list[tuple[float, float]] = []  # free x-strips of the group being built
    for band in bands:
        columns = _split(band, 0)
        if len(columns) > 1 and _rows_align(columns):
            merged.append(list(band))
            gutters = []
            continue
        kept = [g for g in gutters if not any(b[0][0] < g[1] and b[0][2] > g[0] for b in band)]
        if kept:
            merged[-1].extend(band)
            gutters = kept
        else:
            merged.append(list(band))
            pairs = zip(columns, columns[1:])
            gutters = [(max(b[0][2] for b in a), min(b[0][0] for b in c)) for a, c in pairs]
    return merged

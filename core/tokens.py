"""Exact Llama 4 Scout token counts, without loading a model.

Text: tiktoken over Meta's `tokenizer.model` from the `llama-models` package (the same BPE ranks
and o200k-style split pattern vLLM ends up using; DESIGN.md section 4 measured them equal).

Images: Llama 4 cuts an image into 336-px tiles on the best-fitting canvas of at most 16 tiles, and
adds one global tile when there is more than one. Each tile costs 144 patch tokens (24x24 patches
of 14 px, pixel-shuffled by 0.5 in each direction), plus separators:

    <|image_start|> [rows of tiles: patches, <|tile_x_separator|> between tiles,
    <|tile_y_separator|> after each row]  <|image|> <global patches> <|image_end|>

so 1 tile -> 147 tokens, 3x3 -> 1452, 4x4 -> 2467.
"""

from __future__ import annotations

import math
from functools import lru_cache

TILE = 336
PATCH = 14
PIXEL_SHUFFLE_RATIO = 0.5
PATCHES_PER_TILE = int((TILE // PATCH) ** 2 * PIXEL_SHUFFLE_RATIO**2)  # 144
MAX_TILES = 16


@lru_cache(maxsize=1)
def llama4_encoding():
    """tiktoken over Meta's tokenizer.model: the Llama 4 BPE, shared with engine.tokenizer."""
    # Imported lazily: loading the 200k BPE ranks takes ~0.4 s, and only token counting needs it.
    from llama_models.llama4.tokenizer import Tokenizer

    return Tokenizer.get_instance().model


def count_text_tokens(text: str) -> int:
    """Tokens the Llama 4 tokenizer produces for `text`, special-token look-alikes read as text."""
    if not text:
        return 0
    return len(llama4_encoding().encode_ordinary(text))


def count_text_tokens_batch(texts: list[str], threads: int = 2) -> list[int]:
    """`count_text_tokens` for many texts at once, on `threads` threads (tiktoken's BPE releases
    the GIL): a codebase's thousands of files tokenize on every core."""
    if len(texts) < 2 or threads < 2:
        return [count_text_tokens(t) for t in texts]
    return [len(ids) for ids in llama4_encoding().encode_ordinary_batch(texts, num_threads=threads)]


@lru_cache(maxsize=None)
def supported_canvases(max_tiles: int = MAX_TILES) -> tuple[tuple[int, int], ...]:
    """(rows, cols) tile grids Llama 4 can use, in the order its processor lists them:
    tile counts from max_tiles down to 1, grids with the same aspect ratio grouped together."""
    by_ratio: dict[float, list[tuple[int, int]]] = {}
    for count in range(max_tiles, 0, -1):
        for rows in sorted(d for d in range(1, count + 1) if count % d == 0):
            by_ratio.setdefault(rows / (count // rows), []).append((rows, count // rows))
    return tuple(grid for grids in by_ratio.values() for grid in grids)


def best_canvas(width: int, height: int, max_tiles: int = MAX_TILES) -> tuple[int, int]:
    """The (rows, cols) grid Llama 4 picks for an image: the smallest upscale that fits, else the
    mildest downscale; among equal scales, the smallest canvas."""
    grids = supported_canvases(max_tiles)
    scales = [min(rows * TILE / height, cols * TILE / width) for rows, cols in grids]
    upscales = [s for s in scales if s >= 1]
    chosen = min(upscales) if upscales else max(scales)
    candidates = [g for g, s in zip(grids, scales) if s == chosen]
    return min(candidates, key=lambda g: g[0] * g[1])


def image_tokens_for_grid(rows: int, cols: int) -> int:
    tokens = 3 + PATCHES_PER_TILE  # <|image_start|>, <|image|>, global-or-only tile, <|image_end|>
    if rows * cols > 1:
        tokens += rows * cols * PATCHES_PER_TILE + rows * (cols - 1) + rows
    return tokens


def count_image_tokens(width: int, height: int, max_tiles: int = MAX_TILES) -> int:
    """Prompt tokens Llama 4 spends on one image of this size."""
    if width <= 0 or height <= 0:
        raise ValueError(f"image size must be positive, got {width}x{height}")
    return image_tokens_for_grid(*best_canvas(width, height, max_tiles))


def useful_size(width: int, height: int, max_tiles: int = MAX_TILES) -> tuple[int, int]:
    """The size Llama 4's processor resizes a width x height image to before tiling: scaled down
    (never up) to fit its canvas, aspect ratio kept. Storing more pixels than this buys nothing.
    Stored at this size the image never costs more tokens, and sometimes fewer: a canvas chosen
    by downscaling can be larger than the image then needs (5x3 tiles for a page that fills 4x3).
    """
    rows, cols = best_canvas(width, height, max_tiles)
    canvas_w, canvas_h = cols * TILE, rows * TILE
    if width <= canvas_w and height <= canvas_h:
        return width, height
    scale_w, scale_h = canvas_w / width, canvas_h / height
    if scale_w < scale_h:
        return canvas_w, max(1, min(math.floor(height * scale_w), canvas_h))
    return max(1, min(math.floor(width * scale_h), canvas_w)), canvas_h

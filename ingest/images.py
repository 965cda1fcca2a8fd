"""Images (PNG, JPEG, WebP, GIF, TIFF, BMP) normalised into what Llama 4 Scout reads.

Decompression bombs: the size is read from the header (Image.open decodes nothing) and refused
above settings.max_image_pixels before any pixel is decoded; Pillow's own guard is set to the same
limit as a second line (it raises at twice the limit, inside Image.open, before we see the size).
Then: first frame only (animated GIF/WebP), EXIF orientation applied, transparency composited onto
white, 16-bit and float images rescaled to 8 bits, RGB. The image is downscaled (LANCZOS) to
`useful_size`, the largest size Scout's tiling uses, so the token count is unchanged and nothing
is stored that the model cannot see. JPEG files are decoded at a reduced DCT scale when much
larger than that (Pillow's draft mode), which makes big photos cheap.
Encoding: PNG (lossless: charts and screenshots stay sharp), unless JPEG at quality 90 is less
than half its size, which is the case for photos; the sha256 is over the encoded bytes.
"""

from __future__ import annotations

import io
import warnings
from pathlib import PurePosixPath
from typing import cast

from PIL import Image as PILImage
from PIL import ImageOps, UnidentifiedImageError

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
from core.tokens import count_image_tokens, count_text_tokens, useful_size
from ingest.base import FileInput, sha256_bytes
from ingest.detect import HEAD_BYTES, describe_content
from ingest.ocr import image_text, tessdata

FORMATS = ("PNG", "JPEG", "WEBP", "GIF", "TIFF", "BMP")
JPEG_QUALITY = 90
JPEG_MAX_FRACTION = 0.5  # JPEG is kept only when at most this fraction of the PNG's size
_SWAPS_AXES = {5, 6, 7, 8}  # EXIF orientations that rotate by 90 degrees
_EXIF_ORIENTATION = 0x0112


def _bomb_message(width: int, height: int, settings: Settings) -> str:
    return (
        f"image too large: {width}x{height} pixels exceeds the limit of "
        f"{settings.max_image_pixels} (possible decompression bomb)"
    )


def _pillow_bomb_message(settings: Settings) -> str:
    return (
        f"image too large: more than twice the limit of {settings.max_image_pixels} pixels "
        "(possible decompression bomb)"
    )


_FORMAT_BY_EXT = {"png": "PNG", "jpg": "JPEG", "jpeg": "JPEG", "gif": "GIF", "webp": "WebP",
                  "tif": "TIFF", "tiff": "TIFF", "bmp": "BMP"}


def _not_an_image(name: str, data: bytes) -> str:
    """"not a PNG: the content looks like a HEIC image (...)": the format the name promised, and
    what the bytes are instead (Pillow's own message only names its buffer)."""
    promised = _FORMAT_BY_EXT.get(name.rsplit(".", 1)[-1].lower(), "readable image")
    return (f"not a {promised}: the content looks like {describe_content(data[:HEAD_BYTES])}; "
            "DocScout reads PNG, JPEG, GIF, WebP, TIFF and BMP images")


def _open(data: bytes, name: str, settings: Settings) -> PILImage.Image:
    """Open lazily (header only) and refuse oversized images before anything is decoded."""
    PILImage.MAX_IMAGE_PIXELS = settings.max_image_pixels
    try:
        with warnings.catch_warnings():
            # Our own check below names the size; Pillow's warning would only repeat it.
            warnings.simplefilter("ignore", PILImage.DecompressionBombWarning)
            image = PILImage.open(io.BytesIO(data), formats=FORMATS)
    except PILImage.DecompressionBombError as exc:
        raise IngestError(name, _pillow_bomb_message(settings)) from exc
    except UnidentifiedImageError as exc:  # Pillow's message only names its buffer
        raise IngestError(name, _not_an_image(name, data)) from exc
    except (OSError, ValueError, SyntaxError) as exc:
        raise IngestError(name, f"not a readable image: {exc}") from exc
    width, height = image.size
    if width * height > settings.max_image_pixels:
        image.close()
        raise IngestError(name, _bomb_message(width, height, settings))
    return image


def _oriented_size(image: PILImage.Image) -> tuple[int, int]:
    orientation = image.getexif().get(_EXIF_ORIENTATION, 1)
    width, height = image.size
    return (height, width) if orientation in _SWAPS_AXES else (width, height)


def _decode(
    image: PILImage.Image, name: str, target: tuple[int, int], settings: Settings
) -> PILImage.Image:
    """Decode the first frame, upright. `target` is the final (oriented) size, used to let a
    JPEG decode at a reduced scale that is still at least that large."""
    try:
        if image.format == "JPEG":
            width, height = image.size
            oriented = _oriented_size(image)
            raw_target = target if oriented == (width, height) else (target[1], target[0])
            image.draft("RGB", raw_target)
        image.seek(0)
        image.load()
        return ImageOps.exif_transpose(image)
    except PILImage.DecompressionBombError as exc:  # e.g. a GIF frame larger than its canvas
        raise IngestError(name, _pillow_bomb_message(settings)) from exc
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise IngestError(name, f"not a readable image: {exc}") from exc


def _to_rgb(image: PILImage.Image) -> PILImage.Image:
    """8-bit RGB; transparency is composited onto white, deep images rescaled to 0..255."""
    if image.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        image = _rescale_to_8bit(image)
    has_alpha = image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info
    if not has_alpha:
        return image.convert("RGB")
    rgba = image.convert("RGBA")
    white = PILImage.new("RGBA", rgba.size, (255, 255, 255, 255))
    return PILImage.alpha_composite(white, rgba).convert("RGB")


def _rescale_to_8bit(image: PILImage.Image) -> PILImage.Image:
    """16-bit or float greyscale: stretch the actual range to 0..255 (a plain convert clips
    everything above 255 to white)."""
    if image.mode != "F":
        image = image.convert("I")
    low, high = cast(tuple[float, float], image.getextrema())
    scale = 255.0 / (high - low) if high > low else 0.0
    return image.point(lambda v: (v - low) * scale).convert("L")


def _encode(image: PILImage.Image) -> tuple[bytes, str]:
    png = io.BytesIO()
    image.save(png, format="PNG", compress_level=6)
    jpeg = io.BytesIO()
    image.save(jpeg, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    if jpeg.tell() <= png.tell() * JPEG_MAX_FRACTION:
        return jpeg.getvalue(), "image/jpeg"
    return png.getvalue(), "image/png"


def normalize_image(data: bytes, name: str, settings: Settings) -> Image:
    """An image file's bytes as a normalised, content-addressed RGB Image.
    Raises IngestError for an unreadable image or a decompression bomb."""
    with _open(data, name, settings) as opened:
        target = useful_size(*_oriented_size(opened))
        image = _rgb_at(_decode(opened, name, target, settings), target)
    encoded, mime = _encode(image)
    width, height = image.size
    return Image(
        sha256=sha256_bytes(encoded),
        width=width,
        height=height,
        mime=mime,
        data=encoded,
        tokens=count_image_tokens(width, height),
    )


def _rgb_at(image: PILImage.Image, target: tuple[int, int]) -> PILImage.Image:
    rgb = _to_rgb(image)
    if rgb.size != target:
        rgb = rgb.resize(target, PILImage.Resampling.LANCZOS)
    return rgb


def parse_image(file: FileInput, settings: Settings) -> ParsedDocument:
    """An image file as one IMAGE document: its image segment and, when Tesseract is installed
    (and `settings.ocr`), a text segment with what OCR reads in it (ingest.ocr: a chart's
    values by label), so the image is searchable and a text-only model can read it."""
    image = normalize_image(file.data, file.name, settings)
    where = Locator(page=1)
    segments = [Segment(SegmentKind.IMAGE, file.name, where, image.tokens,
                        image_sha256=image.sha256)]
    problems = []
    if settings.ocr and tessdata() is not None:
        try:
            text = image_text(image.data, settings.ocr_language)
        except Exception as exc:  # the image itself is still stored and readable
            problems.append(f"OCR failed: {type(exc).__name__}: {exc}")
        else:
            if text:
                segments.append(Segment(SegmentKind.TEXT, text, where, count_text_tokens(text)))
    return ParsedDocument.build(
        source=file.name,
        kind=DocumentKind.IMAGE,
        sha256=file.sha256 or sha256_bytes(file.data),
        title=PurePosixPath(file.name).stem or file.name,
        segments=segments,
        images=[image],
        errors=problems,
        size_bytes=len(file.data),
    )

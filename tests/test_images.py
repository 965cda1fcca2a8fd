"""ingest/images.py: formats, orientation, transparency, bombs, and token-preserving downscale."""

from __future__ import annotations

import hashlib
import io
import random
import struct
import zlib
from pathlib import Path
from typing import Any, cast

import pytest
from PIL import Image as PILImage

from core.domain import DocumentKind, Locator, SegmentKind, Status
from core.errors import IngestError
from core.settings import Settings
from core.tokens import count_image_tokens, useful_size
from ingest.base import FileInput
from ingest.images import normalize_image, parse_image

RED, BLUE, WHITE = (255, 0, 0), (0, 0, 255), (255, 255, 255)


def encode(image: PILImage.Image, fmt: str, **options: object) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format=fmt, **options)
    return buf.getvalue()


def halves(size: tuple[int, int], left: Any, right: Any, mode: str = "RGB") -> PILImage.Image:
    image = PILImage.new(mode, size, left)
    image.paste(right, (size[0] // 2, 0, size[0], size[1]))
    return image


def stored(data: bytes) -> PILImage.Image:
    image = PILImage.open(io.BytesIO(data))
    image.load()
    return image


def near(pixel: Any, colour: tuple, tolerance: int = 40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel[:3], colour, strict=True))


def png_with_header_only(width: int, height: int) -> bytes:
    """A PNG whose IHDR declares width x height, with no real pixel data: costs ~60 bytes."""

    def chunk(tag: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b""))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(
    "fmt,options",
    [("PNG", {}), ("JPEG", {"quality": 95}), ("WEBP", {"lossless": True}), ("GIF", {}),
     ("TIFF", {}), ("BMP", {})],
)  # fmt: skip
def test_every_format(fmt: str, options: dict, settings: Settings) -> None:
    data = encode(halves((64, 48), RED, BLUE), fmt, **options)
    image = normalize_image(data, f"x.{fmt.lower()}", settings)
    assert (image.width, image.height) == (64, 48)
    assert image.tokens == count_image_tokens(64, 48) == 147
    assert image.sha256 == hashlib.sha256(image.data).hexdigest()
    decoded = stored(image.data)
    assert decoded.mode == "RGB"
    assert decoded.format == {"image/png": "PNG", "image/jpeg": "JPEG"}[image.mime]
    assert near(decoded.getpixel((5, 24)), RED) and near(decoded.getpixel((58, 24)), BLUE)


def test_exif_orientation_is_applied(settings: Settings) -> None:
    exif = PILImage.Exif()
    exif[0x0112] = 6  # stored sideways: display rotated 90 degrees clockwise
    data = encode(halves((80, 40), RED, BLUE), "JPEG", quality=95, exif=exif.tobytes())
    image = normalize_image(data, "phone.jpg", settings)
    assert (image.width, image.height) == (40, 80)
    decoded = stored(image.data)
    assert near(decoded.getpixel((20, 5)), RED)  # the left half is now on top
    assert near(decoded.getpixel((20, 75)), BLUE)


def test_exif_orientation_with_a_large_jpeg_decoded_in_draft_mode(settings: Settings) -> None:
    exif = PILImage.Exif()
    exif[0x0112] = 8
    data = encode(halves((4000, 1200), RED, BLUE), "JPEG", quality=90, exif=exif.tobytes())
    image = normalize_image(data, "big.jpg", settings)
    assert (image.width, image.height) == useful_size(1200, 4000)
    assert image.tokens == count_image_tokens(1200, 4000)


def test_transparency_is_composited_onto_white(settings: Settings) -> None:
    rgba = halves((40, 20), (0, 0, 0, 0), (255, 0, 0, 255), mode="RGBA")
    image = normalize_image(encode(rgba, "PNG"), "logo.png", settings)
    decoded = stored(image.data)
    assert decoded.getpixel((5, 10)) == WHITE
    assert decoded.getpixel((35, 10)) == RED


def test_palette_transparency_is_composited_onto_white(settings: Settings) -> None:
    palette = halves((40, 20), 0, 1, mode="P")
    palette.putpalette([0, 0, 0, 0, 0, 255] + [0] * 762)
    data = encode(palette, "GIF", transparency=0)
    decoded = stored(normalize_image(data, "icon.gif", settings).data)
    assert near(decoded.getpixel((5, 10)), WHITE, 0)
    assert near(decoded.getpixel((35, 10)), BLUE, 0)


def test_animated_gif_keeps_the_first_frame(settings: Settings) -> None:
    frames = [PILImage.new("RGB", (30, 30), colour) for colour in (RED, BLUE, (0, 255, 0))]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)
    assert getattr(PILImage.open(io.BytesIO(data)), "n_frames", 1) == 3
    decoded = stored(normalize_image(data, "anim.gif", settings).data)
    assert near(decoded.getpixel((15, 15)), RED, 0)


def test_sixteen_bit_greyscale_is_rescaled_not_clipped(settings: Settings) -> None:
    deep = PILImage.linear_gradient("L").resize((64, 64)).point(lambda v: v * 16).convert("I")
    deep = deep.convert("I;16")  # values 0..4080: a plain convert would make most of it white
    decoded = stored(normalize_image(encode(deep, "PNG"), "scan.png", settings).data)
    low, high = cast(tuple[int, int], decoded.convert("L").getextrema())
    assert low < 20 and high > 235


def test_decompression_bomb_within_twice_the_limit_names_the_size(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, workers=1, max_image_pixels=10_000)
    with pytest.raises(IngestError) as err:
        normalize_image(png_with_header_only(120, 100), "bomb.png", settings)
    # Refused from the header: the pixel data (there is none) was never decoded.
    assert err.value.message == (
        "image too large: 120x100 pixels exceeds the limit of 10000 (possible decompression bomb)"
    )


def test_decompression_bomb_far_over_the_limit(settings: Settings) -> None:
    with pytest.raises(IngestError, match=r"image too large: .*possible decompression bomb"):
        normalize_image(png_with_header_only(100_000, 100_000), "bomb.png", settings)


@pytest.mark.parametrize(
    "data,name,problem",
    [
        (b"\x89PNG\r\n\x1a\n" + b"garbage" * 20, "broken.png", "not a readable image: "),
        (b"this is not an image at all", "notes.png", "not a PNG: the content looks like text"),
        (encode(PILImage.new("RGB", (8, 8)), "PPM"), "unsupported.ppm", "not a readable image: "),
    ],
)
def test_unreadable_images(data: bytes, name: str, problem: str, settings: Settings) -> None:
    with pytest.raises(IngestError) as err:
        normalize_image(data, name, settings)
    assert err.value.message.startswith(problem)
    assert err.value.__cause__ is not None


def test_truncated_jpeg_is_unreadable(settings: Settings) -> None:
    noisy = PILImage.effect_noise((200, 200), 60).convert("RGB")
    data = encode(noisy, "JPEG", quality=90)
    with pytest.raises(IngestError, match="not a readable image"):
        normalize_image(data[: len(data) // 2], "cut.jpg", settings)


def test_downscale_never_costs_more_tokens_for_many_sizes() -> None:
    """useful_size (core/tokens.py) is what Llama 4's processor resizes to before tiling: the
    same tokens for almost every size, fewer for a few (a downscaled canvas can be larger than
    the image then needs), never more; and normalising a normalised image changes nothing."""
    rng = random.Random(4)
    sizes = [(rng.randint(1, 9000), rng.randint(1, 9000)) for _ in range(3000)]
    sizes += [(1000, 700), (1700, 2200), (2480, 3508), (336, 336), (337, 337), (10000, 50)]
    same = 0
    for width, height in sizes:
        new_w, new_h = useful_size(width, height)
        assert new_w <= width and new_h <= height
        before, after = count_image_tokens(width, height), count_image_tokens(new_w, new_h)
        assert after <= before, (width, height)
        same += after == before
        assert useful_size(new_w, new_h) == (new_w, new_h)
    assert same >= 0.99 * len(sizes)


@pytest.mark.parametrize(
    "size,tokens",
    [((1000, 700), 1452), ((1700, 2200), 2467), ((2480, 3508), 2322), ((3000, 200), 1452),
     ((150, 2900), 1452), ((5000, 5000), 2467), ((5162, 6882), 1887)],
)  # fmt: skip
def test_stored_images_are_downscaled_to_the_useful_size(
    size: tuple, tokens: int, settings: Settings
) -> None:
    data = encode(halves(size, RED, BLUE), "PNG", compress_level=1)
    image = normalize_image(data, "page.png", settings)
    assert (image.width, image.height) == useful_size(*size)
    assert image.tokens == count_image_tokens(image.width, image.height) == tokens
    assert tokens <= count_image_tokens(*size)


def test_png_for_graphics_jpeg_for_photos(settings: Settings) -> None:
    chart = normalize_image(encode(halves((900, 600), RED, BLUE), "PNG"), "chart.png", settings)
    assert chart.mime == "image/png"
    photo = PILImage.merge(
        "RGB", [PILImage.effect_noise((900, 600), s).convert("L") for s in (30, 40, 50)]
    )
    assert normalize_image(encode(photo, "PNG"), "photo.png", settings).mime == "image/jpeg"


def test_same_input_same_sha(settings: Settings) -> None:
    data = encode(halves((500, 300), RED, BLUE), "WEBP")
    assert normalize_image(data, "a.webp", settings) == normalize_image(data, "b.webp", settings)


def test_parse_image(settings: Settings) -> None:
    file = FileInput.of("scans/receipt 2024.png", encode(halves((1000, 700), RED, BLUE), "PNG"))
    parsed = parse_image(file, settings)
    doc = parsed.document
    assert (doc.kind, doc.status, doc.title, doc.source) == (
        DocumentKind.IMAGE, Status.OK, "receipt 2024", "scans/receipt 2024.png"
    )  # fmt: skip
    assert doc.sha256 == file.sha256 and doc.size_bytes == len(file.data)
    (segment,) = parsed.segments
    (image,) = parsed.images
    assert segment.kind == SegmentKind.IMAGE and segment.text == "scans/receipt 2024.png"
    assert segment.locator == Locator(page=1)
    assert segment.image_sha256 == image.sha256
    assert segment.tokens == image.tokens == doc.image_tokens == 1452

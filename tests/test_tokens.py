"""Llama 4 token math: text through Meta's tokenizer, images equal to transformers' processor."""

from __future__ import annotations

import random

import pytest

from core.tokens import (
    best_canvas,
    count_image_tokens,
    count_text_tokens,
    image_tokens_for_grid,
    useful_size,
)

# (width, height): tiny, square, the DESIGN.md reference sizes, very wide, very tall, odd ones.
SIZES = [
    (1, 1), (14, 14), (336, 336), (337, 337), (672, 336), (1000, 700), (1700, 2200),
    (2480, 3508), (5000, 20), (20, 5000), (4000, 100), (100, 4000), (1344, 1344), (1920, 1080),
    (799, 1203), (3000, 3000),
]


@pytest.fixture(scope="module")
def hf_processor():
    from engine.vllm_compat import prepare_torchvision

    prepare_torchvision()
    from transformers.models.llama4.image_processing_llama4 import Llama4ImageProcessor

    return Llama4ImageProcessor(max_patches=16, image_mean=[0.5] * 3, image_std=[0.5] * 3)


def _hf_tokens(processor, width: int, height: int) -> int:
    import torch

    out = processor(images=[torch.zeros(3, height, width, dtype=torch.uint8)], return_tensors="pt")
    rows, cols = out["aspect_ratios"][0].tolist()
    assert out["pixel_values"].shape[0] == rows * cols + (1 if rows * cols > 1 else 0)
    return image_tokens_for_grid(rows, cols)


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_image_tokens_equal_transformers_processor(hf_processor, size):
    assert count_image_tokens(*size) == _hf_tokens(hf_processor, *size)


def test_reference_counts_from_design():
    assert count_image_tokens(336, 336) == 147
    assert count_image_tokens(1000, 700) == 1452
    assert count_image_tokens(1700, 2200) == 2467
    assert count_image_tokens(2480, 3508) == 2322


def test_useful_size_keeps_what_the_model_sees_and_never_costs_more():
    rng = random.Random(7)
    sizes = SIZES + [(rng.randint(1, 9000), rng.randint(1, 9000)) for _ in range(2000)]
    for w, h in sizes:
        uw, uh = useful_size(w, h)
        rows, cols = best_canvas(w, h)
        assert uw <= w and uh <= h and uw <= cols * 336 and uh <= rows * 336
        assert useful_size(uw, uh) == (uw, uh), (w, h)  # the processor would not resize it again
        assert count_image_tokens(uw, uh) <= count_image_tokens(w, h)
    # A tall page that picks a 5x3 canvas by downscaling fills only 4x3 of it: stored at its
    # useful size it costs 12 tiles instead of 15.
    assert best_canvas(5435, 7249) == (5, 3)
    assert useful_size(5435, 7249) == (1008, 1344) and best_canvas(1008, 1344) == (4, 3)


def test_text_tokens_match_meta_tokenizer():
    from llama_models.llama4.tokenizer import Tokenizer

    tok = Tokenizer.get_instance()
    text = "Quarterly revenue rose 12.5% to $4,210,000 in Q3 2025.\n\ndef f(x):\n    return x\n"
    assert count_text_tokens(text) == len(tok.encode(text, bos=False, eos=False))
    assert count_text_tokens("") == 0
    # Special-token look-alikes in a document are text, never control tokens.
    assert count_text_tokens("<|image|>") > 1

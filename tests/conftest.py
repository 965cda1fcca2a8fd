"""Shared fixtures: a throw-away settings object and database per test, and the corpus path."""

from __future__ import annotations

from pathlib import Path

import pytest

from storage.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus"
SAMPLE_DOCS = ROOT / "sample_docs"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", workers=1)


@pytest.fixture
def corpus_pdfs() -> Path:
    folder = CORPUS / "pdfs"
    if not folder.is_dir():
        pytest.skip(f"the shared corpus is absent: {folder} does not exist")
    return folder


@pytest.fixture(scope="session")
def engine_data_dir(request, tmp_path_factory) -> Path:
    """A data folder for the engine tests whose built models (tiny-llama4, cpu-demo: ~400 MB,
    ~30 s to make) survive between runs in pytest's cache folder."""
    cache = getattr(request.config, "cache", None)  # absent under `-p no:cacheprovider`
    if cache is None:
        return tmp_path_factory.mktemp("docscout-engine")
    return Path(cache.mkdir("docscout-engine"))


@pytest.fixture(scope="session")
def shared_models_dir(engine_data_dir) -> Path:
    """Where the locally made models are built, shared by every engine test of a session."""
    return engine_data_dir / "models"

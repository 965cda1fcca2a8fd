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

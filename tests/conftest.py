"""Shared fixtures: a throw-away settings object and database per test, and the corpus path.

The database is a SQLite file in the test's own folder, or, when DOCSCOUT_TEST_DATABASE_URL names
one (scripts/test.sh's second run, on a throwaway PostgreSQL server), that database, emptied
before each test.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from core.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus"
SAMPLE_DOCS = ROOT / "sample_docs"
TEST_DATABASE_URL = os.environ.get("DOCSCOUT_TEST_DATABASE_URL") or None


@pytest.fixture(autouse=True)
def database_url(tmp_path: Path, monkeypatch) -> str:
    """The database this test's Store opens. On the test server it is emptied first and set as
    DOCSCOUT_DATABASE_URL, so that the CLI and every Settings() a test makes use it too (autouse:
    no test of that run can fall back to SQLite unnoticed)."""
    if TEST_DATABASE_URL is None:
        return f"sqlite:///{(tmp_path / 'data' / 'docscout.db').resolve()}"
    _empty(TEST_DATABASE_URL)
    monkeypatch.setenv("DOCSCOUT_DATABASE_URL", TEST_DATABASE_URL)
    return TEST_DATABASE_URL


def _empty(url: str) -> None:
    """Drop every table of the test database; connections earlier tests left open are closed
    first, or they could hold a lock the drop waits for."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"))
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    finally:
        engine.dispose()


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(data_dir=tmp_path / "data", workers=1, database_url=database_url)


@pytest.fixture
def corpus_pdfs() -> Path:
    folder = CORPUS / "pdfs"
    if not folder.is_dir():
        pytest.skip(f"the shared corpus is absent: {folder} does not exist")
    return folder


@pytest.fixture
def samples_store(settings):
    """A Store holding all of sample_docs/ as the collection "Samples"."""
    from ingest.pipeline import ingest_paths
    from storage.repository import Store

    store = Store(settings)
    ingest_paths([SAMPLE_DOCS], "Samples", store, settings)
    yield store
    store.close()


@pytest.fixture(scope="session")
def engine_data_dir(request, tmp_path_factory) -> Path:
    """A data folder for the engine tests whose built models (tiny-llama4, cpu-demo, cpu: ~4 GB,
    ~100 s to make) survive between runs in pytest's cache folder."""
    cache = getattr(request.config, "cache", None)  # absent under `-p no:cacheprovider`
    if cache is None:
        return tmp_path_factory.mktemp("docscout-engine")
    return Path(cache.mkdir("docscout-engine"))


@pytest.fixture(scope="session")
def shared_models_dir(engine_data_dir) -> Path:
    """Where the locally made models are built, shared by every engine test of a session."""
    return engine_data_dir / "models"


# --- the real Analyst over a test-double backend -----------------------------------------------


@pytest.fixture(scope="session")
def counter():
    """The real Llama 4 prompt counter (Meta's tokenizer): exact budgets without a model."""
    from engine.tokenizer import Llama4PromptTokenizer

    return Llama4PromptTokenizer()


def fake_analyst(settings: Settings, store, counter, backend):
    """An Analyst with tiny-llama4's profile and window, the real counter and `backend` (a
    FakeBackend): everything but the model is real."""
    from engine.profiles import resolve_profile
    from engine.service import Analyst

    profile = resolve_profile(settings.model_copy(update={"model_profile": "tiny-llama4"}))
    return Analyst(settings, store, profile, counter, backend)


# --- real vLLM engines: one of each per test session (DESIGN.md section 6) ---------------------


def _vllm_backend(data_dir: Path, profile: str):
    from engine.backends import VllmBackend
    from engine.profiles import resolve_profile

    settings = Settings(data_dir=data_dir, model_profile=profile, request_timeout_s=300)
    return VllmBackend(resolve_profile(settings), settings)


@pytest.fixture(scope="session")
def tiny(engine_data_dir):
    """tiny-llama4 on vLLM: Scout's exact prompt path, random weights (its text is noise)."""
    return _vllm_backend(engine_data_dir, "tiny-llama4")


@pytest.fixture(scope="session")
def cpu_demo(engine_data_dir, tiny):
    # Depends on `tiny` only for order: vLLM creates its expert-parallel group with the first
    # engine of a process, and only when that one is MoE, so Llama 4 must come first.
    return _vllm_backend(engine_data_dir, "cpu-demo")


@pytest.fixture(scope="session")
def cpu_model(engine_data_dir, tiny):
    """The `cpu` profile (Qwen2.5-Coder-1.5B-Instruct) on vLLM: converted once per cache folder
    (~70 s, ~6 GB peak), ~8 GB while loaded. After `tiny`, for the reason given above."""
    return _vllm_backend(engine_data_dir, "cpu")


@pytest.fixture(scope="session")
def tiny_tokenizer(tiny):
    from engine.tokenizer import Llama4PromptTokenizer, prompt_tokenizer

    tokenizer = prompt_tokenizer(tiny.profile)
    assert isinstance(tokenizer, Llama4PromptTokenizer)
    return tokenizer


@pytest.fixture(scope="session")
def demo_tokenizer(cpu_demo):
    from engine.tokenizer import HFPromptTokenizer, prompt_tokenizer

    tokenizer = prompt_tokenizer(cpu_demo.profile)
    assert isinstance(tokenizer, HFPromptTokenizer)
    return tokenizer


# --- the web UI under AppTest, with a test-double engine (tests/test_ui*.py) ---------------------

UI_PAGES = ROOT / "app" / "ui" / "views"


@pytest.fixture
def fake(settings, counter):
    """Services with a loaded fake engine over a store holding the contract and the charts;
    yields (services, backend), the backend a FakeBackend behind the real Analyst and
    EngineHost."""
    from app.runtime import EngineHost, EngineState
    from app.ui import services as ui_services
    from engine.backends import FakeBackend
    from ingest.pipeline import ingest_paths
    from storage.repository import Store

    store = Store(settings)
    ingest_paths([SAMPLE_DOCS / "contract.pdf", SAMPLE_DOCS / "charts"], "Deal", store, settings)
    backend = FakeBackend()
    host = EngineHost(settings, store, lambda s, st: fake_analyst(s, st, counter, backend)).start()
    assert host.wait(30).state == EngineState.READY
    services = ui_services.Services(settings, store, host)
    ui_services.use(services)
    yield services, backend
    ui_services.use(None)
    store.close()


def ui_page(name: str):
    """An AppTest of one page of the web UI (app/ui/views/NAME.py)."""
    from streamlit.testing.v1 import AppTest

    return AppTest.from_file(str(UI_PAGES / f"{name}.py"), default_timeout=60)

"""The web UI's handles on the product: one Store and one EngineHost per server process.

`services()` builds them on first use (the engine starts loading in the background at once, and
the OCR queue finishes what earlier ingests left pending) and hands the same ones to every
browser session. Tests install their own with `use()`.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from app.runtime import EngineHost
from core.settings import Settings, get_settings
from ingest.background import OcrQueue
from storage.repository import Store


@dataclass
class Services:
    settings: Settings
    store: Store
    host: EngineHost
    ocr: OcrQueue | None = None  # None: uploads are OCRed while they are ingested


_installed: Services | None = None


def use(services: Services | None) -> None:
    """Serve these services instead of the process's own (test doubles); None undoes it."""
    global _installed
    _installed = services


@st.cache_resource(show_spinner=False)
def _process_services() -> Services:
    settings = get_settings()
    store = Store(settings)
    # The OCR queue wakes at once: documents an interrupted `docscout ingest` left pending.
    return Services(settings, store, EngineHost(settings, store).start(),
                    OcrQueue(store, settings).wake())


def services() -> Services:
    return _installed if _installed is not None else _process_services()

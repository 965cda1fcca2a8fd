"""OCR in the background: one thread per server process that reads, with `run_ocr`, the scanned
pages and figures of documents stored with their text layer first (ingest_paths(ocr_later=True)).

The web UI wakes it after each upload and once when the server starts (documents left pending by
an interrupted `docscout ingest` are finished then). It OCRs with half the cores, so that a
question asked meanwhile still gets the other half. A document is searchable and can be asked
about while it waits; its OCR text joins it as soon as that document is read.
"""

from __future__ import annotations

import logging
import os
import threading

from core.settings import Settings
from ingest.pipeline import Outcome, run_ocr
from storage.repository import Store

log = logging.getLogger(__name__)


class OcrQueue:
    """Runs `run_ocr` over every collection whenever woken, in one daemon thread."""

    def __init__(self, store: Store, settings: Settings, workers: int | None = None) -> None:
        self.store, self.settings = store, settings
        self.workers = workers or max(1, (settings.workers or os.cpu_count() or 1) // 2)
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._busy = False
        self._idle = threading.Condition()
        self.done: list[Outcome] = []  # what the latest round did, newest last

    def wake(self) -> OcrQueue:
        """Look for pending documents now (or right after the round under way)."""
        with self._lock:
            self._wake.set()
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="docscout-ocr",
                                                daemon=True)
                self._thread.start()
        return self

    @property
    def busy(self) -> bool:
        """Whether OCR is running or about to (woken and not yet started)."""
        return self._busy or self._wake.is_set()

    def wait(self, timeout_s: float | None = None) -> bool:
        """Block until the queue is idle; False when `timeout_s` passed first."""
        with self._idle:
            return self._idle.wait_for(lambda: not self.busy, timeout_s)

    def _loop(self) -> None:
        while True:
            self._wake.wait()
            self._busy = True
            self._wake.clear()
            try:
                self.done = []
                run_ocr(self.store, self.settings, workers=self.workers,
                        progress=lambda _n, _total, outcome: self.done.append(outcome))
            except Exception:  # a bug here must not kill the thread for the next upload
                log.exception("background OCR failed")
            finally:
                with self._idle:
                    self._busy = False
                    self._idle.notify_all()

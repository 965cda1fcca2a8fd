"""One engine per server process, for long-lived front ends (the web UI).

Loading a model takes from seconds (a remote server) to minutes (Scout on GPUs); a page must never
freeze meanwhile. `EngineHost.start()` opens the `Analyst` and warms its backend on a background
thread; `status()` says at any moment whether it is loading, ready, remote or in error, and why.

    host = EngineHost(settings, store).start()
    stream = host.stream("Samples", "What was revenue in 2024?")
    for delta in stream: ...                       # text as the model writes it
    stream.answer                                  # the stored Answer, citations checked

Several sessions may ask at once: each question runs on its own thread and the backend serialises
what must be serialised (the in-process vLLM step loop), so every asker gets an answer.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum

from core.domain import Answer, Mode
from core.errors import DocScoutError, EngineError
from core.settings import Settings
from engine.service import Analyst
from storage.repository import Store

OpenAnalyst = Callable[[Settings, Store], Analyst]


class EngineState(StrEnum):
    LOADING = "loading"
    READY = "ready"  # an in-process model, loaded
    REMOTE = "remote"  # a vLLM server answers (DOCSCOUT_VLLM_BASE_URL)
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class EngineStatus:
    state: EngineState
    profile: str  # the profile's name once known, else the setting
    detail: str  # what is happening, or the error a user can act on
    max_model_len: int | None = None  # the model's window in tokens, once known
    vision: bool | None = None  # whether the model reads images, once known
    seconds: float = 0.0  # since loading started

    @property
    def usable(self) -> bool:
        return self.state in (EngineState.READY, EngineState.REMOTE)


class EngineHost:
    def __init__(self, settings: Settings, store: Store,
                 open_analyst: OpenAnalyst = Analyst.open) -> None:
        self.settings = settings
        self.store = store
        self._open = open_analyst
        self._lock = threading.Lock()
        self._analyst: Analyst | None = None
        self._state = EngineState.LOADING
        self._detail = "not started"
        self._started = time.monotonic()
        self._thread: threading.Thread | None = None

    def start(self) -> EngineHost:
        """Begin loading in the background (again, after an error); returns at once."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return self
            if self._analyst is not None and self._state != EngineState.ERROR:
                return self
            self._state, self._started = EngineState.LOADING, time.monotonic()
            self._detail = f"loading the {self.settings.model_profile} model profile"
            self._thread = threading.Thread(target=self._load, name="docscout-engine", daemon=True)
            self._thread.start()
        return self

    def wait(self, timeout_s: float | None = None) -> EngineStatus:
        """Block until loading ends (for scripts and tests); the status then."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout_s)
        return self.status()

    def _load(self) -> None:
        try:
            analyst = self._open(self.settings, self.store)
            with self._lock:
                self._detail = f"loading {analyst.profile.name} ({analyst.profile.model})"
            backend = analyst.backend  # the model load, or the server client
            remote = self.settings.vllm_base_url is not None
            if remote:
                served = getattr(backend, "model", None)  # asks the server: unreachable -> error
                detail = f"vLLM server at {self.settings.vllm_base_url} serving {served}"
            else:
                detail = f"{analyst.profile.name} loaded in-process"
            with self._lock:
                self._analyst = analyst
                self._state = EngineState.REMOTE if remote else EngineState.READY
                self._detail = detail
        except Exception as exc:  # any failure to load becomes a visible, retryable state
            with self._lock:
                self._state, self._detail = EngineState.ERROR, _message(exc)

    def status(self) -> EngineStatus:
        with self._lock:
            analyst = self._analyst
            return EngineStatus(
                state=self._state,
                profile=analyst.profile.name if analyst else self.settings.model_profile,
                detail=self._detail,
                max_model_len=analyst.profile.max_model_len if analyst else None,
                vision=analyst.profile.vision if analyst else None,
                seconds=time.monotonic() - self._started,
            )

    @property
    def analyst(self) -> Analyst:
        """The loaded analyst; EngineError while loading or after a failure."""
        status = self.status()
        if not status.usable or self._analyst is None:
            raise EngineError(f"the engine is not ready ({status.state}): {status.detail}")
        return self._analyst

    def stream(self, collection: str, question: str, mode: Mode = Mode.AUTO) -> AnswerStream:
        """Start answering on a worker thread; iterate the result for text deltas."""
        return AnswerStream(self.analyst, collection, question, mode)


_DONE = object()


def _message(exc: Exception) -> str:
    """What the UI shows for a failure: a DocScout error's own line (the collection was deleted
    meanwhile, the model folder is missing), a bug with its type."""
    return str(exc) if isinstance(exc, DocScoutError) else f"{type(exc).__name__}: {exc}"


class AnswerStream:
    """Text deltas of one answer as an iterator (what `st.write_stream` consumes); `answer` is
    the stored Answer once the iteration ends. Errors are answers too (`answer.error`)."""

    def __init__(self, analyst: Analyst, collection: str, question: str,
                 mode: Mode = Mode.AUTO) -> None:
        self._queue: queue.Queue = queue.Queue()
        self.answer: Answer | None = None
        self._thread = threading.Thread(
            target=self._run, args=(analyst, collection, question, mode),
            name="docscout-answer", daemon=True)
        self._thread.start()

    def _run(self, analyst: Analyst, collection: str, question: str, mode: Mode) -> None:
        try:
            self.answer = analyst.ask(collection, question, mode=mode, on_delta=self._queue.put)
        except Exception as exc:  # storage failures and bugs: shown, never a dead page
            self.answer = Answer(question, "", mode, error=_message(exc))
        finally:
            self._queue.put(_DONE)

    def __iter__(self) -> Iterator[str]:
        while (item := self._queue.get()) is not _DONE:
            yield item
        self._thread.join()

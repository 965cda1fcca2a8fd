"""One engine per server process, for long-lived front ends (the web UI).

Loading a model takes from seconds (a remote server) to minutes (Scout on GPUs); a page must never
freeze meanwhile. `EngineHost.start()` opens the `Analyst` and warms its backend on a background
thread; `status()` says at any moment whether it is loading, ready, remote or in error, and why.

    host = EngineHost(settings, store).start()
    stream = host.stream("Samples", "What was revenue in 2024?")
    for delta in stream.deltas(): ...              # text as the model writes it
    stream.result()                                # the stored Answer, citations checked

Several sessions may ask at once. An in-process model answers one question at a time, so
questions wait in a first-come, first-served `Line` and each stream says how many are ahead of
it (`stream.ahead`); a vLLM server batches them itself and nobody waits. A stream can be stopped
(`stream.stop()`: the engine aborts the request, the partial answer is kept, marked stopped) and
read again from its start by a page that reran meanwhile (`stream.deltas()`).
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum

from core.domain import Answer, Mode, StopReason
from core.errors import DocScoutError, EngineError
from core.settings import Settings
from engine.service import Analyst
from storage.repository import Store

OpenAnalyst = Callable[[Settings, Store], Analyst]
KEEP_S = 60.0  # how long a finished stream stays findable by its conversation (EngineHost.streams)


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
        self._line: Line | None = None
        self._streams: list[AnswerStream] = []

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
            remote = self.settings.vllm_base_url is not None
            with self._lock:
                self._detail = (f"asking {self.settings.vllm_base_url} what it serves" if remote
                                else f"loading {analyst.profile.name} ({analyst.profile.model})")
            analyst.backend  # the model load, or the server's description: unreachable -> error
            if remote:
                profile = analyst.profile
                detail = (f"vLLM server at {self.settings.vllm_base_url} serving {profile.name} "
                          f"({profile.max_model_len:,} tokens)")
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

    def stream(self, collection: str, question: str, mode: Mode = Mode.AUTO, *,
               chat: int | None = None) -> AnswerStream:
        """Start answering on a worker thread, after the questions already in line; iterate
        `stream.deltas()` for the text. With `chat`, a turn of that conversation."""
        analyst = self.analyst
        with self._lock:
            if self._line is None:  # one at a time in-process; a server batches them itself
                remote = self.settings.vllm_base_url is not None
                self._line = Line(None if remote else 1)
            stream = AnswerStream(analyst, self._line, collection, question, mode, chat)
            now = time.monotonic()
            self._streams = [s for s in self._streams if s.recent(now)]
            self._streams.append(stream)
        return stream

    def streams(self, chat: int) -> list[AnswerStream]:
        """The questions of a conversation still being answered (or answered in the last
        `KEEP_S` seconds), oldest first, from whichever browser session asked them: a page that
        reloads follows them again instead of losing them."""
        now = time.monotonic()
        with self._lock:
            return [s for s in self._streams if s.chat == chat and s.recent(now)]


class Line:
    """First come, first served admission to an engine that answers `slots` questions at a time
    (None: as many as come). A question's place is a ticket: `ahead(ticket)` counts the
    questions before it, being answered or waiting."""

    def __init__(self, slots: int | None) -> None:
        self.slots = slots
        self._changed = threading.Condition()
        self._tickets = itertools.count()
        self._waiting: list[int] = []
        self._serving: set[int] = set()

    def join(self) -> int:
        with self._changed:
            ticket = next(self._tickets)
            self._waiting.append(ticket)
            return ticket

    def ahead(self, ticket: int) -> int:
        with self._changed:
            if ticket not in self._waiting:
                return 0
            return len(self._serving) + self._waiting.index(ticket) if self.slots else 0

    def wait(self, ticket: int, cancel: threading.Event) -> bool:
        """Block until it is this ticket's turn (True) or `cancel` is set (False, and the
        ticket leaves the line)."""
        with self._changed:
            while not self._turn(ticket):
                if cancel.is_set():
                    self._waiting.remove(ticket)
                    self._changed.notify_all()
                    return False
                self._changed.wait(0.1)
            self._waiting.remove(ticket)
            self._serving.add(ticket)
            return True

    def _turn(self, ticket: int) -> bool:
        if self.slots is None:
            return True
        return len(self._serving) < self.slots and self._waiting[0] == ticket

    def leave(self, ticket: int) -> None:
        with self._changed:
            self._serving.discard(ticket)
            self._changed.notify_all()


def _message(exc: Exception) -> str:
    """What the UI shows for a failure: a DocScout error's own line (the collection was deleted
    meanwhile, the model folder is missing), a bug with its type."""
    return str(exc) if isinstance(exc, DocScoutError) else f"{type(exc).__name__}: {exc}"


class AnswerStream:
    """One question being answered on a worker thread: its place in the line while it waits,
    its text as the model writes it, and the stored Answer once done (errors are answers too:
    `answer.error`). `deltas()` replays the text from the start, so a page that reran while the
    answer was being written can show it again and follow it to the end."""

    def __init__(self, analyst: Analyst, line: Line, collection: str, question: str,
                 mode: Mode = Mode.AUTO, chat: int | None = None) -> None:
        self.question, self.chat = question, chat
        self.answer: Answer | None = None
        self._line, self._ticket = line, line.join()
        self._cancel = threading.Event()
        self._pieces: list[str] = []
        self._changed = threading.Condition()
        self._started = self._finished = False
        self.ended = 0.0  # time.monotonic() when it finished
        self._thread = threading.Thread(
            target=self._run, args=(analyst, collection, mode), name="docscout-answer",
            daemon=True)
        self._thread.start()

    def _run(self, analyst: Analyst, collection: str, mode: Mode) -> None:
        queued = time.perf_counter()
        try:
            if not self._line.wait(self._ticket, self._cancel):  # stopped while waiting
                self.answer = analyst.stopped_waiting(collection, self.question, mode,
                                                      chat=self.chat,
                                                      waited_s=time.perf_counter() - queued)
                return
            with self._changed:
                self._started = True
            try:
                self.answer = analyst.ask(collection, self.question, mode=mode, chat=self.chat,
                                          on_delta=self._add, cancel=self._cancel,
                                          waited_s=time.perf_counter() - queued)
            finally:
                self._line.leave(self._ticket)
        except Exception as exc:  # storage failures and bugs: shown, never a dead page
            self.answer = Answer(self.question, "".join(self._pieces), mode, chat_id=self.chat,
                                 error=_message(exc), stop_reason=StopReason.ERROR)
        finally:
            with self._changed:
                self._finished, self.ended = True, time.monotonic()
                self._changed.notify_all()

    def _add(self, piece: str) -> None:
        with self._changed:
            self._pieces.append(piece)
            self._changed.notify_all()

    @property
    def ahead(self) -> int:
        """Questions before this one in the engine's line (0 once it is being answered)."""
        return 0 if self._started or self.done else self._line.ahead(self._ticket)

    @property
    def started(self) -> bool:
        """Whether the engine has begun this question (it no longer waits in line)."""
        return self._started

    @property
    def done(self) -> bool:
        """Whether the answer (or its error) is final and stored."""
        return self._finished

    def recent(self, now: float) -> bool:
        """Still being answered, or finished less than `KEEP_S` seconds before `now`."""
        return not self.done or now - self.ended < KEEP_S

    @property
    def text(self) -> str:
        """What the model has written so far."""
        with self._changed:
            return "".join(self._pieces)

    def stop(self) -> None:
        """Stop now: leave the line, or have the engine abort the request; the partial answer
        is stored, marked stopped by the user."""
        self._cancel.set()
        with self._changed:
            self._changed.notify_all()

    def deltas(self, idle_s: float | None = None) -> Iterator[str]:
        """The answer's text in pieces, from the start, until it is done. With `idle_s`, an
        empty string comes whenever nothing new arrived for that long (a page can then update
        a waiting notice, or notice that its user left)."""
        seen = 0
        while True:
            with self._changed:
                while len(self._pieces) == seen and not self.done:
                    if not self._changed.wait(idle_s if idle_s is not None else 0.5) \
                            and idle_s is not None:
                        break
                new, seen = self._pieces[seen:], len(self._pieces)
                finished = self.done and not new
            if finished:
                break
            yield "".join(new)
        self._thread.join()

    def result(self, timeout_s: float | None = None) -> Answer | None:
        """The stored answer, once done (waits up to `timeout_s`)."""
        self._thread.join(timeout_s)
        return self.answer

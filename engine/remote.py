"""A client of one running OpenAI-compatible vLLM server (`docscout engine serve`, or `vllm serve`
on a GPU node, or several replicas behind a router); engine.replicas spreads collections over
several of them, engine.served asks one what it serves.

Requests of a batch are sent concurrently, so the server batches them as vLLM does in-process;
each is reported to `generate`'s `on_done` as it finishes, in the caller's thread.
Streaming asks for usage in the last chunk; vLLM reports cached prompt tokens there when started
with `--enable-prompt-tokens-details` (engine serve does).

Every request of a collection carries the collection's `cache_salt` (vLLM's request field that
mixes a salt into the prefix cache's first block hash): collections, and so tenants, never share
cached blocks even when their prompts begin alike, while the questions of one collection do.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from threading import Event

from core.domain import StopReason
from core.errors import EngineError
from engine.backends import Done, Generation, finished_generation
from engine.guard import looping
from engine.profiles import Sampling

TOKENIZE_TIMEOUT_S = 30.0  # a count, or a description, never waits longer


def cache_salt(collection: str, secret: str | None = None) -> str:
    """The collection's vLLM cache_salt: a hash (vLLM takes at most 128 characters, none of
    '@', '/', '\\'), with the server's API key mixed in when there is one, so another client of
    the server cannot compute it from a collection's name."""
    key = f"{secret or ''}\x00docscout\x00{collection}".encode()
    return hashlib.sha256(key).hexdigest()


class ServerDown(EngineError):
    """The server could not be reached at all: nothing was answered, so the request may go to
    another replica."""


class RemoteBackend:
    def __init__(self, base_url: str, api_key: str | None, timeout_s: float,
                 model: str | None = None, sampling: Sampling | None = None):
        import openai

        self._openai = openai
        self._client = openai.OpenAI(base_url=base_url, api_key=api_key or "EMPTY",
                                     timeout=timeout_s, max_retries=1)
        self.base_url = base_url
        self.api_key = api_key
        self.timeout_s = timeout_s
        self._model = model
        self.sampling = sampling or Sampling()

    @property
    def model(self) -> str:
        """The served model's name: the configured one, else the server's first."""
        if self._model is None:
            self._model = self.models()[0]["id"]
        return self._model

    def models(self) -> list[dict]:
        """The server's model cards (vLLM's carry `max_model_len` and `root`, the model's path
        or Hub id), as plain dicts."""
        try:
            cards = self._client.models.list().data
        except Exception as exc:
            raise self._error(exc) from exc
        if not cards:
            raise EngineError(f"the model server at {self.base_url} serves no model")
        return [card.model_dump() for card in cards]

    def tokenize(self, body: dict) -> dict:
        """vLLM's `/tokenize` (beside /v1, not under it): `{"prompt": ...}` or `{"messages":
        ...}` in, `{"count", "tokens", "max_model_len"}` out; the served model is asked."""
        url = self.base_url.rstrip("/").removesuffix("/v1") + "/tokenize"
        try:
            return self._client.post(url, cast_to=object, body={"model": self.model, **body},
                                     options={"timeout": min(self.timeout_s, TOKENIZE_TIMEOUT_S)})
        except EngineError:
            raise
        except Exception as exc:
            raise self._error(exc) from exc

    def generate(self, requests: list[list[dict]], max_tokens: int, *,
                 sampling: Sampling | None = None, cancel: Event | None = None,
                 on_done: Done | None = None, collection: str | None = None
                 ) -> list[Generation]:
        """Every request at once (16 in flight at most); `on_done` hears of each as it finishes.
        A request that fails (refused, unreachable) fails the batch with its error once the
        others have finished, as they had already been sent. `collection`: whose cache_salt
        the requests carry."""
        if not requests:
            return []
        abort = Event()  # set when the caller goes away (on_done raised, Ctrl-C)
        stop = _Either(abort, cancel)
        results: dict[int, Generation] = {}
        failure: EngineError | None = None
        with ThreadPoolExecutor(max_workers=min(len(requests), 16)) as pool:
            futures: dict[Future, int] = {
                pool.submit(self._collect, messages, max_tokens, sampling, stop, collection): index
                for index, messages in enumerate(requests)}
            pending = set(futures)
            try:
                while pending:
                    done, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for future in sorted(done, key=futures.__getitem__):
                        try:
                            results[futures[future]] = future.result()
                        except EngineError as exc:
                            failure = failure or exc
                            continue
                        if on_done is not None:
                            on_done(futures[future], results[futures[future]])
            except BaseException:
                abort.set()  # every stream still open is closed: the server aborts it
                pool.shutdown(cancel_futures=True)
                raise
        if failure is not None:
            raise failure
        return [results[index] for index in range(len(requests))]

    def _collect(self, messages: list[dict], max_tokens: int, sampling: Sampling | None,
                 cancel: Event | _Either | None, collection: str | None) -> Generation:
        final = None
        for piece in self.stream(messages, max_tokens, sampling=sampling, cancel=cancel,
                                 collection=collection):
            if isinstance(piece, Generation):
                final = piece
        return final

    def stream(self, messages: list[dict], max_tokens: int, *, sampling: Sampling | None = None,
               cancel: Event | _Either | None = None, collection: str | None = None
               ) -> Iterator[str | Generation]:
        """Stream one answer. Closing the HTTP stream is how a request is aborted on a vLLM
        server (it aborts a request whose client went away): on a loop, a cancel, the deadline
        or when the caller stops reading."""
        sampling = sampling or self.sampling
        start, first, parts, usage = time.perf_counter(), None, [], None
        reason = StopReason.ERROR
        chunks = None
        extra = {"repetition_penalty": sampling.repetition_penalty}
        if collection is not None:
            extra["cache_salt"] = cache_salt(collection, self.api_key)
        try:
            chunks = self._client.chat.completions.create(
                model=self.model, messages=messages, max_tokens=max_tokens,
                temperature=sampling.temperature, frequency_penalty=sampling.frequency_penalty,
                extra_body=extra,
                stream=True, stream_options={"include_usage": True},
            )
            for chunk in chunks:
                if chunk.usage is not None:
                    usage = chunk.usage
                for choice in chunk.choices:
                    delta = choice.delta.content or ""
                    if delta:
                        first = first or time.perf_counter() - start
                        parts.append(delta)
                        yield delta
                    if choice.finish_reason:
                        reason = StopReason.LENGTH if choice.finish_reason == "length" \
                            else StopReason.STOP
                stop = (StopReason.CANCELLED if cancel is not None and cancel.is_set()
                        else StopReason.LOOP if looping("".join(parts))
                        else StopReason.TIMEOUT if time.perf_counter() - start > self.timeout_s
                        else None)
                if stop is not None:
                    reason = stop
                    break
        except EngineError:
            raise
        except Exception as exc:
            raise self._error(exc) from exc
        finally:
            if chunks is not None:
                chunks.close()  # the server aborts the request when it is still running
        details = getattr(usage, "prompt_tokens_details", None) if usage else None
        yield finished_generation(
            "".join(parts), reason,
            prompt_tokens=usage.prompt_tokens if usage else 0,
            cached_tokens=(getattr(details, "cached_tokens", None) or 0) if details else 0,
            completion_tokens=usage.completion_tokens if usage else len(parts),
            time_to_first_token_s=first,
            total_time_s=time.perf_counter() - start,
        )

    def _error(self, exc: Exception) -> EngineError:
        openai = self._openai
        if isinstance(exc, openai.APITimeoutError):
            return EngineError(f"the model server at {self.base_url} did not answer in time")
        if isinstance(exc, openai.APIConnectionError):
            return ServerDown(f"the model server at {self.base_url} is unreachable: start it "
                              "with `docscout engine serve` or check DOCSCOUT_VLLM_BASE_URL")
        if isinstance(exc, openai.APIStatusError):
            return EngineError(f"the model server refused the request ({exc.status_code}): "
                               f"{exc.message}")
        return EngineError(f"the model server failed: {exc}")


class _Either:
    """Set when any of its events is (None stands for an event never set): a batch's own abort
    together with the caller's cancel, as `stream` reads them."""

    def __init__(self, *events: Event | None) -> None:
        self.events = [event for event in events if event is not None]

    def is_set(self) -> bool:
        return any(event.is_set() for event in self.events)

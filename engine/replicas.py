"""Several replicas of one served model, as one Backend: each collection's requests go to the
same replica while it is up, so the collection's prefix stays in that replica's cache.

Which replica: rendezvous (highest-random-weight) hashing of the collection's name over the
replicas' URLs. Every client computes the same order without sharing state, a collection moves
only when its own replica goes away (the others' collections stay where they are), and it comes
back when that replica is up again. A replica that cannot be reached (`ServerDown`: nothing was
answered there) is skipped for `DOWN_S` seconds and the request goes to the collection's next
replica; a failure after an answer began (a refused request, a server killed mid-answer) is the
request's error, never retried elsewhere.
Every request carries its collection's cache_salt (engine.remote), whichever replica it goes to.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from threading import Event

from core.errors import EngineError
from engine.backends import Done, Generation
from engine.profiles import Sampling
from engine.remote import RemoteBackend, ServerDown

DOWN_S = 30.0  # how long a replica that could not be reached is passed over


def base_urls(setting: str) -> list[str]:
    """The URLs of DOCSCOUT_VLLM_BASE_URL (comma-separated), in order, without duplicates."""
    urls = [url.strip().rstrip("/") for url in setting.split(",")]
    urls = list(dict.fromkeys(url for url in urls if url))
    if not urls:
        raise EngineError("DOCSCOUT_VLLM_BASE_URL holds no URL")
    for url in urls:
        if not url.startswith(("http://", "https://")):
            raise EngineError(f"DOCSCOUT_VLLM_BASE_URL: {url!r} is not an http(s) URL "
                              "(e.g. http://host:8000/v1)")
    return urls


def unreachable(failures: list[ServerDown], urls: str) -> ServerDown:
    """One error for every replica that could not be reached."""
    if len(failures) == 1:
        return failures[0]
    return ServerDown(f"none of the {len(failures)} model servers is reachable ({urls}): start "
                      "them with `docscout engine serve` or check DOCSCOUT_VLLM_BASE_URL")


def _weight(url: str, key: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{url}\x00{key}".encode()).digest()[:8], "big")


class Replicas:
    """A Backend over one or more RemoteBackends serving the same model."""

    def __init__(self, servers: list[RemoteBackend], down_s: float = DOWN_S) -> None:
        self.servers = servers
        self.down_s = down_s
        self._down_until: dict[str, float] = {}
        self._lock = threading.Lock()

    @property
    def model(self) -> str:
        return self.servers[0].model

    @property
    def base_url(self) -> str:
        return ", ".join(server.base_url for server in self.servers)

    def order(self, collection: str | None) -> list[RemoteBackend]:
        """The replicas to try for `collection`, its own first; those down lately last."""
        key = collection or ""
        ranked = sorted(self.servers, key=lambda s: _weight(s.base_url, key), reverse=True)
        now = time.monotonic()
        with self._lock:
            up = [s for s in ranked if self._down_until.get(s.base_url, 0.0) <= now]
        return up + [s for s in ranked if s not in up]

    def replica_for(self, collection: str | None) -> str:
        """The URL the next request of `collection` goes to."""
        return self.order(collection)[0].base_url

    def _mark_down(self, server: RemoteBackend) -> None:
        with self._lock:
            self._down_until[server.base_url] = time.monotonic() + self.down_s

    def tokenize(self, body: dict) -> dict:
        """vLLM's /tokenize on the first replica that answers (engine.served counts with it)."""
        failures: list[ServerDown] = []
        for server in self.order(None):
            try:
                return server.tokenize(body)
            except ServerDown as exc:
                self._mark_down(server)
                failures.append(exc)
        raise unreachable(failures, self.base_url)

    def generate(self, requests: list[list[dict]], max_tokens: int, *,
                 sampling: Sampling | None = None, cancel: Event | None = None,
                 on_done: Done | None = None, collection: str | None = None
                 ) -> list[Generation]:
        """The batch on the collection's replica; on the next one when that one cannot be
        reached before anything was answered (after that, the caller retries what is left)."""
        heard: set[int] = set()

        def done(index: int, generation: Generation) -> None:
            heard.add(index)
            if on_done is not None:
                on_done(index, generation)

        failures: list[ServerDown] = []
        for server in self.order(collection):
            try:
                return server.generate(requests, max_tokens, sampling=sampling, cancel=cancel,
                                       on_done=done, collection=collection)
            except ServerDown as exc:
                self._mark_down(server)
                failures.append(exc)
                if heard:
                    raise
        raise unreachable(failures, self.base_url)

    def stream(self, messages: list[dict], max_tokens: int, *, sampling: Sampling | None = None,
               cancel: Event | None = None, collection: str | None = None
               ) -> Iterator[str | Generation]:
        """One answer from the collection's replica, or from the next one when that one cannot
        be reached before the first word."""
        failures: list[ServerDown] = []
        for server in self.order(collection):
            said = False
            try:
                for piece in server.stream(messages, max_tokens, sampling=sampling,
                                           cancel=cancel, collection=collection):
                    said = True
                    yield piece
                return
            except ServerDown as exc:
                self._mark_down(server)
                failures.append(exc)
                if said:
                    raise
        raise unreachable(failures, self.base_url)

"""A remote engine described by its servers, over several replicas (engine.served,
engine.replicas): against small fake vLLM servers on loopback that speak the three endpoints
DocScout uses (/v1/models, /tokenize, streamed /v1/chat/completions) and record what they got.
The real thing, two `docscout engine serve` replicas, is tests/test_engine_replicas.py."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from core.errors import EngineError
from core.settings import Settings
from engine.remote import RemoteBackend, cache_salt
from engine.replicas import Replicas, base_urls
from engine.served import RemoteTokenizer, connect
from engine.service import Analyst
from ingest.pipeline import ingest_paths
from storage.repository import Store

from .conftest import SAMPLE_DOCS


def _count(text: str) -> int:
    """The fake model's tokenizer: one token a word."""
    return len(text.split())


class FakeServer:
    """A vLLM-like server of text models: words are tokens; every chat answers "Fee [D1 p.1]."
    with usage; `requests` holds each chat request's body."""

    def __init__(self, models: tuple[str, ...] = ("fake-model",), window: int = 4096):
        self.models, self.window = models, window
        self.requests: list[dict] = []
        self.tokenized = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _json(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                cards = [{"id": m, "object": "model", "created": 0, "owned_by": "vllm",
                          "root": f"/nonexistent/{m}", "max_model_len": server.window}
                         for m in server.models]
                self._json(200, {"object": "list", "data": cards})

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                if body.get("model") not in server.models:
                    return self._json(404, {"error": {"message": "no such model", "code": 404}})
                if self.path == "/tokenize":
                    return self._tokenize(body)
                server.requests.append(body)
                self._chat()

            def _tokenize(self, body: dict) -> None:
                server.tokenized += 1
                if "prompt" in body:
                    n = _count(body["prompt"])
                else:
                    parts = [p for m in body["messages"] for p in (
                        m["content"] if isinstance(m["content"], list)
                        else [{"type": "text", "text": m["content"]}])]
                    if any(p["type"] != "text" for p in parts):
                        return self._json(400, {"error": {
                            "message": "fake-model is not a multimodal model", "code": 400}})
                    n = 3 * len(body["messages"]) + sum(_count(p["text"]) for p in parts)
                self._json(200, {"count": n, "max_model_len": server.window,
                                 "tokens": list(range(n))})

            def _chat(self) -> None:
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.end_headers()
                for delta in ("Fee", " [D1 p.1]."):
                    chunk = {"id": "c", "object": "chat.completion.chunk", "created": 0,
                             "model": "fake-model", "choices": [
                                 {"index": 0, "delta": {"content": delta},
                                  "finish_reason": None}]}
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                usage = {"id": "c", "object": "chat.completion.chunk", "created": 0,
                         "model": "fake-model",
                         "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                         "usage": {"prompt_tokens": 100, "completion_tokens": 2,
                                   "total_tokens": 102,
                                   "prompt_tokens_details": {"cached_tokens": 96}}}
                self.wfile.write(f"data: {json.dumps(usage)}\n\ndata: [DONE]\n\n".encode())

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def servers():
    started = [FakeServer(), FakeServer()]
    yield started
    for server in started:
        server.stop()


@pytest.fixture
def deal(settings):
    store = Store(settings)
    ingest_paths([SAMPLE_DOCS / "contract.pdf"], "deal", store, settings)
    yield store
    store.close()


def _remote(settings: Settings, *urls: str, **more) -> Settings:
    return settings.model_copy(update={"vllm_base_url": ",".join(urls), **more})


def test_base_urls_are_split_and_checked():
    assert base_urls(" http://a:1/v1/, http://b:2/v1,,http://a:1/v1") == [
        "http://a:1/v1", "http://b:2/v1"]
    with pytest.raises(EngineError, match="not an http"):
        base_urls("a:1/v1")


def test_rendezvous_moves_only_the_collections_of_a_replica_that_is_gone():
    urls = [f"http://10.0.0.{n}:8000/v1" for n in range(1, 4)]
    three = Replicas([RemoteBackend(u, None, 5, model="m") for u in urls])
    two = Replicas([RemoteBackend(u, None, 5, model="m") for u in urls[:2]])
    names = [f"collection {n}" for n in range(300)]
    home = {name: three.replica_for(name) for name in names}
    assert {home[name] for name in names} == set(urls)  # spread over every replica
    assert all(three.replica_for(name) == home[name] for name in names)  # stable
    for name in names:
        if home[name] != urls[2]:
            assert two.replica_for(name) == home[name]  # the others' collections stay


def test_the_server_describes_the_model_and_counts(settings, servers):
    served = connect(_remote(settings, servers[0].url, servers[1].url))
    profile = served.profile
    assert (profile.name, profile.max_model_len, profile.vision, profile.family) == (
        "fake-model", 4096, False, "hf")
    assert isinstance(served.tokenizer, RemoteTokenizer)  # no local tokenizer at its root
    assert served.tokenizer.count_text("one two three") == 3
    before = servers[0].tokenized + servers[1].tokenized
    assert served.tokenizer.count_text("one two three") == 3  # cached
    assert servers[0].tokenized + servers[1].tokenized == before


def test_a_named_model_is_picked_and_an_unserved_one_is_a_clear_error(settings):
    server = FakeServer(models=("small", "large"), window=2048)
    try:
        assert connect(_remote(settings, server.url)).profile.name == "small"
        assert connect(_remote(settings, server.url, vllm_model="large")).profile.name == "large"
        with pytest.raises(EngineError) as error:
            connect(_remote(settings, server.url, vllm_model="huge"))
        assert str(error.value) == (f"the model server at {server.url} serves 'small', "
                                    "'large', not DOCSCOUT_VLLM_MODEL='huge'")
    finally:
        server.stop()


def test_a_collection_sticks_to_its_replica_and_moves_when_it_is_down(settings, servers, deal):
    analyst = Analyst.open(_remote(settings, servers[0].url, servers[1].url), deal)
    home = analyst.backend.replica_for("deal")
    first, second = sorted(servers, key=lambda s: s.url != home)
    for question in ("What is the monthly fee?", "When is it due?"):
        answer = analyst.ask("deal", question)
        assert answer.error is None and answer.model == "fake-model"
    assert len(first.requests) == 2 and not second.requests
    salts = {body["cache_salt"] for body in first.requests}
    assert salts == {cache_salt("deal")}
    assert cache_salt("other") != cache_salt("deal")
    assert cache_salt("deal", "key") != cache_salt("deal")
    first.stop()
    moved = analyst.ask("deal", "What is the monthly fee?")
    assert moved.error is None and second.requests[-1]["cache_salt"] == cache_salt("deal")
    assert analyst.backend.replica_for("deal") == second.url  # while the first is down


def test_failures_are_one_line_and_kept_in_the_history(settings, servers, deal):
    urls = [servers[0].url, servers[1].url]
    for server in servers:
        server.stop()
    analyst = Analyst.open(_remote(settings, *urls), deal)
    answer = analyst.ask("deal", "What is the monthly fee?")
    assert answer.error == (f"none of the 2 model servers is reachable ({', '.join(urls)}): "
                            "start them with `docscout engine serve` or check "
                            "DOCSCOUT_VLLM_BASE_URL")
    [batch] = analyst.ask_many("deal", ["When is it due?"])
    assert batch.error == answer.error
    stored = deal.answers("deal")
    assert [a.error for a in stored] == [answer.error] * 2 and "\n" not in answer.error
    assert stored[0].model == "vLLM server"


def test_a_model_not_served_is_kept_in_the_history(settings, servers, deal):
    analyst = Analyst.open(_remote(settings, servers[0].url, vllm_model="gone"), deal)
    answer = analyst.ask("deal", "What is the monthly fee?")
    assert answer.error.startswith(f"the model server at {servers[0].url} serves 'fake-model'")
    assert deal.answers("deal")[0].error == answer.error and answer.model == "gone"


def test_the_ui_engine_shows_the_served_model_or_why_it_is_not_there(settings, servers, deal):
    from app.runtime import EngineHost, EngineState

    host = EngineHost(_remote(settings, servers[0].url), deal).start()
    status = host.wait(60)
    assert (status.state, status.profile, status.max_model_len) == (
        EngineState.REMOTE, "fake-model", 4096)
    assert status.detail == f"vLLM server at {servers[0].url} serving fake-model (4,096 tokens)"
    url = servers[1].url
    servers[1].stop()
    down = EngineHost(_remote(settings, url), deal).start().wait(60)
    assert down.state == EngineState.ERROR and "unreachable" in down.detail

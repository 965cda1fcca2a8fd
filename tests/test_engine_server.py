"""`docscout engine serve` on CPU, and the OpenAI-compatible RemoteBackend against it: a real
vLLM server process, a streamed chat, usage with cached tokens, and a clear error when the
server is gone. Slow (~1-2 minutes), so marked `vllm`."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request

import pytest

from core.domain import StopReason
from core.errors import EngineError
from engine.backends import Generation
from engine.profiles import Sampling
from engine.remote import RemoteBackend

pytestmark = pytest.mark.vllm
START_TIMEOUT_S = 420


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.fixture(scope="module")
def server(tmp_path_factory, shared_models_dir):
    port = _free_port()
    log = tmp_path_factory.mktemp("serve") / "server.log"
    env = {**os.environ, "DOCSCOUT_DATA_DIR": str(log.parent),
           "DOCSCOUT_MODELS_DIR": str(shared_models_dir), "DOCSCOUT_CPU_KVCACHE_GIB": "1"}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "engine", "serve", "--profile", "cpu-demo",
             "--port", str(port)],
            env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT_S
    while not _healthy(base + "/health"):
        if proc.poll() is not None or time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            pytest.fail(f"engine serve did not come up:\n{log.read_text()[-3000:]}")
        time.sleep(2)
    yield base + "/v1"
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


def test_streamed_chat_through_the_server(server):
    backend = RemoteBackend(server, None, timeout_s=120)
    assert backend.model == "cpu-demo"
    # Long enough to fill several 128-token KV blocks: only whole blocks are cached.
    filler = "".join(f"Clause {n}. The parties keep records of every delivery. " for n in range(40))
    messages = [
        {"role": "system", "content": "Answer from the document in a few words."},
        {"role": "user", "content": [
            {"type": "text", "text": f"[D1 p.1]\n{filler}The monthly fee is US$18,750.\n\n"},
            {"type": "text", "text": "Question: What is the monthly fee?"},
        ]},
    ]
    pieces = list(backend.stream(messages, max_tokens=24))
    deltas, final = pieces[:-1], pieces[-1]
    assert len(deltas) >= 2 and all(isinstance(d, str) for d in deltas)
    assert isinstance(final, Generation) and final.text == "".join(deltas)
    assert final.prompt_tokens > 400 and final.completion_tokens >= len(deltas) - 1
    assert final.time_to_first_token_s is not None
    [again] = backend.generate([messages], max_tokens=8)  # same prefix: served from the cache
    assert again.cached_tokens >= 256 and again.error is None


def test_unreachable_server_is_a_clear_error():
    backend = RemoteBackend(f"http://127.0.0.1:{_free_port()}/v1", None, timeout_s=5,
                            model="cpu-demo")
    with pytest.raises(EngineError, match="unreachable"):
        backend.generate([[{"role": "user", "content": "hi"}]], max_tokens=4)


def _running(server: str) -> float:
    """vLLM's gauge of requests being processed, from the server's Prometheus metrics."""
    with urllib.request.urlopen(server.removesuffix("/v1") + "/metrics", timeout=5) as response:
        text = response.read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("vllm:num_requests_running"))


def _until_idle(server: str, within_s: float = 5.0) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if _running(server) == 0:
            return True
        time.sleep(0.2)
    return False


def test_loop_guard_and_cancel_abort_the_request_on_the_server(server):
    backend = RemoteBackend(server, None, timeout_s=120)
    loop = [{"role": "user", "content": "The fee is due on Monday.\n" * 12
             + "\nContinue the list above exactly."}]
    *_, looped = list(backend.stream(loop, 600, sampling=Sampling(repetition_penalty=1.0)))
    assert looped.stop_reason == StopReason.LOOP and looped.completion_tokens < 100
    assert looped.text.count("The fee is due on Monday.") == 1
    assert _until_idle(server)  # the closed stream aborted the request on the server
    cancel = threading.Event()
    count = [{"role": "user", "content": "Count from one to three hundred in words."}]
    pieces = []
    for piece in backend.stream(count, 600, cancel=cancel):
        pieces.append(piece)
        if len(pieces) == 3:
            cancel.set()
    assert pieces[-1].stop_reason == StopReason.CANCELLED and len(pieces) <= 5
    assert _until_idle(server)

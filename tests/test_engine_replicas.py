"""Two `docscout engine serve` replicas of cpu-demo on CPU behind DOCSCOUT_VLLM_BASE_URL: the
model comes from the servers, a collection's questions stick to one replica (its prefix cached
there), move to the other when that one is killed, and collections never share cached blocks
(cache_salt). And a tiny-llama4 server: a Llama 4 vision model is counted locally, images
included, exactly as the server counts. Slow (~5 minutes on 2 cores), so marked `vllm`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from engine.served import RemoteTokenizer
from engine.service import Analyst
from ingest.pipeline import ingest_paths
from storage.repository import Store

from .conftest import SAMPLE_DOCS
from .test_engine_server import START_TIMEOUT_S, _free_port, _healthy

pytestmark = pytest.mark.vllm


def _finished(url: str) -> float:
    """Requests a server has finished, from vLLM's Prometheus metrics."""
    with urllib.request.urlopen(url.removesuffix("/v1") + "/metrics", timeout=5) as response:
        text = response.read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("vllm:request_success_total"))


def _start(profile: str, count: int, folder, models_dir) -> dict[str, subprocess.Popen]:
    """`count` servers of `profile` started together, once all are healthy: {url: process}."""
    env = {**os.environ, "DOCSCOUT_DATA_DIR": str(folder),
           "DOCSCOUT_MODELS_DIR": str(models_dir), "DOCSCOUT_CPU_KVCACHE_GIB": "1"}
    started: dict[str, subprocess.Popen] = {}
    logs = []
    for n in range(count):
        port = _free_port()
        logs.append(folder / f"{profile}-{n}.log")
        with logs[-1].open("wb") as out:
            started[f"http://127.0.0.1:{port}/v1"] = subprocess.Popen(
                [sys.executable, "-m", "app.cli", "engine", "serve", "--profile", profile,
                 "--port", str(port)],
                env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + START_TIMEOUT_S
    for log, (url, proc) in zip(logs, started.items(), strict=True):
        while not _healthy(url.removesuffix("/v1") + "/health"):
            if proc.poll() is not None or time.monotonic() > deadline:
                _stop(started)
                pytest.fail(f"engine serve did not come up:\n{log.read_text()[-3000:]}")
            time.sleep(2)
    return started


def _stop(started: dict[str, subprocess.Popen]) -> None:
    for proc in started.values():
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)


@pytest.fixture(scope="module")
def replicas(tmp_path_factory, shared_models_dir):
    """Two cpu-demo servers: {url: process}."""
    started = _start("cpu-demo", 2, tmp_path_factory.mktemp("replicas"), shared_models_dir)
    yield started
    _stop(started)


@pytest.fixture(scope="module")
def llama4_server(tmp_path_factory, shared_models_dir):
    """One tiny-llama4 server (Scout's tokenizer, template and image processor)."""
    started = _start("tiny-llama4", 1, tmp_path_factory.mktemp("llama4"), shared_models_dir)
    yield next(iter(started))
    _stop(started)


def test_a_collection_sticks_to_a_replica_and_moves_when_it_is_killed(replicas, settings):
    urls = list(replicas)
    remote = settings.model_copy(update={"vllm_base_url": ",".join(urls),
                                         "max_answer_tokens": 24})
    store = Store(remote)
    docs = [SAMPLE_DOCS / "contract.pdf", SAMPLE_DOCS / "report.pdf"]
    ingest_paths(docs, "deal", store, remote)
    ingest_paths(docs, "deal copy", store, remote)  # another tenant, the very same prompts
    analyst = Analyst.open(remote, store)

    profile = analyst.profile  # from the server: nothing was loaded here
    assert (profile.name, profile.max_model_len, profile.vision) == ("cpu-demo", 8192, False)
    assert "locally" in analyst.served.counting  # the served folder's own tokenizer
    context = analyst.context("deal", "What is the monthly fee?")
    messages = analyst.messages(context, "What is the monthly fee?")
    assert analyst.tokenizer.count_messages(messages) == RemoteTokenizer(
        analyst.backend).count_messages(messages)

    home = analyst.backend.replica_for("deal")
    other = next(url for url in urls if url != home)
    before = {url: _finished(url) for url in urls}
    cold = analyst.ask("deal", "What is the monthly fee in the services agreement?")
    warm = analyst.ask("deal", "How many days of notice end the agreement?")
    assert cold.error is None and warm.error is None and warm.model == "cpu-demo"
    assert _finished(home) - before[home] == 2 and _finished(other) == before[other]
    assert warm.usage.cached_tokens / warm.usage.prompt_tokens >= 0.95

    os.killpg(replicas[home].pid, signal.SIGKILL)
    replicas[home].wait(timeout=30)
    moved = analyst.ask("deal", "What is the monthly fee in the services agreement?")
    assert moved.error is None and _finished(other) == before[other] + 1
    again = analyst.ask("deal", "How many days of notice end the agreement?")
    assert again.usage.cached_tokens / again.usage.prompt_tokens >= 0.95  # cached there now
    tenant = analyst.ask("deal copy", "How many days of notice end the agreement?")
    assert tenant.error is None and tenant.usage.prompt_tokens == again.usage.prompt_tokens
    assert tenant.usage.cached_tokens == 0  # same prompt, another collection: its own cache


def test_a_llama4_vision_server_gets_images_counted_as_it_counts_them(llama4_server, settings):
    remote = settings.model_copy(update={"vllm_base_url": llama4_server, "max_answer_tokens": 8})
    store = Store(remote)
    ingest_paths([SAMPLE_DOCS / "charts"], "charts", store, remote)
    analyst = Analyst.open(remote, store)
    profile = analyst.profile
    assert (profile.name, profile.vision, profile.family) == ("tiny-llama4", True, "llama4")
    assert analyst.served.counting == "Meta's Llama 4 tokenizer, locally"
    question = "What does the revenue chart show?"
    counted = analyst.tokenizer.count_messages(
        analyst.messages(analyst.context("charts", question), question))
    answer = analyst.ask("charts", question)
    assert answer.error is None and answer.usage.prompt_image_tokens > 0
    assert answer.usage.prompt_tokens == counted  # the server read what DocScout counted

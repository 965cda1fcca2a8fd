"""Exact prompt token counts, computed without running the model.

vLLM turns an OpenAI-style chat request into tokens in three steps, and so do we:

1. parts -> conversation: a template that loops over `message.content` ("openai" content format,
   Llama 4's) gets the parts as `{"type": "text"}` / `{"type": "image"}` dicts in order; any other
   template ("string" format, e.g. ChatML) gets the text parts joined with "\\n".
2. the chat template renders it with `add_generation_prompt=True`; an image part becomes the
   template's one-token placeholder (`<|image|>` for Llama 4);
3. the rendered string is tokenized with special tokens recognised and no BOS added (the template
   writes it), and every placeholder expands to the image's full token span.

`Llama4PromptTokenizer` does step 3 with tiktoken over Meta's `tokenizer.model` (core.tokens;
~6M tokens/s, no model folder needed) and the image rule of core.tokens. `HFPromptTokenizer` uses
a model folder's own tokenizer and chat template (text-only models). tests/test_engine_vllm.py
proves both equal vLLM's `prompt_token_ids`.

`neutralize` makes special-token look-alikes in untrusted text (documents, questions) plain
text, so a document can never end a turn or fake an image: every `<|` gets a zero-width space
after the `<`. All special tokens of Llama 4 and of ChatML models start with `<|`. Count and send
the neutralized text, never the raw one.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
from pathlib import Path

from core.tokens import count_image_tokens, count_text_tokens, llama4_encoding
from engine.profiles import ModelProfile
from engine.types import PromptTokenizer
from engine.vllm_compat import prepare_torchvision

ZERO_WIDTH_SPACE = "\u200b"
LLAMA4_IMAGE_PLACEHOLDER = "<|image|>"
IMAGE_PART_TYPES = {"image_url", "image_pil", "input_image"}


def neutralize(text: str) -> str:
    """`text` with every special-token look-alike (`<|eot|>`, `<|image|>`, `<|im_start|>`...)
    broken by a zero-width space, so that tokenizers read it as plain text. Idempotent."""
    return text.replace("<|", "<" + ZERO_WIDTH_SPACE + "|")


# --- request parsing, as vLLM's chat renderer does it ----------------------------------------


def image_size(part: dict) -> tuple[int, int]:
    """(width, height) of an image content part: an OpenAI `image_url` with a data URL, or a
    PIL image under `image_pil`. Only the image header is read."""
    if part.get("type") == "image_pil":
        return part["image_pil"].size
    url = part.get("image_url")
    url = url.get("url") if isinstance(url, dict) else url
    if not isinstance(url, str) or not url.startswith("data:") or "," not in url:
        raise ValueError("image parts must carry a data: URL (data:image/png;base64,...)")
    from PIL import Image

    try:
        data = base64.b64decode(url.split(",", 1)[1], validate=False)
        with Image.open(io.BytesIO(data)) as img:
            return img.size
    except (binascii.Error, OSError) as exc:
        raise ValueError(f"unreadable image in request: {exc}") from exc


def _parts(content) -> list[dict]:
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [{"type": "text", "text": p} if isinstance(p, str) else p for p in content]


def conversation(
    messages: list[dict], openai_format: bool
) -> tuple[list[dict], list[tuple[int, int]]]:
    """The conversation vLLM hands to the chat template, and the sizes of its images in order.
    In "string" format (templates that take text only) the text parts are joined with "\\n"."""
    out: list[dict] = []
    sizes: list[tuple[int, int]] = []
    for message in messages:
        rendered: list[dict] = []
        for part in _parts(message.get("content")):
            kind = part.get("type")
            if kind == "text":
                rendered.append({"type": "text", "text": part["text"]})
            elif kind in IMAGE_PART_TYPES:
                if not openai_format:
                    raise ValueError("this model's chat template takes no images")
                sizes.append(image_size(part))
                rendered.append({"type": "image"})
            else:
                raise ValueError(f"unsupported content part type: {kind!r}")
        msg = {k: v for k, v in message.items() if k != "content"}
        msg["content"] = rendered if openai_format else "\n".join(p["text"] for p in rendered)
        out.append(msg)
    return out, sizes


def takes_content_parts(chat_template: str) -> bool:
    """True when the template loops over a message's content (vLLM's "openai" content format)."""
    import jinja2
    from jinja2 import nodes

    prepare_torchvision()  # transformers imports torchvision
    from transformers.utils.chat_template_utils import _compile_jinja_template

    try:  # transformers' environment, as vLLM parses it (knows `{% generation %}` blocks)
        ast = _compile_jinja_template(chat_template).environment.parse(chat_template)
    except jinja2.TemplateError:
        return False
    for loop in ast.find_all(nodes.For):
        it = loop.iter
        if isinstance(it, nodes.Getitem) and isinstance(it.arg, nodes.Const):
            if it.arg.value == "content":
                return True
        if isinstance(it, nodes.Getattr) and it.attr == "content":
            return True
        if isinstance(it, nodes.Name) and it.name == "content":
            return True
    return False


# --- Llama 4 -----------------------------------------------------------------------------------


def default_llama4_template() -> str:
    """The Llama 4 chat template, as transformers ships it (and Scout's folder carries)."""
    prepare_torchvision()  # transformers imports torchvision
    from transformers.models.llama4.processing_llama4 import chat_template

    return chat_template


class Llama4PromptTokenizer:
    """Token counts of Llama 4 Scout (and tiny-llama4), from Meta's tokenizer file."""

    bos_token = "<|begin_of_text|>"

    def __init__(self, chat_template: str | None = None, max_tiles: int = 16):
        self.chat_template = chat_template or default_llama4_template()
        self.max_tiles = max_tiles
        self._openai_format = takes_content_parts(self.chat_template)

    def count_text(self, text: str) -> int:
        return count_text_tokens(text)

    def count_image(self, width: int, height: int) -> int | None:
        return count_image_tokens(width, height, self.max_tiles)

    def render(self, messages: list[dict]) -> tuple[str, list[tuple[int, int]]]:
        """The prompt string vLLM builds (one `<|image|>` per image) and the image sizes."""
        from transformers.utils.chat_template_utils import render_jinja_template

        conv, sizes = conversation(messages, self._openai_format)
        rendered, _ = render_jinja_template(
            conversations=[conv],
            chat_template=self.chat_template,
            add_generation_prompt=True,
            bos_token=self.bos_token,
            eos_token="<|eot|>",
        )
        return rendered[0], sizes

    def count_messages(self, messages: list[dict]) -> int:
        prompt, sizes = self.render(messages)
        enc = llama4_encoding()
        ids = enc.encode(prompt, allowed_special="all")
        placeholder = enc.encode_single_token(LLAMA4_IMAGE_PLACEHOLDER)
        if ids.count(placeholder) != len(sizes):
            raise ValueError(
                f"{len(sizes)} images in the request but {ids.count(placeholder)} image "
                "placeholders in the rendered prompt (the template dropped or added some)"
            )
        return len(ids) + sum(self.count_image(w, h) - 1 for w, h in sizes)


# --- any Hugging Face model folder -------------------------------------------------------------


class HFPromptTokenizer:
    """Token counts from a model folder's own tokenizer and chat template (text-only)."""

    def __init__(self, model_dir: Path | str):
        prepare_torchvision()  # transformers imports torchvision
        from transformers import AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
        template = self.tokenizer.chat_template
        if not isinstance(template, str):
            raise ValueError(f"{model_dir} has no chat template")
        self._openai_format = takes_content_parts(template)

    def count_text(self, text: str) -> int:
        return len(self.tokenizer.encode(text, add_special_tokens=False)) if text else 0

    def count_image(self, width: int, height: int) -> int | None:
        return None

    def render(self, messages: list[dict]) -> str:
        conv, sizes = conversation(messages, self._openai_format)
        if sizes:
            raise ValueError("this model takes no images")
        return self.tokenizer.apply_chat_template(conv, tokenize=False, add_generation_prompt=True)

    def count_messages(self, messages: list[dict]) -> int:
        return len(self.tokenizer.encode(self.render(messages), add_special_tokens=False))


def _folder_template(folder: Path) -> str | None:
    """The chat template a local model folder carries, where transformers would find it."""
    jinja = folder / "chat_template.jinja"
    if jinja.is_file():
        return jinja.read_text()
    for name in ("chat_template.json", "processor_config.json", "tokenizer_config.json"):
        path = folder / name
        if path.is_file():
            template = json.loads(path.read_text()).get("chat_template")
            if isinstance(template, str):
                return template
    return None


def prompt_tokenizer(profile: ModelProfile) -> PromptTokenizer:
    """The PromptTokenizer that counts exactly what `profile`'s vLLM will."""
    if profile.family == "llama4":
        folder = Path(profile.model)
        template = _folder_template(folder) if folder.is_dir() else None
        return Llama4PromptTokenizer(template)
    return HFPromptTokenizer(profile.model)

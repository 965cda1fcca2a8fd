"""The model a vLLM server serves, as the server describes it (DOCSCOUT_VLLM_BASE_URL): DocScout
then builds prompts for that model and never loads or converts one of its own.

- name and window: the server's model card (`/v1/models`: `id`, `max_model_len`, `root`); the one
  DOCSCOUT_VLLM_MODEL names, else the only (or first) one.
- vision: whether the server's `/tokenize` takes a chat request with an image ("... is not a
  multimodal model" when not).
- tokenizer family and counting: `/tokenize` of a probe text is compared with Meta's Llama 4
  tokenizer (core.tokens), then with the tokenizer of the card's `root` when this machine has it
  without a download (the same folder, or the Hugging Face cache). A local tokenizer is used only
  when it also counts a probe chat request (template, and an image for a Llama 4 vision model)
  exactly as the server does; else every count is the server's `/tokenize` (cached per text).
  Why local first: a segment's count costs ~1 ms or less locally (Llama 4's tiktoken: a tenth
  of that) against ~3 ms a /tokenize call over loopback, more across a network, and it loads
  the server (bench/engine.py prints both); focused mode counts hundreds of pieces a question.

Only the family "llama4" reads images (its image token rule is core.tokens'); counted by the
server, a model reads text only, as a local non-Llama-4 folder does (engine.costs).
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass

from core.errors import EngineError
from core.settings import Settings
from core.tokens import llama4_encoding
from engine.profiles import ModelProfile, sampling_for
from engine.remote import TOKENIZE_TIMEOUT_S, RemoteBackend, ServerDown
from engine.replicas import Replicas, base_urls, unreachable
from engine.tokenizer import HFPromptTokenizer, Llama4PromptTokenizer
from engine.types import PromptTokenizer

PROBE_TEXT = ("DocScout probe: naïve café, 12,345.67 tokens\n\tdef f(x): return x**2  # ☃ 東京\n"
              "[D1 p.3]\n| Q1 | US$18,750 |\n\n")
PROBE_IMAGE = (500, 300)  # two Llama 4 tiles and a global one
_REMOTE_CACHE = 200_000  # texts whose server count is kept


@dataclass
class Served:
    """What a remote engine is: its profile (as the server describes it), how DocScout counts
    its tokens, and the backend over its replicas."""

    profile: ModelProfile
    tokenizer: PromptTokenizer
    backend: Replicas
    counting: str  # how tokens are counted, said in the engine's status


def connect(settings: Settings) -> Served:
    """Ask the servers of DOCSCOUT_VLLM_BASE_URL what they serve (the first that answers says);
    an EngineError in one line when none answers or the named model is not served."""
    urls = base_urls(settings.vllm_base_url or "")
    card = _first_card(urls, settings)
    servers = [RemoteBackend(url, settings.vllm_api_key, settings.request_timeout_s,
                             model=card["id"]) for url in urls]
    replicas = Replicas(servers)
    profile, tokenizer, counting = describe(replicas, card, settings)
    for server in servers:
        server.sampling = profile.sampling
    return Served(profile, tokenizer, replicas, counting)


def _first_card(urls: list[str], settings: Settings) -> dict:
    """The model card of the first server that answers."""
    failures: list[ServerDown] = []
    for url in urls:
        server = RemoteBackend(url, settings.vllm_api_key,
                               min(settings.request_timeout_s, TOKENIZE_TIMEOUT_S))
        try:
            return _card(server.models(), settings.vllm_model, url)
        except ServerDown as exc:
            failures.append(exc)
    raise unreachable(failures, ", ".join(urls))


def _card(cards: list[dict], wanted: str | None, url: str) -> dict:
    if not wanted:
        return cards[0]
    for card in cards:
        if card["id"] == wanted:
            return card
    served = ", ".join(repr(card["id"]) for card in cards)
    raise EngineError(f"the model server at {url} serves {served}, not DOCSCOUT_VLLM_MODEL="
                      f"{wanted!r}")


def describe(server: Replicas, card: dict, settings: Settings
             ) -> tuple[ModelProfile, PromptTokenizer, str]:
    """The profile of the served model `card`, its counter and how it counts."""
    name = card["id"]
    root = card.get("root") or name
    window = card.get("max_model_len") or server.tokenize({"prompt": "x"})["max_model_len"]
    vision = _takes_images(server)
    ids = server.tokenize({"prompt": PROBE_TEXT, "add_special_tokens": False})["tokens"]
    family = "llama4" if ids == llama4_encoding().encode_ordinary(PROBE_TEXT) else "hf"
    tokenizer, counting = _counter(server, family, vision, root, ids)
    profile = ModelProfile(name, root, int(window), vision, family, on_gpu=False,
                           sampling=sampling_for(name, settings))
    return profile, tokenizer, counting


def _takes_images(server: Replicas) -> bool:
    try:
        server.tokenize({"messages": [{"role": "user", "content": [_image_part(8, 8)]}]})
    except ServerDown:
        raise
    except EngineError as exc:
        if "multimodal" in str(exc):
            return False
        raise
    return True


def _image_part(width: int, height: int) -> dict:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (width, height), "white").save(out, format="PNG")
    url = "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()
    return {"type": "image_url", "image_url": {"url": url}}


def probe_messages(with_image: bool) -> list[dict]:
    """A chat request shaped like DocScout's (system text, user text parts, an image)."""
    parts: list[dict] = [{"type": "text", "text": PROBE_TEXT}]
    if with_image:
        parts.append(_image_part(*PROBE_IMAGE))
    parts.append({"type": "text", "text": "Question: what is the fee?"})
    return [{"role": "system", "content": "Answer from the documents."},
            {"role": "user", "content": parts}]


def _counter(server: Replicas, family: str, vision: bool, root: str, ids: list[int]
             ) -> tuple[PromptTokenizer, str]:
    """A local tokenizer that counts as the server does, else the server's /tokenize."""
    messages = probe_messages(family == "llama4" and vision)
    local = _local_candidate(family, root, ids)
    if local is not None:
        counter, how = local
        try:
            if counter.count_messages(messages) == server.tokenize(
                    {"messages": messages})["count"]:
                return counter, how
        except ValueError:
            pass  # e.g. a template that takes no content parts: let the server count
    return RemoteTokenizer(server), "the server's /tokenize"


def _local_candidate(family: str, root: str, ids: list[int]
                     ) -> tuple[PromptTokenizer, str] | None:
    if family == "llama4":
        return Llama4PromptTokenizer(), "Meta's Llama 4 tokenizer, locally"
    try:
        counter = HFPromptTokenizer(root)  # local files only: never a download
    except (OSError, ValueError, ImportError):
        return None
    if counter.tokenizer.encode(PROBE_TEXT, add_special_tokens=False) != ids:
        return None
    return counter, f"the tokenizer of {root}, locally"


class RemoteTokenizer:
    """Counts through the server's /tokenize: exact whatever the model, one HTTP call a count
    (text counts are cached). Reads no images: `count_image` is None."""

    def __init__(self, server: Replicas) -> None:
        self.server = server
        self._cache: dict[str, int] = {}

    def count_text(self, text: str) -> int:
        if not text:
            return 0
        n = self._cache.get(text)
        if n is None:
            if len(self._cache) >= _REMOTE_CACHE:
                self._cache.clear()
            n = self._cache[text] = self.server.tokenize(
                {"prompt": text, "add_special_tokens": False})["count"]
        return n

    def count_image(self, width: int, height: int) -> int | None:
        return None

    def count_messages(self, messages: list[dict]) -> int:
        return self.server.tokenize({"messages": messages})["count"]

"""Engine value types: what the model reads (Context), what it answered (Answer), and the one
interface every token counter satisfies. Pure values, like storage.domain.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from storage.domain import Document, Segment


class Mode(StrEnum):
    FULL = "full"  # the whole collection fits: every segment, in a stable order
    FOCUSED = "focused"  # the most relevant pages and files, in document order
    MAP_REDUCE = "map-reduce"  # one answer per window, then one combined answer


class PromptTokenizer(Protocol):
    """Counts tokens exactly as a model profile's vLLM will: text through the model's own
    tokenizer, images by its processor's rule, a chat request with its template."""

    def count_text(self, text: str) -> int:
        """Tokens of `text` inside a message (special-token look-alikes already neutralised)."""
        ...

    def count_image(self, width: int, height: int) -> int | None:
        """Prompt tokens of one image, or None when the model takes no images."""
        ...

    def count_messages(self, messages: list[dict]) -> int:
        """Exact prompt tokens of an OpenAI-style chat request, template included."""
        ...


@dataclass(frozen=True, slots=True)
class ContextItem:
    """One segment as it stands in the prompt: its label and what it costs there."""

    document: Document
    ordinal: int  # the segment's position in its document
    segment: Segment
    label: str  # "[D3 p.12]", "[src/app.py:10-42]"
    tokens: int  # label plus content, under the profile's tokenizer


@dataclass(frozen=True, slots=True)
class Context:
    mode: Mode
    budget: int  # tokens the corpus part may use
    items: tuple[ContextItem, ...]
    corpus_tokens: int  # tokens of the chosen items
    collection_tokens: int  # tokens of every segment of the collection, same tokenizer

    @property
    def read_fraction(self) -> float:
        return self.corpus_tokens / self.collection_tokens if self.collection_tokens else 1.0


@dataclass(frozen=True, slots=True)
class Citation:
    label: str  # as written in the answer, e.g. "[D3 p.12]"
    document: str | None  # source of the document it resolves to, None when it points nowhere
    page: int | None = None
    path: str | None = None
    line_start: int | None = None
    line_end: int | None = None
    valid: bool = False  # True only when it points at a segment that was in the prompt


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int = 0
    prompt_text_tokens: int = 0
    prompt_image_tokens: int = 0
    cached_tokens: int = 0
    completion_tokens: int = 0
    time_to_first_token_s: float | None = None
    total_time_s: float = 0.0


@dataclass(frozen=True, slots=True)
class Answer:
    question: str
    text: str
    mode: Mode
    citations: tuple[Citation, ...] = ()
    usage: Usage = field(default_factory=Usage)
    read_fraction: float = 1.0
    model: str = ""
    error: str | None = None  # set when the engine failed; text is then empty

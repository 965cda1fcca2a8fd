"""Engine value types: what the model reads (Context, ContextItem) and the one interface every
token counter satisfies. What it answered (Answer, Citation, Usage, Mode) is in core.domain.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from core.domain import Document, Mode, Segment


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
    # Why it was chosen (`docscout context`): "whole collection" (full mode), "search rank 3",
    # "overview" (a document's beginning), "same page as ..." (a page's image or text beside
    # the chosen one), "fill" (room left after the ranked pages).
    why: str = ""


@dataclass(frozen=True, slots=True)
class Context:
    mode: Mode
    budget: int  # tokens the corpus part may use
    items: tuple[ContextItem, ...]
    corpus_tokens: int  # tokens of the chosen items
    # Tokens of every segment of the collection the model can read, same tokenizer.
    collection_tokens: int
    # Segments the model cannot read, never in the prompt nor in `collection_tokens` (images,
    # for a text-only model): Llama 4 counts.
    skipped_tokens: int = 0

    @property
    def read_fraction(self) -> float:
        """The share of what the model can read that this context holds (1.0 in full mode,
        also for a text-only model over a collection with images)."""
        return self.corpus_tokens / self.collection_tokens if self.collection_tokens else 1.0

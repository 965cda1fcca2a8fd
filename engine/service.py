"""Answering questions over a collection: the one place that wires storage, context assembly,
prompt rendering, a model backend and citation checking. The CLI, the UI and reports call it.

    analyst = Analyst.open(settings, store)          # resolves the model profile; lazy backend
    answer = analyst.ask("DealRoom", "What is the termination notice period?")

Budget: the model's window less the answer's reserved tokens less the prompt's own overhead
(template, system prompt, question), so a prompt is never rejected for length; the exact count
of the rendered prompt is checked before it is sent. Full mode when the collection fits, else
focused; map-reduce on request (reports over collections far beyond the window).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from engine.backends import Backend, Generation
from engine.citations import infer_citations, parse_citations
from engine.context import assemble, windows
from engine.profiles import EngineError, ModelProfile, ensure_model, resolve_profile
from engine.prompt import prompt_overhead, render_messages, render_reduce_messages
from engine.tokenizer import neutralize, prompt_tokenizer
from engine.types import Answer, Context, Mode, PromptTokenizer, Usage
from storage.domain import SegmentKind
from storage.repository import Store
from storage.settings import Settings

Deltas = Callable[[str], None]
MIN_CORPUS_TOKENS = 256  # a question must leave at least this much of the window to documents


@dataclass
class Analyst:
    settings: Settings
    store: Store
    profile: ModelProfile
    tokenizer: PromptTokenizer
    _backend: Backend | None = None

    @staticmethod
    def open(settings: Settings, store: Store, backend: Backend | None = None) -> "Analyst":
        """An analyst for the configured profile; the backend (a model load, or a connection to
        a server) is made on the first question unless one is given."""
        profile = resolve_profile(settings)
        ensure_model(profile, settings)  # tiny-llama4 and cpu-demo are made locally, once
        return Analyst(settings, store, profile, prompt_tokenizer(profile), backend)

    @property
    def backend(self) -> Backend:
        if self._backend is None:
            self._backend = make_backend(self.profile, self.settings)
        return self._backend

    @property
    def answer_budget(self) -> int:
        return self.settings.max_answer_tokens

    # -- context -------------------------------------------------------------------------------

    def overhead(self, question: str, mode: Mode) -> int:
        """Prompt tokens besides the documents: template, instructions and the question."""
        return prompt_overhead(self.tokenizer, mode, question, neutralize)

    def budget_for(self, question: str) -> int:
        """Tokens the corpus may take for this question in this model's window."""
        overhead = max(self.overhead(question, mode) for mode in Mode)
        budget = self.profile.max_model_len - self.answer_budget - overhead
        if budget < MIN_CORPUS_TOKENS:
            raise EngineError(
                f"the question is too long for {self.profile.name}'s {self.profile.max_model_len}"
                f"-token window: it leaves {max(budget, 0)} tokens for the documents")
        return budget

    def context(self, collection: str, question: str, budget: int | None = None) -> Context:
        """What the model would read for `question` (full or focused), without calling it."""
        return assemble(
            self.store.collection_segments(collection),
            question,
            self.tokenizer,
            self.budget_for(question) if budget is None else budget,
            max_images=self._max_images,
            search=lambda query, k: self.store.search(collection, query, k),
            llama4_counts=self.profile.family == "llama4",
            neutralize=neutralize,
        )

    @property
    def _max_images(self) -> int:
        return self.settings.limit_mm_per_prompt_image if self.profile.vision else 0

    def messages(self, context: Context, question: str) -> list[dict]:
        """The chat request for a context; its exact size is checked against the window."""
        messages = render_messages(context, question, self._image, neutralize)
        size = self.tokenizer.count_messages(messages)
        if size + self.answer_budget > self.profile.max_model_len:  # a bug, never the user's
            raise EngineError(f"internal error: a {size}-token prompt does not fit the "
                              f"{self.profile.max_model_len}-token window")
        return messages

    def _image(self, sha256: str) -> tuple[bytes, str]:
        image = self.store.image(sha256)
        if image is None:
            raise EngineError(f"image {sha256[:12]} is missing from the database")
        return image.data, image.mime

    # -- answers -------------------------------------------------------------------------------

    def ask(self, collection: str, question: str, *, mode: Mode | None = None,
            on_delta: Deltas | None = None) -> Answer:
        """Answer one question, streaming text to `on_delta`; the answer (or the error) is
        stored in the collection's history either way."""
        start = time.perf_counter()
        try:
            if mode == Mode.MAP_REDUCE:
                answer = self._map_reduce(collection, question)
            else:
                context = self.context(collection, question)
                generation = self._stream(self.messages(context, question), on_delta)
                answer = self._answer(question, context, generation)
        except EngineError as exc:
            answer = Answer(question, "", mode or Mode.FULL, model=self.profile.name,
                            error=str(exc), usage=Usage(total_time_s=time.perf_counter() - start))
        return self.store.save_answer(collection, answer)

    def ask_many(self, collection: str, questions: Sequence[str]) -> list[Answer]:
        """Answer several questions in one batch: vLLM schedules them together and computes the
        collection's shared prefix once."""
        contexts = [self.context(collection, q) for q in questions]
        try:
            generations = self.backend.generate(
                [self.messages(c, q) for c, q in zip(contexts, questions)], self.answer_budget)
        except EngineError as exc:
            generations = [Generation("", error=str(exc)) for _ in questions]
        return [self.store.save_answer(collection, self._answer(q, c, g))
                for q, c, g in zip(questions, contexts, generations)]

    def _stream(self, messages: list[dict], on_delta: Deltas | None) -> Generation:
        if on_delta is None:
            return self.backend.generate([messages], self.answer_budget)[0]
        final = None
        for piece in self.backend.stream(messages, self.answer_budget):
            if isinstance(piece, Generation):
                final = piece
            else:
                on_delta(piece)
        if final is None:
            raise EngineError("the model stream ended without a result")
        return final

    def _answer(self, question: str, context: Context, generation: Generation) -> Answer:
        image_tokens = sum(i.segment.tokens for i in context.items
                           if i.segment.kind == SegmentKind.IMAGE)
        usage = Usage(
            prompt_tokens=generation.prompt_tokens,
            prompt_text_tokens=max(0, generation.prompt_tokens - image_tokens),
            prompt_image_tokens=image_tokens,
            cached_tokens=generation.cached_tokens,
            completion_tokens=generation.completion_tokens,
            time_to_first_token_s=generation.time_to_first_token_s,
            total_time_s=generation.total_time_s,
        )
        return Answer(
            question=question,
            text=generation.text,
            mode=context.mode,
            citations=(parse_citations(generation.text, context.items)
                       or infer_citations(generation.text, context.items)),
            usage=usage,
            read_fraction=context.read_fraction,
            model=self.profile.name,
            error=generation.error,
        )

    def _map_reduce(self, collection: str, question: str) -> Answer:
        """One answer per window of the whole collection, then one answer from those."""
        parts = windows(self.store.collection_segments(collection), self.tokenizer,
                        self.budget_for(question), self._max_images,
                        llama4_counts=self.profile.family == "llama4", neutralize=neutralize)
        partials = self.backend.generate([self.messages(w, question) for w in parts],
                                         self.answer_budget)
        failed = [g.error for g in partials if g.error]
        if failed:
            raise EngineError(f"{len(failed)} of {len(parts)} windows failed: {failed[0]}")
        reduce = render_reduce_messages(question, [g.text for g in partials], neutralize)
        final = self.backend.generate([reduce], self.answer_budget)[0]
        items = tuple(item for w in parts for item in w.items)
        merged = Context(Mode.MAP_REDUCE, sum(w.budget for w in parts), items,
                         sum(w.corpus_tokens for w in parts),
                         parts[0].collection_tokens if parts else 0)
        answer = self._answer(question, merged, final)
        every = [*partials, final]
        usage = replace(
            answer.usage,
            prompt_tokens=sum(g.prompt_tokens for g in every),
            cached_tokens=sum(g.cached_tokens for g in every),
            completion_tokens=sum(g.completion_tokens for g in every),
            total_time_s=sum(g.total_time_s for g in every),
        )
        return replace(answer, usage=usage)


def make_backend(profile: ModelProfile, settings: Settings) -> Backend:
    """A client of the configured vLLM server, else the profile's model loaded in-process."""
    if settings.vllm_base_url:
        from engine.remote import RemoteBackend

        return RemoteBackend(settings.vllm_base_url, settings.vllm_api_key,
                             settings.request_timeout_s)
    from engine.backends import VllmBackend

    return VllmBackend(profile, settings)

"""Answering questions over a collection: the one place that wires storage, context assembly,
prompt rendering, a model backend and citation checking. The CLI, the UI and reports call it.

    analyst = Analyst.open(settings, store)          # resolves the model profile; lazy backend
    answer = analyst.ask("DealRoom", "What is the termination notice period?")

Budget: the model's window less the answer's reserved tokens less the prompt's own overhead
(template, system prompt, question), so a prompt is never rejected for length; the exact count
of the rendered prompt is checked before it is sent. Which mode a question reads the collection
in is decided in one place, `Analyst.plan`: full when the collection fits, else focused;
map-reduce on request or (reports) far beyond the window. `ask_many`
answers a batch (reports): every request goes to the backend at once, map-reduce windows
included, and one question's failure is that answer's error, never the batch's.

Conversations: `ask(..., chat=id)` answers a follow-up with the chat's last answered turns in
the prompt, after the corpus (engine.prompt), and focused mode searches for the conversation's
recent questions together with the new one ("and when is it due?" alone finds nothing).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from threading import Event
from typing import TYPE_CHECKING

from core.domain import STOP_MESSAGES, Answer, Mode, SegmentKind, StopReason, Usage
from core.errors import EngineError, StorageError
from core.settings import Settings
from engine.backends import Backend, Done, Generation
from engine.citations import answer_citations
from engine.grounding import not_found_text, unsupported
from engine.packing import assemble
from engine.profiles import ModelProfile, ensure_model, resolve_profile
from engine.prompt import Turn, prompt_overhead, render_messages, render_reduce_messages
from engine.tokenizer import neutralize, prompt_tokenizer
from engine.types import Context, PromptTokenizer
from engine.windows import windows
from storage.repository import Store

if TYPE_CHECKING:
    from engine.served import Served

Deltas = Callable[[str], None]
MIN_CORPUS_TOKENS = 256  # a question must leave at least this much of the window to documents
READ_MODES = (Mode.FULL, Mode.FOCUSED, Mode.MAP_REDUCE)  # what an answer can have read
FACT_ANSWER_TOKENS = 192  # a fact, a sentence of context and citations fit with room to spare
HISTORY_TURNS = 3  # earlier turns of a conversation a follow-up is answered with
HISTORY_ANSWER_CHARS = 1500  # each earlier answer, cut to this (its opening holds the answer)
SEARCH_TURNS = 2  # earlier questions searched for together with a follow-up
_FACT_START = re.compile(
    r"^\s*(?:what|when|who|whom|whose|which|where|how (?:much|many|long|often|old)|is|are|was|"
    r"were|does|do|did|has|have|can|on what|in what|by how much)\b", re.IGNORECASE)
_OPEN_ENDED = re.compile(
    r"\b(?:summar\w*|list|explain\w*|describe|compare|comparison|why|how (?:does|do|did|is|are|"
    r"to)|walk|overview|every|detail\w*|steps|discuss|analy[sz]e|risks?|outline)\b",
    re.IGNORECASE)


def is_fact_question(question: str) -> bool:
    """A short question asking for one fact: worth a short answer budget."""
    return (len(question) <= 200 and bool(_FACT_START.match(question))
            and not _OPEN_ENDED.search(question))


@dataclass
class Analyst:
    settings: Settings
    store: Store
    _profile: ModelProfile | None  # None until the vLLM server has described its model
    _tokenizer: PromptTokenizer | None
    _backend: Backend | None = None
    served: Served | None = None  # the remote engine, once described

    @staticmethod
    def open(settings: Settings, store: Store, backend: Backend | None = None) -> "Analyst":
        """An analyst for the configured profile; the backend (a model load, or a connection to
        a server) is made on the first question unless one is given. With
        DOCSCOUT_VLLM_BASE_URL the model is the server's, described on first use
        (engine.served): nothing is loaded, and a server that is down fails the first question,
        which is kept in the history."""
        if settings.vllm_base_url:
            return Analyst(settings, store, None, None, backend)
        profile = resolve_profile(settings)
        ensure_model(profile, settings)  # tiny-llama4 and cpu-demo are made locally, once
        return Analyst(settings, store, profile, prompt_tokenizer(profile), backend)

    @property
    def profile(self) -> ModelProfile:
        if self._profile is None:
            self._connect()
        return self._profile

    @property
    def tokenizer(self) -> PromptTokenizer:
        if self._tokenizer is None:
            self._connect()
        return self._tokenizer

    @property
    def backend(self) -> Backend:
        if self._backend is None and self.settings.vllm_base_url:
            self._connect()
        if self._backend is None:
            self._backend = make_backend(self.profile, self.settings)
        return self._backend

    def _connect(self) -> None:
        """Ask the vLLM server(s) what they serve: EngineError when none answers."""
        from engine.served import connect

        self.served = connect(self.settings)
        self._profile, self._tokenizer = self.served.profile, self.served.tokenizer
        self._backend = self._backend or self.served.backend

    @property
    def model_name(self) -> str:
        """The model's name for the history, also before a server could describe it."""
        if self._profile is not None:
            return self._profile.name
        return self.settings.vllm_model or "vLLM server"

    @property
    def answer_budget(self) -> int:
        """Tokens reserved in the window for an answer, and the most any answer may take."""
        return self.settings.max_answer_tokens or self.profile.sampling.max_tokens

    def max_tokens_for(self, question: str) -> int:
        """The most tokens this question's answer may take: a short factual question (what,
        when, who, how much...) needs a sentence and its citation, not the whole answer budget,
        so a model that rambles or loops is cut early (the answer is then marked `length`)."""
        return min(self.answer_budget, FACT_ANSWER_TOKENS) if is_fact_question(question) \
            else self.answer_budget

    # -- context -------------------------------------------------------------------------------

    def overhead(self, question: str, mode: Mode, history: Sequence[Turn] = ()) -> int:
        """Prompt tokens besides the documents: template, instructions, the question and the
        conversation's earlier turns."""
        return prompt_overhead(self.tokenizer, mode, question, neutralize, history)

    def budget_for(self, question: str, history: Sequence[Turn] = ()) -> int:
        """Tokens the corpus may take for this question in this model's window."""
        overhead = max(self.overhead(question, mode, history) for mode in READ_MODES)
        budget = self.profile.max_model_len - self.answer_budget - overhead
        if budget < MIN_CORPUS_TOKENS:
            raise EngineError(
                f"the question is too long for {self.profile.name}'s {self.profile.max_model_len}"
                f"-token window: it leaves {max(budget, 0)} tokens for the documents")
        return budget

    def context(self, collection: str, question: str, budget: int | None = None,
                documents: Sequence[str] | None = None, history: Sequence[Turn] = ()
                ) -> Context:
        """What the model would read for `question` (full or focused), without calling it;
        only from the documents named in `documents` (sources) when given. A follow-up
        (`history`: the conversation's earlier turns) leaves room for them and is searched for
        with the recent questions."""
        segments = self.store.collection_segments(collection, documents)
        if documents is not None and not segments:
            raise EngineError(f"none of {', '.join(map(repr, documents))} is a readable "
                              f"document of {collection!r}")
        return assemble(
            segments,
            search_query(question, history),
            self.tokenizer,
            self.budget_for(question, history) if budget is None else budget,
            max_images=self._max_images,
            search=lambda query, k: self.store.search(collection, query, k, documents),
            llama4_counts=self.profile.family == "llama4",
            neutralize=neutralize,
        )

    @property
    def _max_images(self) -> int:
        return self.settings.limit_mm_per_prompt_image if self.profile.vision else 0

    def messages(self, context: Context, question: str, history: Sequence[Turn] = ()
                 ) -> list[dict]:
        """The chat request for a context; its exact size is checked against the window."""
        messages = render_messages(context, question, self._image, neutralize, history)
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

    # -- the one mode policy ---------------------------------------------------------------------

    def plan(self, collection: str, question: str, mode: Mode = Mode.AUTO, *,
             map_reduce_factor: float = 0, documents: Sequence[str] | None = None,
             history: Sequence[Turn] = ()) -> list[Context]:
        """The contexts `question` is answered from, decided here for every front end (CLI, UI,
        reports): one context, or a map-reduce question's windows. What each mode asks for:

        - AUTO: the whole collection when it fits (full), else its most relevant pages and
          files (focused); map-reduce when the collection holds more than `map_reduce_factor`
          windows' worth of tokens (0, the default, never: interactive asks stay one prompt;
          reports pass DOCSCOUT_REPORT_MAP_REDUCE_FACTOR).
        - FOCUSED: one prompt, never map-reduce (the whole collection when it fits).
        - FULL: the whole collection in one prompt, else an EngineError saying it does not fit.
        - MAP_REDUCE: every window of the collection.

        A follow-up (`history`) reads the same way; its windows in map-reduce are answered
        for its search query (the recent questions together), without the earlier answers.
        """
        if mode == Mode.MAP_REDUCE:
            return self._windows(collection, search_query(question, history), documents)
        context = self.context(collection, question, documents=documents, history=history)
        if mode == Mode.FULL and context.mode != Mode.FULL:
            raise EngineError(
                f"the collection ({context.collection_tokens:,} tokens) does not fit "
                f"{self.profile.name}'s window in full mode; ask in auto or map-reduce mode")
        far_beyond = (map_reduce_factor > 0
                      and context.collection_tokens > map_reduce_factor * context.budget)
        if mode == Mode.AUTO and context.mode == Mode.FOCUSED and far_beyond:
            return self._windows(collection, search_query(question, history), documents)
        return [context]

    def _windows(self, collection: str, question: str, documents: Sequence[str] | None
                 ) -> list[Context]:
        if documents is not None:
            raise EngineError("map-reduce reads the whole collection; ask about chosen "
                              "documents in auto mode")
        contexts = windows(self.store.collection_segments(collection), self.tokenizer,
                           self.budget_for(question), self._max_images,
                           llama4_counts=self.profile.family == "llama4", neutralize=neutralize)
        if not contexts:
            raise EngineError("the collection holds nothing the model can read")
        return contexts

    # -- answers -------------------------------------------------------------------------------

    def ask(self, collection: str, question: str, *, mode: Mode = Mode.AUTO,
            on_delta: Deltas | None = None, cancel: Event | None = None,
            documents: Sequence[str] | None = None, remember: bool = True,
            chat: int | None = None, waited_s: float = 0.0) -> Answer:
        """Answer one question, streaming text to `on_delta`; the answer (or the error) is
        stored in the collection's history either way. Setting `cancel` stops generation at
        once (the partial answer is kept, marked cancelled); so does Ctrl-C, which is then
        raised again once the partial answer is stored. `documents` (sources) limits what is
        read to those documents of the collection; `remember=False` keeps the answer out of the
        history (evaluation runs). With `chat`, the question is a turn of that conversation
        (Store.start_chat): answered with its earlier turns, and stored as its next turn.
        `waited_s` is how long the question waited for the engine (a front end's queue), kept
        in its usage."""
        start = time.perf_counter()
        said: list[str] = []
        history = self.history(chat) if chat is not None else ()

        def delta(piece: str) -> None:
            said.append(piece)
            if on_delta is not None:
                on_delta(piece)

        def failed(reason: StopReason, error: str) -> Answer:
            return Answer(question, "".join(said), _recorded(mode), model=self.model_name,
                          error=error, stop_reason=reason, chat_id=chat,
                          usage=Usage(total_time_s=time.perf_counter() - start, wait_s=waited_s))

        try:
            contexts = self.plan(collection, question, mode, documents=documents,
                                 history=history)
            if contexts[0].mode == Mode.MAP_REDUCE:
                query = search_query(question, history)
                answer = self._answer_jobs([self._prepared(query, contexts)], collection,
                                           cancel)[0]
                answer = replace(answer, question=question)
            else:
                generation = self._stream(self.messages(contexts[0], question, history),
                                          self.max_tokens_for(question), delta, cancel,
                                          collection)
                answer = self._answer(question, contexts[0], generation)
            answer = replace(answer, chat_id=chat, usage=replace(answer.usage, wait_s=waited_s))
        except (EngineError, StorageError) as exc:  # StorageError: e.g. focused mode's search
            answer = failed(StopReason.ERROR, str(exc))
        except KeyboardInterrupt:
            if remember:
                self.store.save_answer(collection, failed(
                    StopReason.CANCELLED, STOP_MESSAGES[StopReason.CANCELLED]))
            raise
        return self.store.save_answer(collection, answer) if remember else answer

    def stopped_waiting(self, collection: str, question: str, mode: Mode = Mode.AUTO, *,
                        chat: int | None = None, waited_s: float = 0.0) -> Answer:
        """Store a question its asker stopped while it waited for the engine (a front end's
        queue): no text, marked stopped by the user."""
        return self.store.save_answer(collection, Answer(
            question, "", _recorded(mode), model=self.model_name, chat_id=chat,
            error=STOP_MESSAGES[StopReason.CANCELLED], stop_reason=StopReason.CANCELLED,
            usage=Usage(wait_s=waited_s)))

    def history(self, chat: int) -> tuple[Turn, ...]:
        """The turns of a conversation a follow-up is answered with: its last `HISTORY_TURNS`
        answered ones (failed, stopped and looping turns left out), each answer cut to
        `HISTORY_ANSWER_CHARS`."""
        turns = [a for a in self.store.chat_turns(chat) if a.ok][-HISTORY_TURNS:]
        return tuple((a.question, _cut(a.text, HISTORY_ANSWER_CHARS)) for a in turns)

    def ask_many(self, collection: str, questions: Sequence[str],
                 modes: Sequence[Mode] | None = None, *, map_reduce_factor: float = 0,
                 cancel: Event | None = None,
                 on_answer: Callable[[int, Answer], None] | None = None) -> list[Answer]:
        """Answer several questions in one batch: vLLM schedules them together and computes the
        collection's shared prefix once. Each question's mode (AUTO by default) is decided by
        `plan`, with `map_reduce_factor`; the windows of every map-reduce question join the same
        batch and their combining requests follow in a second one. A question that fails (too
        long, too big for full mode, refused by the backend) gets its error; the others are
        answered. `on_answer(index, answer)` hears of each question's answer (or failure) as
        soon as it is known, in the caller's thread, so a front end can show progress while
        the batch runs. Every answer and error is stored in the history, in question order,
        once the batch is done."""
        modes = modes or [Mode.AUTO] * len(questions)
        jobs = [self._job(collection, q, m, map_reduce_factor)
                for q, m in zip(questions, modes, strict=True)]
        answers = self._answer_jobs(jobs, collection, cancel, on_answer)
        return [self.store.save_answer(collection, answer) for answer in answers]

    def _answer_jobs(self, jobs: list[_Job], collection: str, cancel: Event | None = None,
                     on_answer: Callable[[int, Answer], None] | None = None) -> list[Answer]:
        """Every job's answer: the requests of all of them in one batch, then the combining
        requests of the map-reduce ones in a second. `on_answer(index, answer)` is called once
        per job as soon as its answer is known: a job that failed planning at once, a
        one-request job when its request finishes, a map-reduce job when its combining request
        finishes (or when its windows are done and one of them failed)."""
        answers: dict[int, Answer] = {}

        def settle(n: int) -> None:
            answers[n] = self._job_answer(jobs[n])
            if on_answer is not None:
                on_answer(n, answers[n])

        for n, job in enumerate(jobs):
            if job.error is not None:
                settle(n)
        live = [n for n, job in enumerate(jobs) if job.error is None]
        owner = [n for n in live for _ in jobs[n].requests]  # the job of each request
        spans: dict[int, list[int]] = {}  # each job's requests
        for i, n in enumerate(owner):
            spans.setdefault(n, []).append(i)
        got: dict[int, Generation] = {}

        def request_done(i: int, generation: Generation) -> None:
            got[i] = generation
            n = owner[i]
            if all(k in got for k in spans[n]):
                jobs[n].generations = [got[k] for k in spans[n]]
                if jobs[n].mode != Mode.MAP_REDUCE or jobs[n].map_failed() is not None:
                    settle(n)

        self._generate_each([r for n in live for r in jobs[n].requests], collection, cancel,
                            request_done)
        reducing = [n for n in live
                    if jobs[n].mode == Mode.MAP_REDUCE and jobs[n].map_failed() is None]

        def combined(i: int, final: Generation) -> None:
            jobs[reducing[i]].generations.append(final)
            settle(reducing[i])

        self._generate_each([render_reduce_messages(
            jobs[n].question, [g.text for g in jobs[n].generations], neutralize)
            for n in reducing], collection, cancel, combined)
        return [answers[n] for n in range(len(jobs))]

    def _job(self, collection: str, question: str, mode: Mode, map_reduce_factor: float
             ) -> _Job:
        try:
            contexts = self.plan(collection, question, mode, map_reduce_factor=map_reduce_factor)
            return self._prepared(question, contexts)
        except (EngineError, StorageError) as exc:
            return _Job(question, _recorded(mode), [], [], error=str(exc))

    def _prepared(self, question: str, contexts: list[Context]) -> _Job:
        """A planned question with its requests rendered, ready for the batch."""
        return _Job(question, contexts[0].mode, contexts,
                    [self.messages(c, question) for c in contexts])

    def _generate_each(self, requests: list[list[dict]], collection: str,
                       cancel: Event | None = None, on_done: Done | None = None
                       ) -> list[Generation]:
        """Every request in one batch; `on_done(index, generation)` exactly once per request,
        as it finishes. When the batch fails as a whole, the requests it finished are kept and
        each other one is retried alone, so a request the backend refuses fails only its own
        question; when the first two retries fail too, the failure is the backend's (down,
        timed out) and the remaining requests get its error without being retried."""
        results: dict[int, Generation] = {}

        def finished(index: int, generation: Generation) -> None:
            if index not in results:
                results[index] = generation
                if on_done is not None:
                    on_done(index, generation)

        def failed(message: str) -> Generation:
            return Generation("", error=message, stop_reason=StopReason.ERROR)

        if not requests:
            return []
        try:
            batch = self.backend.generate(requests, self.answer_budget, cancel=cancel,
                                          on_done=finished, collection=collection)
        except EngineError as exc:
            batch_error = str(exc)
        else:
            for index, generation in enumerate(batch):  # a backend that reported nothing
                finished(index, generation)
            return batch
        retried: list[Generation] = []
        for index, messages in enumerate(requests):
            if index in results:
                continue
            if len(requests) == 1 or (len(retried) >= 2 and retried[0].error
                                      and retried[1].error):
                finished(index, failed(batch_error))
                continue
            try:
                [generation] = self.backend.generate([messages], self.answer_budget,
                                                     cancel=cancel, collection=collection)
            except EngineError as exc:
                generation = failed(str(exc))
            retried.append(generation)
            finished(index, generation)
        return [results[index] for index in range(len(requests))]

    def _job_answer(self, job: _Job) -> Answer:
        error = job.error or job.map_failed() or next(
            (g.error for g in job.generations if g.error), None)
        if error is not None:
            total = max((g.total_time_s for g in job.generations), default=0.0)
            return Answer(job.question, "", job.mode, model=self.model_name,
                          error=error, usage=Usage(total_time_s=total),
                          stop_reason=StopReason.ERROR)
        if job.mode != Mode.MAP_REDUCE:
            return self._answer(job.question, job.contexts[0], job.generations[0])
        return self._combine(job.question, job.contexts, job.generations[:-1],
                             job.generations[-1])

    def _stream(self, messages: list[dict], max_tokens: int, on_delta: Deltas,
                cancel: Event | None, collection: str) -> Generation:
        final = None
        for piece in self.backend.stream(messages, max_tokens, cancel=cancel,
                                         collection=collection):
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
        reason = StopReason.ERROR if generation.error else generation.stop_reason
        error = generation.error or STOP_MESSAGES.get(reason)
        text = generation.text
        own, found = answer_citations(text, context.items, question)
        # The model's own citations when one of them holds the claim; else DocScout's, beside
        # the model's (which are then flagged).
        citations = own if any(c.valid for c in own) else (*own, *found)
        if error is None and text.strip():
            # Check the answer against the passages it rests on (engine.grounding); an answer
            # about something else than the question says so instead.
            doubt = unsupported(question, text, context.items, (*own, *found))
            if doubt is not None:
                text = not_found_text(text, doubt)
                citations = tuple(c for c in own if not c.valid)  # keep only what to flag
        return Answer(
            question=question,
            text=text,
            mode=context.mode,
            citations=citations,
            usage=usage,
            read_fraction=context.read_fraction,
            model=self.profile.name,
            error=error,
            stop_reason=reason,
        )

    def _combine(self, question: str, parts: list[Context], partials: list[Generation],
                 final: Generation) -> Answer:
        """A map-reduce answer: the combined text, checked against every window's items. The
        windows ran as one batch, so its time is the batch's plus the combining request's."""
        items = tuple(item for w in parts for item in w.items)
        merged = Context(Mode.MAP_REDUCE, sum(w.budget for w in parts), items,
                         sum(w.corpus_tokens for w in parts), parts[0].collection_tokens)
        answer = self._answer(question, merged, final)
        every = [*partials, final]
        usage = replace(
            answer.usage,
            prompt_tokens=sum(g.prompt_tokens for g in every),
            cached_tokens=sum(g.cached_tokens for g in every),
            completion_tokens=sum(g.completion_tokens for g in every),
            total_time_s=max(g.total_time_s for g in partials) + final.total_time_s,
        )
        return replace(answer, usage=usage)


def search_query(question: str, history: Sequence[Turn] = ()) -> str:
    """What focused mode searches for: a follow-up with the conversation's recent questions
    (a follow-up alone, "who signed it?", names nothing to find)."""
    return " ".join([*(q for q, _ in history[-SEARCH_TURNS:]), question])


def _cut(text: str, limit: int) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + " …"


def _recorded(mode: Mode) -> Mode:
    """The mode an answer that failed before its mode was decided is stored with."""
    return Mode.FULL if mode in (Mode.AUTO, Mode.FOCUSED) else mode


@dataclass
class _Job:
    """One question of a batch: its contexts (one, or a map-reduce question's windows), their
    requests, and then their generations (a map-reduce question's combining one last)."""

    question: str
    mode: Mode  # as decided (FULL, FOCUSED, MAP_REDUCE); as asked when planning failed
    contexts: list[Context]
    requests: list[list[dict]]
    error: str | None = None
    generations: list[Generation] = field(default_factory=list)

    def map_failed(self) -> str | None:
        """For a map-reduce question whose windows have run: the first window's error."""
        if self.mode != Mode.MAP_REDUCE:
            return None
        failed = [g.error for g in self.generations[:len(self.contexts)] if g.error]
        return f"{len(failed)} of {len(self.contexts)} windows failed: {failed[0]}" if failed \
            else None


def make_backend(profile: ModelProfile, settings: Settings) -> Backend:
    """A client of the configured vLLM server(s), else the profile's model loaded in-process."""
    if settings.vllm_base_url:
        from engine.served import connect

        return connect(settings).backend
    from engine.backends import VllmBackend

    return VllmBackend(profile, settings)

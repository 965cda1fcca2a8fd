"""Running a report: every question of a spec answered over its collection in one batch.

All questions go to `Analyst.ask_many` together, so vLLM schedules them at once and computes the
collection's prefix (system prompt and documents, rendered byte-identically for every question
in full mode) once; map-reduce questions' windows join the same batch and their combining
requests follow in a second one. A question that fails keeps its error and the rest go on.

How a question reads the collection (`mode` in the spec, per report or per question):
- auto: the whole collection when it fits the window (full), else the most relevant pages
  (focused); but map-reduce when the collection holds more than `report_map_reduce_factor`
  windows' worth of tokens (default 4: focused would read under a quarter of it, and a report
  is worth the time to read everything). The factor is a setting; 0 turns this off. The
  decision is the engine's (`Analyst.plan`), made once per question.
- full: the whole collection in one prompt, or the question fails saying it does not fit.
- focused: one prompt, never map-reduce (the whole collection when it fits).
- map-reduce: every window, then one combined answer.

Progress goes to `on_progress(done, total, message)` as each answer comes back from the batch
(`Analyst.ask_many`'s `on_answer`): `done` counts the questions finished, and the message says
how many were answered and how many failed, and why ("3 of 7 questions answered; 1 failed (1
loop); 3 in progress"). An answer that is not `Answer.ok` (an error, or stopped: loop, timeout,
cancelled, or empty) is counted as failed, never as answered.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from app.reports.spec import Question, ReportSpec
from core.domain import Answer, ReportStatus, StopReason
from engine.service import READ_MODES, Analyst

Progress = Callable[[int, int, str], None]


@dataclass(frozen=True, slots=True)
class ReportItem:
    """One question of the report, with its section and its answer (or error)."""

    section: str
    question: Question
    answer: Answer

    @property
    def failed(self) -> bool:
        return not self.answer.ok  # an error, or stopped (loop, timeout, cancel), or empty


@dataclass(frozen=True, slots=True)
class ReportRun:
    """A spec's questions answered: what the renderers draw."""

    spec: ReportSpec
    items: tuple[ReportItem, ...]
    model: str
    started_at: datetime
    elapsed_s: float

    @property
    def failed(self) -> list[ReportItem]:
        return [item for item in self.items if item.failed]

    @property
    def status(self) -> ReportStatus:
        if not self.failed:
            return ReportStatus.OK
        return ReportStatus.FAILED if len(self.failed) == len(self.items) else ReportStatus.PARTIAL


def run_report(analyst: Analyst, spec: ReportSpec, on_progress: Progress | None = None
               ) -> ReportRun:
    """Answer every question of `spec` over its collection in one batch (see the module
    docstring); the answers are also kept in the collection's history."""
    progress = on_progress or (lambda done, total, message: None)
    pairs = spec.questions
    total = len(pairs)
    started_at, start = datetime.now(UTC), time.perf_counter()
    progress(0, total, f"Answering {total} questions over {spec.collection!r} in one batch on "
             f"{analyst.profile.name}")
    finished: dict[int, Answer] = {}

    def answered(index: int, answer: Answer) -> None:
        finished[index] = answer
        progress(len(finished), total, tally(list(finished.values()), total))

    answers = analyst.ask_many(spec.collection, [q.text for _, q in pairs],
                               [q.mode for _, q in pairs],
                               map_reduce_factor=analyst.settings.report_map_reduce_factor,
                               on_answer=answered)
    items = tuple(ReportItem(s.heading, q, a) for (s, q), a in zip(pairs, answers, strict=True))
    run = ReportRun(spec, items, analyst.profile.name, started_at, time.perf_counter() - start)
    progress(total, total, f"{tally(answers, total)} ({_describe_modes(answers)})")
    return run


def tally(answers: Sequence[Answer], total: int) -> str:
    """How far a batch is: "3 of 7 questions answered; 2 failed (1 loop, 1 error); 2 in
    progress". Only `Answer.ok` answers count as answered."""
    failures = Counter(_failure(a) for a in answers if not a.ok)
    text = f"{sum(a.ok for a in answers)} of {total} questions answered"
    if failures:
        text += (f"; {failures.total()} failed ("
                 + ", ".join(f"{n} {why}" for why, n in failures.most_common()) + ")")
    if len(answers) < total:
        text += f"; {total - len(answers)} in progress"
    return text


def _failure(answer: Answer) -> str:
    """Why an answer does not count: its stop reason (loop, timeout, cancelled, empty), else
    "error"."""
    if answer.stop_reason not in (None, StopReason.STOP, StopReason.LENGTH):
        return "stopped" if answer.stop_reason == StopReason.CANCELLED \
            else answer.stop_reason.value
    return "error" if answer.error else "empty"


def _describe_modes(answers: list[Answer]) -> str:
    counts = {m: sum(a.mode == m for a in answers) for m in READ_MODES}
    return ", ".join(f"{n} {m.value}" for m, n in counts.items() if n)

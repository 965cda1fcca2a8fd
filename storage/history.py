"""What was asked of a collection: the answers (its history) and evaluation runs."""

from __future__ import annotations

from dataclasses import asdict

from sqlalchemy import select

from core.domain import Answer, Citation, EvalRun, Mode, StopReason, Usage
from storage.orm import AnswerRow, EvalRunRow
from storage.sessions import Sessions


class HistoryStore(Sessions):
    # -- answers (the history) ------------------------------------------------------------------

    def save_answer(self, collection: str, answer: Answer) -> Answer:
        """Store a question and its answer (or error); returns it with its time set."""
        with self._transaction() as session:
            row = AnswerRow(
                collection_id=self._collection(session, collection).id,
                question=answer.question,
                text=answer.text,
                mode=answer.mode.value,
                model=answer.model,
                error=answer.error,
                citations=[asdict(c) for c in answer.citations],
                usage=asdict(answer.usage),
                read_fraction=answer.read_fraction,
                stop_reason=answer.stop_reason.value if answer.stop_reason else None,
            )
            session.add(row)
            session.flush()
            return _answer(row)

    def answers(self, collection: str, limit: int = 100) -> list[Answer]:
        """The latest answers of a collection, newest first."""
        with self._sessions() as session:
            coll = self._collection(session, collection)
            rows = session.scalars(
                select(AnswerRow)
                .where(AnswerRow.collection_id == coll.id)
                .order_by(AnswerRow.id.desc())
                .limit(limit)
            )
            return [_answer(r) for r in rows]

    # -- evaluation runs -------------------------------------------------------------------------

    def save_eval_run(self, collection: str, question_set: str, model: str, summary: dict,
                      results: list[dict]) -> EvalRun:
        """Keep one `docscout eval` run (JSON-ready summary and per-question results)."""
        with self._transaction() as session:
            row = EvalRunRow(collection_id=self._collection(session, collection).id,
                             question_set=question_set, model=model, summary=summary,
                             results=results)
            session.add(row)
            session.flush()
            return EvalRun(row.id, collection, row.question_set, row.model, row.summary,
                           row.created_at, tuple(row.results))

    def eval_runs(self, collection: str, limit: int = 50) -> list[EvalRun]:
        """A collection's evaluation runs, newest first, without their per-question results."""
        with self._sessions() as session:
            coll = self._collection(session, collection)
            rows = session.scalars(select(EvalRunRow).where(EvalRunRow.collection_id == coll.id)
                                   .order_by(EvalRunRow.id.desc()).limit(limit))
            return [EvalRun(r.id, collection, r.question_set, r.model, r.summary, r.created_at)
                    for r in rows]


def _answer(row: AnswerRow) -> Answer:
    return Answer(
        question=row.question,
        text=row.text,
        mode=Mode(row.mode),
        citations=tuple(Citation(**c) for c in row.citations),
        usage=Usage(**row.usage),
        read_fraction=row.read_fraction,
        model=row.model,
        error=row.error,
        asked_at=row.created_at,
        stop_reason=StopReason(row.stop_reason) if row.stop_reason else None,
    )

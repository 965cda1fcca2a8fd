"""What was asked of a collection: the answers (its history), the conversations (chats) that group
answers into turns, and evaluation runs."""

from __future__ import annotations

from dataclasses import asdict

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.domain import Answer, Chat, Citation, EvalRun, Mode, StopReason, Usage
from core.errors import StorageError
from storage.orm import AnswerRow, ChatRow, CollectionRow, EvalRunRow, _now
from storage.sessions import Sessions

MAX_TITLE = 80


class HistoryStore(Sessions):
    # -- answers (the history) ------------------------------------------------------------------

    def save_answer(self, collection: str, answer: Answer) -> Answer:
        """Store a question and its answer (or error), as a turn of `answer.chat_id` when set;
        returns it with its id and time set."""
        with self._transaction() as session:
            coll = self._collection(session, collection)
            if answer.chat_id is not None:
                chat = self._chat_row(session, answer.chat_id)
                if chat.collection_id != coll.id:
                    raise StorageError(f"chat {answer.chat_id} belongs to another collection")
                chat.updated_at = _now()
            row = AnswerRow(
                collection_id=coll.id,
                chat_id=answer.chat_id,
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

    # -- conversations ---------------------------------------------------------------------------

    def start_chat(self, collection: str, title: str) -> Chat:
        """A new, empty conversation with `collection`, titled by its first question."""
        title = " ".join(title.split())
        title = title if len(title) <= MAX_TITLE else title[: MAX_TITLE - 1] + "…"
        with self._transaction() as session:
            row = ChatRow(collection_id=self._collection(session, collection).id,
                          title=title or "New chat")
            session.add(row)
            session.flush()
            return Chat(row.id, collection, row.title, row.created_at, row.updated_at)

    def chats(self, collection: str, limit: int = 50) -> list[Chat]:
        """A collection's conversations, the latest active first, with their turn counts."""
        turns = (select(AnswerRow.chat_id, func.count(AnswerRow.id).label("turns"))
                 .group_by(AnswerRow.chat_id).subquery())
        with self._sessions() as session:
            coll = self._collection(session, collection)
            rows = session.execute(
                select(ChatRow, func.coalesce(turns.c.turns, 0))
                .outerjoin(turns, turns.c.chat_id == ChatRow.id)
                .where(ChatRow.collection_id == coll.id)
                .order_by(ChatRow.updated_at.desc(), ChatRow.id.desc())
                .limit(limit))
            return [Chat(r.id, collection, r.title, r.created_at, r.updated_at, n)
                    for r, n in rows]

    def chat(self, chat_id: int) -> Chat:
        """One conversation (StorageError when there is none of that id)."""
        with self._sessions() as session:
            row = self._chat_row(session, chat_id)
            name = session.scalar(select(CollectionRow.name)
                                  .where(CollectionRow.id == row.collection_id))
            count = session.scalar(select(func.count(AnswerRow.id))
                                   .where(AnswerRow.chat_id == chat_id))
            return Chat(row.id, name, row.title, row.created_at, row.updated_at, count or 0)

    def chat_turns(self, chat_id: int) -> list[Answer]:
        """A conversation's answers (errors and stopped ones included), oldest first."""
        with self._sessions() as session:
            self._chat_row(session, chat_id)
            rows = session.scalars(select(AnswerRow).where(AnswerRow.chat_id == chat_id)
                                   .order_by(AnswerRow.id))
            return [_answer(r) for r in rows]

    def delete_chat(self, chat_id: int) -> None:
        """Forget a conversation; its answers stay in the collection's history."""
        with self._transaction() as session:
            row = self._chat_row(session, chat_id)
            for answer in session.scalars(select(AnswerRow).where(AnswerRow.chat_id == chat_id)):
                answer.chat_id = None  # what ON DELETE SET NULL does, on every database
            session.delete(row)

    @staticmethod
    def _chat_row(session: Session, chat_id: int) -> ChatRow:
        row = session.get(ChatRow, chat_id)
        if row is None:
            raise StorageError(f"no chat with id {chat_id}")
        return row

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
        chat_id=row.chat_id,
        id=row.id,
    )

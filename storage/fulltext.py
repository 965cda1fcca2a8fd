"""Full-text search with one code path per database, chosen by the session's dialect; both give
the same hits: (source, segment id, ordinal, score), best first, a lower score being better
(bm25, negated, as SQLite's FTS5 reports it).

- SQLite: the FTS5 index of migration 0001 and FTS5's own bm25().
- PostgreSQL: the stored tsvector and its GIN index of migration 0007 find the segments holding
  any of the words; Okapi BM25 is then computed in SQL over those segments with FTS5's constants
  (k1 = 1.2, b = 0.75) and its statistics (document frequencies and average length over every
  indexed segment), so both databases rank pages alike.

Why BM25 by hand on PostgreSQL: its own ts_rank and ts_rank_cd know no inverse document
frequency (a word on every page weighs as much as a rare one), so focused mode would read other
pages than on SQLite. The maintained BM25 extensions (ParadeDB's pg_search, VectorChord-bm25,
Timescale's pg_textsearch) are packaged neither by Debian nor on PyPI, so a stock server could
not load them. The hand-written part is small: one term-frequency call per query word, through
ts_rank_cd, which with all weights 1 and no normalisation counts exactly the word's occurrences.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session

from core.errors import StorageError

K1, B = 1.2, 0.75  # FTS5's bm25 defaults
MIN_IDF = 1e-6  # FTS5's floor for a word on more than half the segments
POSTGRESQL_CONFIG = "english"  # the text search configuration migration 0007 indexes with


class Match(NamedTuple):
    source: str
    id: int  # the segment's row id
    ordinal: int
    score: float


def query_words(query: str) -> list[str]:
    """A user's words, letters, digits and underscores only, so punctuation cannot break either
    database's query syntax."""
    words = ["".join(ch for ch in w if ch.isalnum() or ch == "_") for w in query.split()]
    return [w for w in words if w]


def ranked(session: Session, collection: str, words: Sequence[str], limit: int,
           sources: Sequence[str] | None = None) -> list[Match]:
    """The `limit` best segments of `collection` holding any of `words`, best first; only in
    the documents named in `sources` when given."""
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        return _sqlite(session, collection, words, limit, sources)
    if dialect == "postgresql":
        return _postgresql(session, collection, words, limit, sources)
    raise StorageError(f"full-text search needs SQLite or PostgreSQL, not {dialect}")


def _sqlite(session: Session, collection: str, words: Sequence[str], limit: int,
            sources: Sequence[str] | None) -> list[Match]:
    sql = (
        "SELECT d.source, s.id, s.ordinal, bm25(segments_fts) AS score FROM segments_fts "
        "JOIN segments s ON s.id = segments_fts.rowid "
        "JOIN documents d ON d.id = s.document_id "
        "JOIN collections c ON c.id = d.collection_id "
        f"WHERE segments_fts MATCH :q AND c.name = :c{_scope(sources)} ORDER BY score LIMIT :n"
    )
    query = " OR ".join(f'"{w}"' for w in words)  # quoted terms: FTS5 syntax cannot break
    return _run(session, sql, {"q": query, "c": collection, "n": limit}, sources)


def _postgresql(session: Session, collection: str, words: Sequence[str], limit: int,
                sources: Sequence[str] | None) -> list[Match]:
    lexemes = session.scalar(
        text("SELECT tsvector_to_array(to_tsvector(CAST(:config AS regconfig), :q))"),
        {"config": POSTGRESQL_CONFIG, "q": " ".join(words)},
    )
    if not lexemes:  # only stop words ("what is the")
        return []
    segments, avg_tokens = session.execute(
        text("SELECT count(*), avg(tokens) FROM segments WHERE fts IS NOT NULL")
    ).one()
    params: dict = {"c": collection, "n": limit, "avgdl": float(avg_tokens or 1),
                    "k1": K1, "b": B, "any": " | ".join(map(_tsquery_term, lexemes))}
    columns, parts = [], []
    for i, lexeme in enumerate(lexemes):
        params[f"t{i}"] = _tsquery_term(lexeme)
        params[f"w{i}"] = _idf(segments, _frequency(session, params[f"t{i}"])) * (K1 + 1)
        columns.append(f"ts_rank_cd('{{1,1,1,1}}', s.fts, CAST(:t{i} AS tsquery), 0) AS tf{i}")
        parts.append(f":w{i} * tf{i} / (tf{i} + norm)")
    # MATERIALIZED: each term frequency is computed once per segment, not once per use.
    sql = (
        "WITH m AS MATERIALIZED (SELECT d.source, s.id, s.ordinal, "
        ":k1 * (1 - :b + :b * s.tokens / :avgdl) AS norm, " + ", ".join(columns) + " "
        "FROM segments s JOIN documents d ON d.id = s.document_id "
        "JOIN collections c ON c.id = d.collection_id "
        f"WHERE s.fts @@ CAST(:any AS tsquery) AND c.name = :c{_scope(sources)}) "
        "SELECT source, id, ordinal, -(" + " + ".join(parts) + ") AS score "
        "FROM m ORDER BY score, id LIMIT :n"
    )
    return _run(session, sql, params, sources)


def _frequency(session: Session, term: str) -> int:
    """How many indexed segments hold `term` (the GIN index answers it)."""
    return session.scalar(
        text("SELECT count(*) FROM segments WHERE fts @@ CAST(:t AS tsquery)"), {"t": term}
    )


def _idf(segments: int, holding: int) -> float:
    """FTS5's inverse document frequency, floored as FTS5 floors it."""
    return max(math.log((segments - holding + 0.5) / (holding + 0.5)), MIN_IDF)


def _tsquery_term(lexeme: str) -> str:
    """A lexeme as one quoted tsquery operand (no operator in it can take effect)."""
    return "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"


def _scope(sources: Sequence[str] | None) -> str:
    return " AND d.source IN :sources" if sources is not None else ""


def _run(session: Session, sql: str, params: dict, sources: Sequence[str] | None
         ) -> list[Match]:
    statement = text(sql)
    if sources is not None:
        statement = statement.bindparams(bindparam("sources", expanding=True))
        params = {**params, "sources": list(sources)}
    return [Match(*row) for row in session.execute(statement, params)]

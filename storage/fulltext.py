"""Full-text search with one code path per database, chosen by the session's dialect; both give
the same hits: (source, segment id, ordinal, score), best first, a lower score being better
(bm25, negated, as SQLite's FTS5 reports it).

- SQLite: the FTS5 index of migration 0001 and FTS5's own bm25().
- PostgreSQL: the stored tsvector (Porter stems, stop words kept, as FTS5's porter tokenizer
  indexes) and its GIN index of migration 0007 find the segments holding any of the words; Okapi BM25 is then computed in one SQL statement with FTS5's constants
  (k1 = 1.2, b = 0.75, idf floored at 1e-6). Its statistics (segment count, mean length, how
  many segments hold each word) are the collection's, where FTS5 takes them over every
  collection; a length is the segment's token count. Over one collection both give the same
  scores (tests/test_storage.py).

Why BM25 by hand on PostgreSQL: its own ts_rank and ts_rank_cd know no inverse document
frequency (a word on every page weighs as much as a rare one), so focused mode would read other
pages than on SQLite. No maintained BM25 extension (ParadeDB's pg_search, VectorChord-bm25,
Timescale's pg_textsearch) is packaged by Debian or on PyPI, so a stock server could not load
one; Debian's RUM index only speeds up ts_rank's order, without idf.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import NamedTuple

from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session

from core.errors import StorageError

K1, B = 1.2, 0.75  # FTS5's bm25 defaults
MIN_IDF = 1e-6  # FTS5's floor for a word on more than half the segments
POSTGRESQL_CONFIG = "docscout_porter"  # migration 0007's: Porter stems, stop words kept


class Match(NamedTuple):
    source: str
    id: int  # the segment's row id
    ordinal: int
    score: float


def query_words(query: str) -> list[str]:
    """A user's words, letters, digits and underscores only, so punctuation cannot break either
    database's query syntax. A word is cut at its punctuation, as both indexes cut the text
    they hold: "2,000", "e-commerce" and "U.S." are the words "2" "000", "e" "commerce" and
    "U" "S" there, so the pieces find them where the glued "2000", "ecommerce" and "US" never
    did (recall@8K on mmlb-dev, bench/retrieval.py: 86.2% to 87.8% of 181 alone)."""
    return [w for w in _PUNCTUATION.split(query) if w]


_PUNCTUATION = re.compile(r"[^\w]+")  # \w: letters, digits (any script) and the underscore


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
    if not lexemes:
        return []
    terms = range(len(lexemes))
    params: dict = {"c": collection, "n": limit, "k1": K1, "b": B, "min_idf": MIN_IDF,
                    "any": " | ".join(map(_tsquery_term, lexemes))}
    params.update({f"t{i}": _tsquery_term(lexeme) for i, lexeme in enumerate(lexemes)})
    # One statement: the collection's matching segments with each word's frequency in them (m),
    # the count and mean length of its indexed segments (corpus), how many matches hold each
    # word (df); then the best of them, only in the documents named when `sources` is given.
    # The statistics stay the collection's when a few documents are searched, as FTS5's stay
    # the whole index's: a word on every page of the one document asked about still counts.
    frequencies = ", ".join(f"{_TF.format(i=i)} AS tf{i}" for i in terms)
    holding = ", ".join(f"count(*) FILTER (WHERE tf{i} > 0) AS df{i}" for i in terms)
    bm25 = " + ".join(
        f"greatest(ln(CAST(n - df{i} + 0.5 AS float8) / (df{i} + 0.5)), :min_idf)"
        f" * tf{i} * (:k1 + 1) / (tf{i} + :k1 * (1 - :b + :b * m.tokens / avgdl))" for i in terms)
    sql = (
        f"WITH m AS MATERIALIZED (SELECT d.source, s.id, s.ordinal, s.tokens, {frequencies} "
        f"{_SEARCHED} s.fts @@ CAST(:any AS tsquery)), "
        f"corpus AS (SELECT count(*) AS n, avg(s.tokens) AS avgdl {_SEARCHED} "
        "s.fts IS NOT NULL), "
        f"df AS (SELECT {holding} FROM m) "
        f"SELECT m.source, m.id, m.ordinal, -({bm25}) AS score FROM m, corpus, df "
        + ("WHERE m.source IN :sources " if sources is not None else "")
        + "ORDER BY score, m.id LIMIT :n"
    )
    return _run(session, sql, params, sources)


# The segments of the collection searched; the caller appends its condition.
_SEARCHED = ("FROM segments s JOIN documents d ON d.id = s.document_id "
             "JOIN collections c ON c.id = d.collection_id WHERE c.name = :c AND")
# A word's frequency in a segment, read back from ts_rank (the cheaper of PostgreSQL's two rank
# functions): for a one-word query with every weight 1 it returns (1 + 1/2² + ... + 1/tf²)/ζ(2),
# and ζ(2) minus that sum is close to 1/(tf + 1/2), so the formula below gives tf back exactly
# (checked for 0 to 255, the most positions a tsvector keeps per word). ts_rank_cd would count
# occurrences directly (each is a cover of its own) but takes three times as long.
_TF = ("round(1 / (1.64493406685 * (1 - CAST(ts_rank('{{1,1,1,1}}', s.fts, CAST(:t{i} AS tsquery), "
       "0) AS float8))) - 0.5)")


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

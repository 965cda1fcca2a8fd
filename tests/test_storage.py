"""Storage: migrated schema, one-transaction saves, replacement rules, FTS, image dedupe."""

from __future__ import annotations

from dataclasses import replace

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from core.domain import (
    DocumentKind,
    Image,
    Locator,
    Original,
    ParsedDocument,
    SaveResult,
    Segment,
    SegmentKind,
    Status,
)
from core.errors import StorageError
from storage.db import make_engine, migrate
from storage.fulltext import query_words
from storage.orm import Base
from storage.repository import Store


def _image(tag: bytes) -> Image:
    import hashlib

    return Image(hashlib.sha256(tag).hexdigest(), 10, 10, "image/png", tag, 147)


def _parsed(source: str, words: str, sha: str = "a" * 64, image: Image | None = None,
            errors: list[str] | None = None) -> ParsedDocument:
    segments = [Segment(SegmentKind.TEXT, words, Locator(page=1), len(words.split()))]
    if image is not None:
        segments.append(Segment(SegmentKind.IMAGE, "", Locator(page=1), image.tokens, image.sha256))
    return ParsedDocument.build(
        source=source, kind=DocumentKind.PDF, sha256=sha, title=source,
        segments=segments, images=[image] if image else [], errors=errors or [], size_bytes=10,
        pages=1,
    )


@pytest.fixture
def store(settings):
    s = Store(settings)
    s.ensure_collection("c")
    yield s
    s.close()


def test_blank_database_gets_the_orm_schema(database_url):
    engine = make_engine(database_url)
    migrate(engine)
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as conn:
        # The full-text index is not in the ORM: FTS5's tables (segments_fts, segments_fts_data,
        # ...) on SQLite, the segments.fts column and its index ix_segments_fts on PostgreSQL.
        context = MigrationContext.configure(conn, opts={
            "include_name": lambda name, *_: "segments_fts" not in (name or ""),
            "include_object": lambda obj, name, kind, *_: not (kind == "column" and name == "fts"),
        })
        diffs = compare_metadata(context, Base.metadata)
        inspector = inspect(conn)
        tables = set(inspector.get_table_names())
        version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        if sqlite:
            journal = conn.execute(text("PRAGMA journal_mode")).scalar()
            fks = conn.execute(text("PRAGMA foreign_keys")).scalar()
        else:
            fts = {c["name"]: str(c["type"]) for c in inspector.get_columns("segments")}["fts"]
            gin = conn.execute(text("SELECT indexdef FROM pg_indexes "
                                    "WHERE indexname = 'ix_segments_fts'")).scalar()
    engine.dispose()
    assert diffs == []
    assert {"collections", "documents", "images", "segments"} <= tables
    assert {"answers", "originals", "reports", "eval_runs", "chats"} <= tables
    assert version == "0009"
    if sqlite:
        assert "segments_fts" in tables and (journal, fks) == ("wal", 1)
    else:
        assert fts == "TSVECTOR" and "USING gin (fts)" in gin


def test_save_list_and_search(store):
    assert store.save("c", _parsed("a.pdf", "quarterly revenue grew"), 1) == SaveResult.STORED
    docs = store.documents("c")
    assert [(d.source, d.status, d.text_tokens) for d in docs] == [("a.pdf", Status.OK, 3)]
    hits = store.search("c", "revenue (drop table)")
    assert [h.source for h in hits] == ["a.pdf"] and hits[0].segment.locator.page == 1
    assert hits[0].ordinal == 0
    [(doc, segments)] = store.collection_segments("c")
    assert doc.source == "a.pdf" and [s.text for s in segments] == ["quarterly revenue grew"]
    assert store.find_by_sha256("c", "a" * 64, 1).source == "a.pdf"
    info = store.collections()[0]
    assert (info.name, info.documents, info.text_tokens) == ("c", 1, 3)


def _bm25(texts: dict[str, str], query: list[str]) -> dict[str, float]:
    """Okapi BM25 as FTS5 computes it (k1 1.2, b 0.75, idf floored at 1e-6), negated: the
    reference both databases' search must give for words no stemmer changes."""
    import math

    lengths = {s: len(t.split()) for s, t in texts.items()}
    mean = sum(lengths.values()) / len(texts)
    scores = {}
    for source, words in ((s, t.split()) for s, t in texts.items()):
        score = 0.0
        for term in query:
            holding = sum(term in t.split() for t in texts.values())
            idf = max(math.log((len(texts) - holding + 0.5) / (holding + 0.5)), 1e-6)
            tf = words.count(term)
            score += idf * tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * lengths[source] / mean))
        if score:
            scores[source] = -score
    return scores


def test_search_ranks_by_bm25_alike_on_every_database(store):
    texts = {"a.pdf": "zebra quartz lemon lemon", "b.pdf": "zebra cobalt",
             "c.pdf": "zebra vivid vivid vivid cobalt lemon", "d.pdf": "zebra plain words only",
             "e.pdf": "quartz quartz", "f.pdf": "cobalt lemon zebra", "g.pdf": "nothing else"}
    for n, (source, words) in enumerate(texts.items()):
        store.save("c", _parsed(source, words, sha=f"{n:064x}"), 1)
    expected = _bm25(texts, ["quartz", "lemon", "cobalt", "zebra"])
    hits = store.search("c", "Quartz, lemon; cobalt & zebra?", limit=10)
    assert [h.source for h in hits] == sorted(expected, key=expected.get)
    assert [h.score for h in hits] == pytest.approx([expected[h.source] for h in hits], rel=1e-4)
    assert hits[0].source == "e.pdf"  # the rarest word, twice, in the shortest page
    scoped = store.search("c", "zebra", limit=10, sources=["b.pdf", "g.pdf"])
    assert [h.source for h in scoped] == ["b.pdf"]
    assert len(store.search("c", "zebra", limit=2)) == 2
    # Words reduced alike (FTS5's porter tokenizer): plurals meet, "monthly" is not "month".
    store.save("c", _parsed("h.pdf", "monthly fees", sha="8" * 64), 1)
    store.save("c", _parsed("i.pdf", "two months of the fee", sha="9" * 64), 1)
    assert [h.source for h in store.search("c", "monthly")] == ["h.pdf"]
    assert {h.source for h in store.search("c", "fee")} == {"h.pdf", "i.pdf"}
    assert {h.source for h in store.search("c", "the")} == {"i.pdf"}  # stop words are kept


def test_a_word_with_punctuation_inside_is_searched_as_its_pieces(store):
    """Both indexes cut "2,000" into "2" and "000": the query's words are cut alike, else the
    glued "2000" finds nothing."""
    assert query_words("2,000 e-commerce; U.S. net_income (drop)") == [
        "2", "000", "e", "commerce", "U", "S", "net_income", "drop"]
    store.save("c", _parsed("a.pdf", "sales of 2,000 units", sha="1" * 64), 1)
    store.save("c", _parsed("b.pdf", "sales of many units", sha="2" * 64), 1)
    assert [h.source for h in store.search("c", "2,000")] == ["a.pdf"]
    assert [h.source for h in store.search("c", "2,000 sales")][0] == "a.pdf"


def test_new_version_replaces_old_and_keeps_fts_consistent(store):
    store.save("c", _parsed("a.pdf", "old words here"), 1)
    assert store.save("c", _parsed("a.pdf", "new content", sha="b" * 64), 1) == SaveResult.REPLACED
    assert store.search("c", "old") == []
    assert [h.source for h in store.search("c", "content")] == ["a.pdf"]
    if store._engine.dialect.name == "sqlite":  # PostgreSQL's index column is generated
        with store._engine.connect() as conn:  # FTS5's own consistency check raises when corrupt
            conn.execute(text("INSERT INTO segments_fts(segments_fts) VALUES('integrity-check')"))


def test_a_nul_character_in_text_is_dropped_alike_on_every_database(store):
    """PostgreSQL refuses NUL in text; a PDF's text or title may hold one (unmapped glyphs)."""
    parsed = _parsed("nul.pdf", "quarterly\x00 revenue")
    parsed = replace(parsed, document=replace(parsed.document, title="Q3\x00 report"))
    assert store.save("c", parsed, 1) == SaveResult.STORED
    assert store.documents("c")[0].title == "Q3 report"
    assert [s.text for s in store.segments("c", "nul.pdf")] == ["quarterly revenue"]
    assert [h.source for h in store.search("c", "quarterly")] == ["nul.pdf"]


def test_failed_version_never_replaces_a_readable_one(store):
    store.save("c", _parsed("a.pdf", "good text"), 1)
    failed = ParsedDocument.failed(source="a.pdf", kind=DocumentKind.PDF, sha256="c" * 64,
                                   error="password required")
    assert store.save("c", failed, 1) == SaveResult.KEPT_PREVIOUS
    assert store.documents("c")[0].status == Status.OK
    assert store.save("c", ParsedDocument.failed(source="b.pdf", kind=DocumentKind.PDF,
                                                 sha256="d" * 64, error="x"), 1) == SaveResult.STORED
    assert store.find_by_sha256("c", "d" * 64, 1) is None  # failed documents never count as stored


def test_images_stored_once_and_dropped_with_their_last_document(store):
    img = _image(b"png-bytes")
    store.save("c", _parsed("a.pdf", "one", sha="1" * 64, image=img), 1)
    store.save("c", _parsed("b.pdf", "two", sha="2" * 64, image=img), 1)
    with store._engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM images")).scalar() == 1
    store.delete_document("c", "a.pdf")
    assert store.image(img.sha256).data == b"png-bytes"
    store.delete_document("c", "b.pdf")
    assert store.image(img.sha256) is None


def test_a_failing_save_leaves_nothing_behind(store, monkeypatch):
    import storage.documents as repo

    store.save("c", _parsed("a.pdf", "kept text"), 1)

    def boom(*_args):
        raise RuntimeError("disk full")

    monkeypatch.setattr(repo, "_insert_segments", boom)
    with pytest.raises(RuntimeError):
        store.save("c", _parsed("a.pdf", "new text", sha="e" * 64), 1)
    assert [(d.source, d.sha256) for d in store.documents("c")] == [("a.pdf", "a" * 64)]
    assert [s.text for s in store.segments("c", "a.pdf")] == ["kept text"]


def test_collection_names_and_deletes(store):
    with pytest.raises(StorageError):
        store.ensure_collection("  ")
    with pytest.raises(StorageError, match="no collection"):
        store.documents("missing")
    store.save("c", _parsed("a.pdf", "text"), 1)
    store.delete_collection("c")
    assert store.collections() == []


def test_originals_are_kept_once_and_go_with_their_last_document(store):
    pdf = Original(b"%PDF-1.7 bytes")
    store.ensure_collection("d")
    store.save("c", _parsed("a.pdf", "text", sha="f" * 64), 1, original=pdf)
    store.save("d", _parsed("copy.pdf", "text", sha="f" * 64), 1, original=pdf)
    assert store.original("c", "a.pdf") == pdf and store.original("d", "copy.pdf") == pdf
    assert store.original("c", "missing.pdf") is None
    store.delete_document("c", "a.pdf")
    assert store.original("d", "copy.pdf") == pdf  # still read by the other collection
    store.delete_collection("d")
    store.save("c", _parsed("b.pdf", "text", sha="f" * 64), 1)
    assert store.original("c", "b.pdf") is None  # the orphan went with its last document


def test_answers_are_kept_per_collection_newest_first(store):
    from core.domain import Answer, Citation, Mode, Usage

    first = Answer("What is the fee?", "US$18,750 [D1 p.1]", Mode.FULL,
                   (Citation("[D1 p.1]", "contract.pdf", page=1, valid=True),),
                   Usage(prompt_tokens=900, cached_tokens=768, completion_tokens=12), 1.0, "cpu-demo")
    stored = store.save_answer("c", first)
    assert stored.asked_at is not None and stored.citations == first.citations
    store.save_answer("c", Answer("Term?", "", Mode.FOCUSED, error="model server unreachable"))
    history = store.answers("c")
    assert [a.question for a in history] == ["Term?", "What is the fee?"]
    assert history[0].error == "model server unreachable"
    assert history[1].usage.cached_tokens == 768 and history[1].citations[0].valid


def test_reports_are_kept_listed_fetched_and_deleted(store):
    from core.domain import RenderedReport, ReportStatus

    store.ensure_collection("d")
    pdf = b"%PDF-1.7 report"
    first = store.save_report("c", RenderedReport("Due diligence", "title: x\n",
                                                  ReportStatus.PARTIAL, 3, 1, "cpu-demo", 12.5,
                                                  "# Due diligence", "<h1>Due</h1>", pdf))
    second = store.save_report("d", RenderedReport("Code review", "", ReportStatus.OK, 2, 0,
                                                   "scout", 3.0, "#", "<p>", b"%PDF"))
    assert first.id != second.id and first.created_at is not None
    assert [r.title for r in store.reports()] == ["Code review", "Due diligence"]
    [only] = store.reports("c")
    assert (only.collection, only.status, only.questions, only.failed) == ("c", "partial", 3, 1)
    kept = store.report(first.id)
    assert kept.info == only and kept.report.pdf == pdf and kept.report.spec == "title: x\n"
    assert kept.report.markdown == "# Due diligence" and kept.report.html == "<h1>Due</h1>"
    assert store.report(9999) is None
    store.delete_report(first.id)
    assert store.reports("c") == []
    with pytest.raises(StorageError, match="no report with id"):
        store.delete_report(first.id)
    store.delete_collection("d")  # a collection's reports go with it
    assert store.reports() == [] and store.report(second.id) is None
    with pytest.raises(StorageError, match="no collection"):
        store.reports("d")


def test_migrate_from_the_original_schema_keeps_the_data(settings):
    """A data folder made by the first release (schema 0001, plus an answer saved under 0004)
    opens with today's Store: nothing lost, search and replacement still work."""
    engine = make_engine(settings.resolved_database_url)
    migrate(engine, "0001")
    png = _image(b"old chart")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO collections (id, name, created_at) "
                          "VALUES (1, 'old', '2026-01-02 03:04:05')"))
        conn.execute(text(
            "INSERT INTO documents (id, collection_id, source, kind, sha256, title, status, error,"
            " pages, files, text_tokens, image_tokens, size_bytes, parser_version, created_at)"
            " VALUES (7, 1, 'q3.pdf', 'pdf', :sha, 'Q3 report', 'ok', NULL, 1, NULL, 4, 147, 10,"
            " 1, '2026-01-02 03:04:05')"), {"sha": "e" * 64})
        conn.execute(text("INSERT INTO images (sha256, width, height, mime, tokens, data) "
                          "VALUES (:sha, 10, 10, 'image/png', 147, :data)"),
                     {"sha": png.sha256, "data": png.data})
        conn.execute(text(
            "INSERT INTO segments (document_id, ordinal, kind, text, page, tokens, image_sha256)"
            " VALUES (7, 0, 'text', 'quarterly revenue grew sharply', 1, 4, NULL),"
            " (7, 1, 'image', '', 1, 147, :sha)"), {"sha": png.sha256})
    migrate(engine, "0004")
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO answers (collection_id, question, text, mode, model, error, citations,"
            " usage, read_fraction, created_at) VALUES (1, 'Revenue?', 'It grew.', 'full', 'x',"
            " NULL, '[]', '{}', 1.0, '2026-01-02 03:04:05')"))
    engine.dispose()

    store = Store(settings)  # migrates to the newest revision
    try:
        [doc] = store.documents("old")
        assert (doc.source, doc.title, doc.status, doc.image_tokens) == (
            "q3.pdf", "Q3 report", Status.OK, 147)
        assert [s.kind for s in store.segments("old", "q3.pdf")] == [
            SegmentKind.TEXT, SegmentKind.IMAGE]
        assert store.image(png.sha256).data == png.data
        assert [h.source for h in store.search("old", "revenue")] == ["q3.pdf"]
        [answer] = store.answers("old")
        assert (answer.question, answer.text, answer.stop_reason) == (
            "Revenue?", "It grew.", None)
        assert store.find_by_sha256("old", "e" * 64, 1).source == "q3.pdf"
        assert store.save("old", _parsed("q3.pdf", "restated figures", sha="f" * 64), 2) == \
            SaveResult.REPLACED
        assert [h.source for h in store.search("old", "restated")] == ["q3.pdf"]
        assert store.search("old", "quarterly") == []
    finally:
        store.close()


def test_chats_group_answers_into_turns_and_survive_reopening(store, settings):
    from core.domain import Answer, Mode

    store.ensure_collection("A")
    store.ensure_collection("B")
    chat = store.start_chat("A", "  What is the\nonboarding fee? " + "x" * 200)
    assert len(chat.title) == 80 and chat.title.startswith("What is the onboarding fee?")
    first = store.save_answer("A", Answer("What is the fee?", "2,500 USD", Mode.FULL,
                                          chat_id=chat.id))
    store.save_answer("A", Answer("When is it due?", "", Mode.FULL, chat_id=chat.id,
                                  error="stopped by the user"))
    store.save_answer("A", Answer("A lone question", "x", Mode.FULL))
    other = store.start_chat("A", "older")
    assert first.id is not None and first.chat_id == chat.id

    reopened = Store(settings)  # a reload: everything comes back from the database
    assert [c.id for c in reopened.chats("A")] == [other.id, chat.id]  # newest first
    assert reopened.chat(chat.id).turns == 2 and reopened.chat(chat.id).collection == "A"
    turns = reopened.chat_turns(chat.id)
    assert [t.question for t in turns] == ["What is the fee?", "When is it due?"]
    assert turns[1].error == "stopped by the user"
    with pytest.raises(StorageError, match="another collection"):
        reopened.save_answer("B", Answer("q", "a", Mode.FULL, chat_id=chat.id))
    with pytest.raises(StorageError, match="no chat"):
        reopened.chat_turns(999)

    reopened.delete_chat(chat.id)  # its answers stay in the history
    assert [c.id for c in reopened.chats("A")] == [other.id]
    assert len(reopened.answers("A")) == 3
    reopened.delete_collection("A")
    assert reopened.chats("B") == []

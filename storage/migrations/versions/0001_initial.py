"""Initial schema: collections, documents, images, segments and the FTS5 index over text.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# FTS5 over the text of text and code segments, kept in step by triggers. External content
# (content='segments') stores each text once. Image segments are never indexed, so the delete
# trigger must skip them too: telling FTS5 to delete a row it never saw corrupts the index.
FTS_SQLITE = [
    "CREATE VIRTUAL TABLE segments_fts USING fts5("
    "text, content='segments', content_rowid='id', tokenize='porter unicode61')",
    "CREATE TRIGGER segments_fts_insert AFTER INSERT ON segments WHEN new.kind != 'image' BEGIN "
    "INSERT INTO segments_fts(rowid, text) VALUES (new.id, new.text); END",
    "CREATE TRIGGER segments_fts_delete AFTER DELETE ON segments WHEN old.kind != 'image' BEGIN "
    "INSERT INTO segments_fts(segments_fts, rowid, text) VALUES ('delete', old.id, old.text); END",
]


def upgrade() -> None:
    op.create_table(
        "collections",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "documents",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "collection_id",
            sa.Integer,
            sa.ForeignKey("collections.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("pages", sa.Integer, nullable=True),
        sa.Column("files", sa.Integer, nullable=True),
        sa.Column("text_tokens", sa.Integer, nullable=False),
        sa.Column("image_tokens", sa.Integer, nullable=False),
        sa.Column("size_bytes", sa.Integer, nullable=False),
        sa.Column("parser_version", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("collection_id", "source", name="uq_documents_collection_source"),
    )
    op.create_index("ix_documents_collection_sha256", "documents", ["collection_id", "sha256"])
    op.create_table(
        "images",
        sa.Column("sha256", sa.String(64), primary_key=True),
        sa.Column("width", sa.Integer, nullable=False),
        sa.Column("height", sa.Integer, nullable=False),
        sa.Column("mime", sa.String(32), nullable=False),
        sa.Column("tokens", sa.Integer, nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "segments",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "document_id",
            sa.Integer,
            sa.ForeignKey("documents.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("ordinal", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("page", sa.Integer, nullable=True),
        sa.Column("bbox", sa.JSON, nullable=True),
        sa.Column("path", sa.Text, nullable=True),
        sa.Column("line_start", sa.Integer, nullable=True),
        sa.Column("line_end", sa.Integer, nullable=True),
        sa.Column("tokens", sa.Integer, nullable=False),
        sa.Column(
            "image_sha256", sa.String(64), sa.ForeignKey("images.sha256"), nullable=True, index=True
        ),
        sa.UniqueConstraint("document_id", "ordinal", name="uq_segments_document_ordinal"),
    )
    if op.get_bind().dialect.name == "sqlite":
        for statement in FTS_SQLITE:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE IF EXISTS segments_fts")
    op.drop_table("segments")
    op.drop_table("images")
    op.drop_table("documents")
    op.drop_table("collections")

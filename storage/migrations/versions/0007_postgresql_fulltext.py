"""Full-text index on PostgreSQL: a stored tsvector of each text and code segment (English
stemming, as FTS5's porter tokenizer on SQLite) and a GIN index over it. SQLite has had its FTS5
index since 0001, so this revision changes nothing there.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# A generated column keeps itself in step with `text` on every insert (no trigger to forget),
# and image segments, which have no text, are left out of the index as FTS5 leaves them out.
FTS_POSTGRESQL = [
    "ALTER TABLE segments ADD COLUMN fts tsvector GENERATED ALWAYS AS ("
    "CASE WHEN kind = 'image' THEN NULL ELSE to_tsvector('english', text) END) STORED",
    "CREATE INDEX ix_segments_fts ON segments USING gin (fts)",
]


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in FTS_POSTGRESQL:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_segments_fts")
        op.execute("ALTER TABLE segments DROP COLUMN IF EXISTS fts")

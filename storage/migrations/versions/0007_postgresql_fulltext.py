"""Full-text index on PostgreSQL: a stored tsvector of each text and code segment and a GIN index
over it, with words reduced as SQLite's FTS5 porter tokenizer reduces them: the original Porter
stemmer (Snowball's `porter`, not the `english` configuration's newer stemmer, which stems
"monthly" to "month"), and stop words kept (the `english` configuration drops them, and a
question's "the" or "what" then finds nothing where SQLite ranks it low). SQLite has had its FTS5
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

# A text search configuration like `english` with the Porter stemmer and no stop words. A
# generated column keeps the vector in step with `text` on every insert (no trigger to forget),
# and image segments, which have no text, are left out of the index as FTS5 leaves them out.
FTS_POSTGRESQL = [
    "CREATE TEXT SEARCH DICTIONARY docscout_porter_stem (TEMPLATE = snowball, "
    "LANGUAGE = porter)",
    "CREATE TEXT SEARCH CONFIGURATION docscout_porter (COPY = english)",
    "ALTER TEXT SEARCH CONFIGURATION docscout_porter "
    "ALTER MAPPING REPLACE english_stem WITH docscout_porter_stem",
    "ALTER TABLE segments ADD COLUMN fts tsvector GENERATED ALWAYS AS ("
    "CASE WHEN kind = 'image' THEN NULL "
    "ELSE to_tsvector('docscout_porter'::regconfig, text) END) STORED",
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
        op.execute("DROP TEXT SEARCH CONFIGURATION IF EXISTS docscout_porter")
        op.execute("DROP TEXT SEARCH DICTIONARY IF EXISTS docscout_porter_stem")

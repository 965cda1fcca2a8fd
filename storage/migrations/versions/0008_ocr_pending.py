"""OCR in the background: documents.ocr_pending counts the pages of a document stored with its
text layer only, whose OCR (scanned pages, charts pasted as pictures) is still to run.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("documents") as batch:  # batch: SQLite cannot ALTER freely
        batch.add_column(sa.Column("ocr_pending", sa.Integer, nullable=False,
                                   server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("documents") as batch:
        batch.drop_column("ocr_pending")

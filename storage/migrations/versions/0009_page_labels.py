"""Printed page labels: segments.page_label holds the label a PDF gives a page ("287", "iv")
where it differs from the page's number in the file, so that "page 287" of a book excerpt finds
the page printed 287.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("segments") as batch:  # batch: SQLite cannot ALTER freely
        batch.add_column(sa.Column("page_label", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("segments") as batch:
        batch.drop_column("page_label")

"""Why each answer's generation ended (stop, length, loop, cancelled, timeout, empty, error), and
evaluation runs (`docscout eval`: a question set scored against a collection).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("answers") as batch:  # batch: SQLite cannot ALTER freely
        batch.add_column(sa.Column("stop_reason", sa.String(16), nullable=True))
    op.create_table(
        "eval_runs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "collection_id",
            sa.Integer,
            sa.ForeignKey("collections.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("question_set", sa.Text, nullable=False),
        sa.Column("model", sa.Text, nullable=False),
        sa.Column("summary", sa.JSON, nullable=False),
        sa.Column("results", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("eval_runs")
    with op.batch_alter_table("answers") as batch:
        batch.drop_column("stop_reason")

"""Conversations: a chat groups a collection's answers into turns (answers.chat_id).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "chats",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "collection_id",
            sa.Integer,
            sa.ForeignKey("collections.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    with op.batch_alter_table("answers") as batch:  # batch: SQLite cannot ALTER freely
        batch.add_column(sa.Column("chat_id", sa.Integer, nullable=True))
        batch.create_index("ix_answers_chat_id", ["chat_id"])
        batch.create_foreign_key("fk_answers_chat_id", "chats", ["chat_id"], ["id"],
                                 ondelete="SET NULL")


def downgrade() -> None:
    with op.batch_alter_table("answers") as batch:
        batch.drop_constraint("fk_answers_chat_id", type_="foreignkey")
        batch.drop_index("ix_answers_chat_id")
        batch.drop_column("chat_id")
    op.drop_table("chats")

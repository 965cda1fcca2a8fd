"""Alembic environment: runs migrations on the connection storage.db.migrate hands over."""

from alembic import context

from storage.orm import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through storage.db.migrate(engine)")

context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()

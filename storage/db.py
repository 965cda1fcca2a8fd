"""Database engine and migrations.

SQLite gets WAL (readers never block the single writer), foreign keys (cascading deletes) and a
busy timeout (a second writer waits instead of failing). The schema is brought to the newest
Alembic revision whenever a database is opened, so a fresh data folder just works, under a lock
so that processes opening a fresh database at once do not race to create it (a lock file beside
a SQLite file; a transaction-scoped advisory lock on PostgreSQL): the first creates the schema,
the others wait and find it there.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from filelock import FileLock
from sqlalchemy import Engine, create_engine, event, text

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
BUSY_TIMEOUT_MS = 30_000
MIGRATION_LOCK_TIMEOUT_S = 120
_PG_MIGRATION_LOCK = 0x646F6373  # any constant every DocScout process agrees on ("docs")


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_engine(url: str) -> Engine:
    """An engine for `url`; for a SQLite file, its folder is created and the pragmas set."""
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url)


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the schema of `engine`'s database up to `revision`, one process at a time."""
    config = alembic_config()
    with _migration_lock(engine), engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                               {"key": _PG_MIGRATION_LOCK})
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


@contextmanager
def _migration_lock(engine: Engine):
    """For a SQLite file, a lock file beside it (filelock: SQLite's own locks do not cover
    Alembic's checks and DDL as one unit). A folder where no lock file can be made is
    read-only, and nothing will be created there anyway."""
    database = engine.url.database if engine.url.get_backend_name() == "sqlite" else None
    if not database or database == ":memory:":
        yield
        return
    lock = FileLock(f"{database}.migrate.lock", timeout=MIGRATION_LOCK_TIMEOUT_S)
    try:
        lock.acquire()
        locked = True
    except OSError:
        locked = False
    try:
        yield
    finally:
        if locked:
            lock.release()

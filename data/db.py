"""Engine and sessions for the corpus database, and schema migration to the newest revision.

SQLite (the default) gets WAL journaling and a busy timeout so the bot keeps reading while a job writes;
PostgreSQL is used as-is through its URL.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def make_engine(url: str) -> Engine:
    """Create an engine for `url`; for a SQLite file, its folder is created and WAL is switched on."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


def safe_url(url: str) -> str:
    """The URL with its password hidden, for logs and `/about`."""
    return make_url(url).render_as_string(hide_password=True)


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision of every migration branch (idempotent)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "heads")


@lru_cache(maxsize=8)
def _cached_engine(url: str) -> Engine:
    engine = make_engine(url)
    migrate(engine)
    return engine


def get_engine(url: str | None = None) -> Engine:
    """The process-wide engine for `url` (default: the configured DATABASE_URL), migrated on first use."""
    if url is None:
        from data.settings import get_settings

        url = get_settings().database_url
    return _cached_engine(url)


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error, so no half-written batch is left."""
    factory = sessionmaker(engine, expire_on_commit=False)
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()

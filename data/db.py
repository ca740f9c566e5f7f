"""Engine and sessions for the corpus database, and schema migration to the newest revision.

SQLite (the default) gets WAL journaling, so readers never wait for a writer, and a *short* busy timeout for
writers: a chat command that cannot write within it answers "busy, try again" (see `is_busy`) instead of holding a
worker thread for half a minute. PostgreSQL is used as-is through its URL, with a matching lock timeout.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from data.settings import Settings

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
#: How long a write waits for another writer's lock before giving up (milliseconds).
DEFAULT_BUSY_TIMEOUT_MS = 3000


def make_engine(url: str, busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS) -> Engine:
    """Create an engine for `url`; for a SQLite file, its folder is created and WAL is switched on."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": busy_timeout_ms / 1000})

        def pragmas(dbapi_connection, _record) -> None:
            cur = dbapi_connection.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
            cur.close()

        event.listen(engine, "connect", pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, connect_args={"options": f"-c lock_timeout={int(busy_timeout_ms)}"})


def is_busy(exc: BaseException) -> bool:
    """Whether `exc` says another writer held the database longer than the busy timeout."""
    if not isinstance(exc, OperationalError):
        return False
    text = str(exc.orig).lower()
    return "database is locked" in text or "database is busy" in text or "lock timeout" in text


def safe_url(url: str) -> str:
    """The URL with its password hidden, for logs and `/about`."""
    return make_url(url).render_as_string(hide_password=True)


#: Alembic keeps its running context in module globals, so two threads migrating at once (jobs started together
#: by an arq worker) would tear each other's context down: migrations of one process run one at a time.
_MIGRATING = threading.Lock()


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision of every migration branch (idempotent)."""
    # lazy: alembic (~150 ms) only when a database is migrated, not for every importer of data.db
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    with _MIGRATING, engine.connect() as conn:
        sqlite = engine.dialect.name == "sqlite"
        if sqlite:
            # pysqlite commits DDL at once (its legacy transaction handling): a process killed inside a migration
            # would leave its tables without the revision that made them. With the driver's own handling off and an
            # explicit BEGIN, the whole upgrade commits or none of it does.
            driver = conn.connection.driver_connection
            previous = driver.isolation_level  # type: ignore[union-attr]
            driver.isolation_level = None  # type: ignore[union-attr]
            conn.exec_driver_sql("BEGIN")
        try:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "heads")
            conn.commit()
        except BaseException:
            conn.rollback()
            raise
        finally:
            if sqlite:
                driver.isolation_level = previous  # type: ignore[union-attr]


def open_database(settings: Settings) -> Engine:
    """The engine of the configured database with its schema brought to the newest revision: what every command
    and process does once at its start (migration is this explicit step, never a side effect of a first query)."""
    engine = make_engine(settings.database_url, busy_timeout_ms=settings.db_busy_timeout_ms)
    migrate(engine)
    return engine


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

"""Alembic environment: runs on the connection handed over by `data.db.migrate`, or on DATABASE_URL."""

from __future__ import annotations

from alembic import context

from data.db import make_engine
from data.models import Base
from data.settings import Settings

config = context.config
target_metadata = Base.metadata


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        engine = make_engine(config.get_main_option("sqlalchemy.url") or Settings.from_env().database_url)
        with engine.begin() as conn:
            _run_on(conn)
    else:
        _run_on(connection)


def _run_on(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


run()

"""Small durable state as JSON under a namespaced key (`kv_state`): import progress, what a
published model was trained on. One reader and one conflict-safe writer for every user of the table."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Engine, select, update

from data.importers.common import insert_ignore
from data.models import KeyValue


def read_state(engine: Engine, key: str) -> dict[str, Any] | None:
    with engine.connect() as conn:
        value = conn.scalar(select(KeyValue.value).where(KeyValue.key == key))
    return dict(value) if value is not None else None


def write_state(conn: Connection, key: str, value: dict[str, Any]) -> None:
    """Insert or replace one kv_state row (conflict-safe against a concurrent writer of the same key)."""
    conn.execute(insert_ignore(conn, KeyValue).values(key=key, value=value))
    conn.execute(update(KeyValue).where(KeyValue.key == key).values(value=value))


def read_prefixed(engine: Engine, prefix: str) -> dict[str, dict[str, Any]]:
    """Every kv_state row whose key starts with `prefix` (a namespace: `listen:` for the chats that opted in)."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(KeyValue.key, KeyValue.value).where(KeyValue.key.startswith(prefix, autoescape=True))
        )
        return {key: dict(value) for key, value in rows}

"""session guards: one active session per chat, a track played at most once per session

Revision ID: 0004_session_guards
Revises: 0003_crawl
Create Date: 2026-11-25

Concurrent `/session start` in one chat, or two `/session next` racing (in one process or in two), must not leave two
active sessions or play a track twice. The database enforces both with partial unique indexes (SQLite and
PostgreSQL both have them); duplicates left by the old code are resolved first (the oldest active session of a chat
stays active, the first play of a track stays).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_session_guards"
down_revision = "0003_crawl"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        sa.text(
            "UPDATE listening_sessions SET active = :off WHERE active = :on AND id NOT IN ("
            " SELECT MIN(id) FROM listening_sessions WHERE active = :on GROUP BY platform, chat_id)"
        ).bindparams(on=True, off=False)
    )
    op.execute(
        sa.text(
            "DELETE FROM session_events WHERE kind = 'played' AND id NOT IN ("
            " SELECT MIN(id) FROM session_events WHERE kind = 'played' GROUP BY session_id, track_id)"
        )
    )
    op.create_index(
        "uq_listening_sessions_active_chat",
        "listening_sessions",
        ["platform", "chat_id"],
        unique=True,
        sqlite_where=sa.text("active"),
        postgresql_where=sa.text("active"),
    )
    op.create_index(
        "uq_session_events_played_once",
        "session_events",
        ["session_id", "track_id"],
        unique=True,
        sqlite_where=sa.text("kind = 'played'"),
        postgresql_where=sa.text("kind = 'played'"),
    )


def downgrade() -> None:
    op.drop_index("uq_session_events_played_once", table_name="session_events")
    op.drop_index("uq_listening_sessions_active_chat", table_name="listening_sessions")

"""spotify crawl state

Revision ID: 0003_crawl
Revises: 0002_sessions
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_crawl"
down_revision = "0002_sessions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "crawl_words",
        sa.Column("word", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("next_offset", sa.Integer(), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("word"),
    )
    op.create_index("ix_crawl_words_status", "crawl_words", ["status"])
    op.create_table(
        "crawl_playlists",
        sa.Column("spotify_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("next_offset", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=True),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("spotify_id"),
    )
    op.create_index("ix_crawl_playlists_status", "crawl_playlists", ["status"])


def downgrade() -> None:
    op.drop_index("ix_crawl_playlists_status", table_name="crawl_playlists")
    op.drop_table("crawl_playlists")
    op.drop_index("ix_crawl_words_status", table_name="crawl_words")
    op.drop_table("crawl_words")

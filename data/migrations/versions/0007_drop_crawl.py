"""drop the Spotify crawl state

Revision ID: 0007_drop_crawl
Revises: 0006_open_ids
Create Date: 2026-12-04

The Spotify playlist crawl is gone: Spotify's Developer Terms (v9, 2023-05-08, IV.2.a.i) and Developer Policy
(III.14) forbid using the Spotify Platform or any Spotify Content to train an ML/AI model or otherwise ingesting it
into one, and its User Guidelines forbid crawling; the crawl fed the playlists the CF models are trained on. Its
queues held Spotify playlist ids and names gathered by that crawl, which nothing may read again, so the tables are
dropped rather than left as dead weight. The playlists the crawl already stored (source "spotify") stay in the
corpus tables but are never read for training: `data.corpus.EXCLUDED_PLAYLIST_SOURCES`.
The downgrade recreates the tables empty (what was crawled is not restored).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_drop_crawl"
down_revision = "0006_open_ids"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_crawl_playlists_status", table_name="crawl_playlists")
    op.drop_table("crawl_playlists")
    op.drop_index("ix_crawl_words_status", table_name="crawl_words")
    op.drop_table("crawl_words")


def downgrade() -> None:
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

"""open identifiers: MusicBrainz ids on tracks and artists, and the ISRC of a track

Revision ID: 0006_open_ids
Revises: 0005_radio
Create Date: 2026-12-04

The corpus grows from open data (ListenBrainz, MusicBrainz: CC0), which names a recording and its artists by
MusicBrainz ids (MBIDs, UUIDs) and often by ISRC. A song a user names is matched to the corpus by these before its
title: the same recording from two sources is one track. Nullable: the research corpora have neither.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_open_ids"
down_revision = "0005_radio"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # columns and unique indexes only: a constraint would make SQLite rebuild `tracks` (copy, drop, rename), and the
    # drop fails on a database with data, whose playlist entries reference the tracks
    op.add_column("tracks", sa.Column("mbid", sa.String(length=36), nullable=True))
    op.add_column("tracks", sa.Column("isrc", sa.String(length=12), nullable=True))
    op.create_index("ix_tracks_mbid", "tracks", ["mbid"], unique=True)
    op.create_index("ix_tracks_isrc", "tracks", ["isrc"])
    op.add_column("artists", sa.Column("mbid", sa.String(length=36), nullable=True))
    op.create_index("ix_artists_mbid", "artists", ["mbid"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_artists_mbid", table_name="artists")
    op.drop_index("ix_tracks_isrc", table_name="tracks")
    op.drop_index("ix_tracks_mbid", table_name="tracks")
    with op.batch_alter_table("artists") as batch:
        batch.drop_column("mbid")
    with op.batch_alter_table("tracks") as batch:
        batch.drop_column("isrc")
        batch.drop_column("mbid")

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
    with op.batch_alter_table("tracks") as batch:
        batch.add_column(sa.Column("mbid", sa.String(length=36), nullable=True))
        batch.add_column(sa.Column("isrc", sa.String(length=12), nullable=True))
        batch.create_unique_constraint("uq_tracks_mbid", ["mbid"])
        batch.create_index("ix_tracks_isrc", ["isrc"])
    with op.batch_alter_table("artists") as batch:
        batch.add_column(sa.Column("mbid", sa.String(length=36), nullable=True))
        batch.create_unique_constraint("uq_artists_mbid", ["mbid"])


def downgrade() -> None:
    with op.batch_alter_table("artists") as batch:
        batch.drop_constraint("uq_artists_mbid", type_="unique")
        batch.drop_column("mbid")
    with op.batch_alter_table("tracks") as batch:
        batch.drop_index("ix_tracks_isrc")
        batch.drop_constraint("uq_tracks_mbid", type_="unique")
        batch.drop_column("isrc")
        batch.drop_column("mbid")

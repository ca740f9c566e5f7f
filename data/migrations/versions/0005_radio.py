"""radio: a session's automatic next picks, one row per session

Revision ID: 0005_radio
Revises: 0004_session_guards
Create Date: 2026-11-25

The radio's schedule is state, not a timer: when the next pick is due, how many picks the radio has posted (`slot`,
claimed by a conditional update so two processes never post the same slot), how many went by without anyone
reacting, and the tags of a tag station.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_radio"
down_revision = "0004_session_guards"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "radio_stations",
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("slot", sa.Integer(), nullable=False),
        sa.Column("due_at", sa.Float(), nullable=False),
        sa.Column("idle", sa.Integer(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=True),
        sa.Column("started_by", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["session_id"], ["listening_sessions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("session_id"),
    )
    op.create_index("ix_radio_stations_due", "radio_stations", ["active", "due_at"])


def downgrade() -> None:
    op.drop_index("ix_radio_stations_due", table_name="radio_stations")
    op.drop_table("radio_stations")

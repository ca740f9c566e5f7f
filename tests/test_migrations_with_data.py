"""Migrations run on databases that hold data, as a deployment's do: 0006 adds the open-data ids to a database of
real Yes.com playlists (it once rebuilt `tracks`, which SQLite refused: the playlist entries reference the tracks)."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import func, select

from data.db import MIGRATIONS_DIR, make_engine, migrate
from data.importers.yes import import_yes
from data.models import PlaylistTrack, Track

pytestmark = pytest.mark.fast


def test_a_database_with_playlists_takes_the_open_data_ids(tmp_path, shared_data) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'deployed.db'}")
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0005_radio")
    import_yes(engine, shared_data / "yes_big", limit=300)
    with engine.connect() as conn:
        before = conn.execute(select(func.count()).select_from(PlaylistTrack)).scalar_one()
    migrate(engine)  # to head, through 0006 and 0007
    with engine.begin() as conn:
        assert conn.execute(select(func.count()).select_from(PlaylistTrack)).scalar_one() == before
        first = conn.execute(select(Track.id).order_by(Track.id).limit(1)).scalar_one()
        conn.execute(Track.__table__.update().where(Track.id == first).values(mbid="x" * 36, isrc="QZYES1200001"))
        assert conn.execute(select(Track.isrc).where(Track.mbid == "x" * 36)).scalar_one() == "QZYES1200001"
    engine.dispose()


def test_a_migration_that_fails_midway_leaves_nothing_behind(tmp_path) -> None:
    """The whole upgrade commits or none of it does (a setup killed inside its first migration left 0001's tables
    without their revision, and the rerun failed on "table albums already exists")."""
    from sqlalchemy import inspect, text

    engine = make_engine(f"sqlite:///{tmp_path / 'half.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE radio_stations (x INTEGER)"))  # 0005 will fail to create it
    with pytest.raises(Exception, match="radio_stations"):
        migrate(engine)
    assert set(inspect(engine).get_table_names()) == {"radio_stations"}
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE radio_stations"))
    migrate(engine)  # a rerun starts from the beginning and completes
    assert "alembic_version" in inspect(engine).get_table_names()
    engine.dispose()

"""No model learns from Spotify: playlists a deployment crawled from Spotify before the crawl was removed (source
"spotify") stay in its database, but the corpus never hands them to training or evaluation.

Spotify's Developer Terms (v9, 2023-05-08, IV.2.a.i) and Developer Policy (III.14) forbid using the Spotify Platform
or Spotify Content to train an ML/AI model or otherwise ingesting it into one (docs/jobs.md, "Spotify").
"""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import Engine, select

from data.corpus import EXCLUDED_PLAYLIST_SOURCES, Corpus
from data.db import make_engine
from data.importers.common import ensure_tracks, store_playlists
from data.models import Playlist, PlaylistTrack
from recommenders.cf.models import make_model
from recommenders.evaluation import playlist_split

pytestmark = pytest.mark.fast


@pytest.fixture
def corpus_copy(small_yes_engine, tmp_path) -> Engine:
    """A writable copy of the real small Yes.com corpus (SQLite's online backup: the WAL's pages included)."""
    source = sqlite3.connect(str(small_yes_engine.url.database))
    target = sqlite3.connect(str(tmp_path / "copy.db"))
    with target:
        source.backup(target)
    source.close()
    target.close()
    engine = make_engine(f"sqlite:///{tmp_path / 'copy.db'}")
    yield engine
    engine.dispose()


def _add_playlist(engine: Engine, source: str, key: str) -> tuple[int, list[int]]:
    """A 12-entry playlist under `source`: 8 tracks the corpus already has and 4 that only this playlist holds."""
    with engine.begin() as conn:
        known = list(conn.scalars(select(PlaylistTrack.track_id).distinct().order_by(PlaylistTrack.track_id).limit(8)))
        only_here = ensure_tracks(conn, source, {f"{key}-{i}": {"title": f"{key} song {i}"} for i in range(4)})
        store_playlists(conn, source, [(key, f"{key} playlist", known + list(only_here.values()))])
        pid = conn.scalar(select(Playlist.id).where(Playlist.source == source, Playlist.source_key == key))
    return int(pid), list(only_here.values())


def test_a_spotify_playlist_is_never_read_for_training(corpus_copy) -> None:
    assert "spotify" in EXCLUDED_PLAYLIST_SOURCES
    corpus = Corpus(corpus_copy)
    rows_before = corpus.playlist_matrix().matrix.shape[0]
    spotify_pid, spotify_only = _add_playlist(corpus_copy, "spotify", "37i9dQZF1DXcBWIGoYBM5M")

    matrix = corpus.playlist_matrix()
    assert matrix.matrix.shape[0] == rows_before
    assert not set(spotify_only) & set(matrix.item_ids.tolist())
    assert spotify_pid not in corpus.playlist_ids()
    assert list(corpus.playlists(source="spotify")) == []
    model = make_model("itemknn", 42).fit(corpus)  # what training fits: CFRecommender.fit reads corpus.playlists()
    assert not any(t in model for t in spotify_only)
    split = playlist_split(corpus, n_test=50, seed=3)
    assert not {t for p in split.train for t in p} & set(spotify_only)

    # the same playlist under a source a model may learn from is read: the exclusion is by source, nothing else
    mpd_pid, mpd_only = _add_playlist(corpus_copy, "mpd", "mpd-1")
    matrix = corpus.playlist_matrix()
    assert matrix.matrix.shape[0] == rows_before + 1
    assert set(mpd_only) <= set(matrix.item_ids.tolist())
    assert corpus.playlist_ids()[-1] == mpd_pid
    assert all(t in make_model("itemknn", 42).fit(corpus) for t in mpd_only)


def test_migration_0007_drops_the_crawl_queues_of_a_deployment_that_crawled(tmp_path) -> None:
    """A database at 0006 with crawl cursors in it: after the upgrade the tables (Spotify ids and names) are gone; a
    downgrade recreates them empty, and upgrading again drops them."""
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import inspect, text

    from data.db import MIGRATIONS_DIR, migrate

    engine = make_engine(f"sqlite:///{tmp_path / 'crawled.db'}")
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))

    def crawl_tables() -> set[str]:
        return {t for t in inspect(engine).get_table_names() if t.startswith("crawl_")}

    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0006_open_ids")
        conn.execute(
            text(
                "INSERT INTO crawl_playlists VALUES "
                "('37i9dQZF1DXcBWIGoYBM5M', 'Top Hits', 'done', 50, 50, '2026-01-01')"
            )
        )
    assert crawl_tables() == {"crawl_words", "crawl_playlists"}
    migrate(engine)
    assert crawl_tables() == set()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0006_open_ids")
        assert conn.scalar(text("SELECT count(*) FROM crawl_playlists")) == 0
    migrate(engine)
    assert crawl_tables() == set()
    engine.dispose()

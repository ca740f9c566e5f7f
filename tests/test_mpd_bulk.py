"""The MPD importer's bulk path (COPY on PostgreSQL, the driver's executemany on SQLite) stores exactly what the
portable ORM path stores.

The PostgreSQL test runs when MUREC_TEST_PG_URL names a PostgreSQL database this test may wipe (CI starts one on
loopback with .ci/services.sh); the SQLite one always runs.
"""

from __future__ import annotations

import json
import os

import pytest
from sqlalchemy import func, select, text

from data.corpus import Corpus
from data.db import make_engine, migrate
from data.importers.mpd import import_mpd
from data.models import Album, Artist, Playlist, PlaylistTrack, Track, TrackArtist
from tests.test_importers import _mpd_slice_from_yes

PG_URL = os.environ.get("MUREC_TEST_PG_URL", "")


def _content(engine) -> dict:
    """Everything the import stored, by source keys (ids differ between databases)."""
    corpus = Corpus(engine)
    with engine.connect() as conn:
        key = dict(conn.execute(select(Track.id, Track.source_key)).all())
        playlists = dict(conn.execute(select(Playlist.id, Playlist.source_key)).all())
        by_playlist: dict[str, list[str]] = {}
        rows = conn.execute(
            select(PlaylistTrack.playlist_id, PlaylistTrack.track_id).order_by(
                PlaylistTrack.playlist_id, PlaylistTrack.position
            )
        )
        for pid, tid in rows:
            by_playlist.setdefault(playlists[pid], []).append(key[tid])
        tracks = sorted(
            conn.execute(
                select(Track.source_key, Track.title, Track.duration_ms, Track.spotify_id, Album.source_key).join(
                    Album, Track.album_id == Album.id
                )
            ).all()
        )
        links = sorted(
            conn.execute(
                select(Track.source_key, Artist.source_key, Artist.name)
                .join(TrackArtist, TrackArtist.track_id == Track.id)
                .join(Artist, Artist.id == TrackArtist.artist_id)
            ).all()
        )
        names = sorted(conn.execute(select(Playlist.source_key, Playlist.name)).all())
    return {"stats": corpus.stats(), "playlists": by_playlist, "tracks": tracks, "links": links, "names": names}


def _two_slices(shared_data, tmp_path):
    doc = _mpd_slice_from_yes(shared_data, 700)
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    (first / "mpd.slice.0-999.json").write_text(json.dumps({**doc, "playlists": doc["playlists"][:400]}))
    # the second slice repeats 100 playlists of the first (stored ones are skipped) and shares most tracks
    (second / "mpd.slice.1000-1999.json").write_text(json.dumps({**doc, "playlists": doc["playlists"][300:]}))
    return first, second


def _check_bulk_against_portable(bulk_engine, portable_engine, first, second) -> None:
    bulk = [import_mpd(bulk_engine, [first], batch=150), import_mpd(bulk_engine, [second], batch=150)]
    portable = [
        import_mpd(portable_engine, [first], batch=150, bulk=False),
        import_mpd(portable_engine, [second], batch=150, bulk=False),
    ]
    assert [r.playlists_new for r in bulk] == [400, 300] == [r.playlists_new for r in portable]
    stored, expected = _content(bulk_engine), _content(portable_engine)
    assert stored["stats"]["playlists"] == 700
    assert stored == expected
    # a third run stores nothing new (recorded slices are skipped) and a replayed batch adds no duplicate rows
    assert import_mpd(bulk_engine, [first, second]).files_skipped == 2
    with bulk_engine.begin() as conn:
        conn.execute(text("DELETE FROM kv_state"))
    again = import_mpd(bulk_engine, [first, second])
    assert again.playlists_new == 0
    assert _content(bulk_engine) == stored
    with bulk_engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(PlaylistTrack)) == sum(
            len(p) for p in stored["playlists"].values()
        )
        added = conn.scalars(select(Track.added_at).limit(1)).one()
        assert added.year >= 2024  # the Python-side default is filled in by the bulk path too


@pytest.mark.fast
def test_sqlite_bulk_path_stores_what_the_portable_path_stores(empty_engine, shared_data, tmp_path) -> None:
    other = make_engine(f"sqlite:///{tmp_path / 'portable.db'}")
    migrate(other)
    _check_bulk_against_portable(empty_engine, other, *_two_slices(shared_data, tmp_path))
    other.dispose()


@pytest.mark.postgres
@pytest.mark.skipif(not PG_URL, reason="MUREC_TEST_PG_URL not set (see .ci/services.sh)")
def test_postgres_copy_path_stores_what_the_portable_path_stores(
    pg_engine, empty_engine, shared_data, tmp_path
) -> None:
    _check_bulk_against_portable(pg_engine, empty_engine, *_two_slices(shared_data, tmp_path))

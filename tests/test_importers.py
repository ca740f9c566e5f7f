"""HetRec Last.fm and MPD importers on real data, idempotency, resuming, and migrating an empty database."""

from __future__ import annotations

import json
import zlib

import pytest
from sqlalchemy import delete, func, inspect, select

from data.corpus import Corpus
from data.db import make_engine, migrate
from data.importers.hetrec import hetrec_spec, import_hetrec, stored_counts
from data.importers.mpd import import_mpd
from data.importers.progress import ensure_imported, read_state
from data.models import Artist, ArtistTag, Listener, ListenerArtist, Playlist, Track


@pytest.fixture(scope="module")
def hetrec_engine(tmp_path_factory, shared_data):
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('hetrec') / 'h.db'}")
    migrate(engine)
    first = import_hetrec(engine, shared_data / "hetrec-lastfm-2k")
    second = import_hetrec(engine, shared_data / "hetrec-lastfm-2k")
    yield engine, first, second
    engine.dispose()


def test_hetrec_counts_match_published_figures(hetrec_engine) -> None:
    engine, first, _ = hetrec_engine
    assert (first.listeners, first.artists, first.plays) == (1892, 17632, 92834)
    m = Corpus(engine).listener_artist_matrix()
    assert m.matrix.shape == (1892, 17632)
    assert m.matrix.nnz == 92834
    # graded feedback, not all ones
    assert m.matrix.data.min() >= 1 and m.matrix.data.max() > 100_000


def test_hetrec_reimport_adds_nothing(hetrec_engine) -> None:
    engine, first, second = hetrec_engine
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(ListenerArtist)) == 92834
        assert conn.scalar(select(func.count()).select_from(Artist)) == 17632
        assert conn.scalar(select(func.count()).select_from(ArtistTag)) == first.artist_tags
    assert second.artist_tags == first.artist_tags


def test_hetrec_tags_are_decoded_from_latin1(hetrec_engine) -> None:
    engine, _, _ = hetrec_engine
    corpus = Corpus(engine)
    tags = corpus.artist_tags()
    names = {n for ts in tags.values() for n in ts}
    assert "rock" in names
    assert not any("\ufffd" in n for n in names)
    with engine.connect() as conn:
        beatles = conn.scalar(select(Artist.id).where(Artist.name == "The Beatles"))
    assert "classic rock" in tags[beatles]


def test_hetrec_interrupted_import_is_resumed_and_verified(empty_engine, shared_data) -> None:
    """What a kill leaves (plays of the later listeners and all artist tags missing) is completed and recorded."""
    folder = shared_data / "hetrec-lastfm-2k"
    import_hetrec(empty_engine, folder)
    with empty_engine.begin() as conn:
        later = select(Listener.id).where(Listener.source == "hetrec").order_by(Listener.id).offset(1000)
        conn.execute(delete(ListenerArtist).where(ListenerArtist.listener_id.in_(later)))
        conn.execute(delete(ArtistTag))
    partial = stored_counts(empty_engine)
    assert partial["plays"] < 92834 and partial["artist_tags"] == 0

    assert ensure_imported(empty_engine, hetrec_spec(folder)).startswith("resumed and verified")
    full = {"artists": 17632, "listeners": 1892, "plays": 92834, "artist_tags": 108437}
    assert stored_counts(empty_engine) == full
    state = read_state(empty_engine, "import:hetrec")
    assert state is not None and state["complete"] and state["counts"] == full


def _mpd_slice_from_yes(shared_data, n_playlists: int) -> dict:
    """An MPD slice in the published format, with the real Yes.com playlists, titles and artists as content."""
    songs = {}
    for line in (shared_data / "yes_big" / "song_hash.txt").read_text(encoding="utf-8").splitlines():
        sid, title, artist = line.split("\t")[:3]
        songs[sid] = (title.replace("\\/", "/"), artist)
    lines = (shared_data / "yes_big" / "train.txt").read_text().splitlines()[2 : 2 + n_playlists]
    playlists = []
    for pid, line in enumerate(lines):
        tracks = []
        for pos, sid in enumerate(line.split()):
            title, artist = songs[sid]
            tracks.append(
                {
                    "pos": pos,
                    "artist_name": artist,
                    "track_uri": f"spotify:track:{int(sid):022d}",
                    "artist_uri": f"spotify:artist:{zlib.crc32(artist.encode()):022d}",
                    "track_name": title,
                    "album_uri": f"spotify:album:{int(sid) % 977:022d}",
                    "duration_ms": 200000 + pos,
                    "album_name": f"Album {int(sid) % 977}",
                }
            )
        playlists.append(
            {"name": f"yes {pid}", "collaborative": "false", "pid": pid, "num_tracks": len(tracks), "tracks": tracks}
        )
    return {"info": {"generated_on": "2017-12-03", "slice": "0-999", "version": "v1"}, "playlists": playlists}


@pytest.mark.fast
def test_mpd_slice_import_keeps_order_and_is_idempotent(empty_engine, shared_data, tmp_path) -> None:
    doc = _mpd_slice_from_yes(shared_data, 300)
    path = tmp_path / "mpd.slice.0-999.json"
    path.write_text(json.dumps(doc))
    first = import_mpd(empty_engine, [tmp_path])
    second = import_mpd(empty_engine, [path])
    assert first.files == 1 and first.playlists_seen == 300 and first.playlists_new == 300
    assert second.playlists_new == 0
    corpus = Corpus(empty_engine)
    n_unique = len({t["track_uri"] for p in doc["playlists"] for t in p["tracks"]})
    assert corpus.stats()["tracks"] == n_unique
    stored = list(corpus.playlists())
    assert len(stored) == 300
    info = corpus.track_info(stored[0])
    expected = [t["track_name"] for t in doc["playlists"][0]["tracks"]]
    assert [info[t].title for t in stored[0]] == expected
    assert info[stored[0][0]].spotify_id == doc["playlists"][0]["tracks"][0]["track_uri"].split(":")[-1]
    with empty_engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Playlist)) == 300
        assert conn.scalar(select(func.count(Track.album_id))) == n_unique


@pytest.mark.fast
def test_mpd_reimport_resumes_an_unrecorded_slice_and_skips_recorded_ones(empty_engine, shared_data, tmp_path) -> None:
    doc = _mpd_slice_from_yes(shared_data, 300)
    (tmp_path / "part").mkdir()
    partial = tmp_path / "part" / "first-100.json"  # playlists stored by a run killed before it recorded the slice
    partial.write_text(json.dumps({**doc, "playlists": doc["playlists"][:100]}))
    import_mpd(empty_engine, [partial])
    folder = tmp_path / "mpd"
    folder.mkdir()
    (folder / "mpd.slice.0-999.json").write_text(json.dumps(doc))

    resumed = import_mpd(empty_engine, [folder])
    assert (resumed.files, resumed.playlists_seen, resumed.playlists_new) == (1, 300, 200)
    again = import_mpd(empty_engine, [folder])
    assert (again.files, again.files_skipped, again.playlists_seen) == (0, 1, 0)
    state = read_state(empty_engine, "import:mpd:mpd.slice.0-999.json")
    assert state is not None and state["complete"] and state["counts"] == {"playlists": 300}


@pytest.mark.fast
def test_mpd_skips_broken_entries(empty_engine, tmp_path) -> None:
    doc = {
        "playlists": [
            {"pid": 7, "name": "x", "tracks": [{"pos": 0, "track_uri": None}, {"pos": 1, "track_name": "no uri"}]},
            {"name": "no pid"},
        ]
    }
    path = tmp_path / "mpd.slice.0-1.json"
    path.write_text(json.dumps(doc))
    report = import_mpd(empty_engine, [path])
    assert report.skipped_entries == 2 and report.playlists_seen == 1


@pytest.mark.fast
def test_migration_from_empty_database_creates_schema(tmp_path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
    migrate(engine)
    migrate(engine)  # idempotent
    tables = set(inspect(engine).get_table_names())
    assert {"tracks", "artists", "albums", "playlists", "playlist_tracks", "track_artists", "track_tags"} <= tables
    assert {"listeners", "listener_artists", "kv_state", "alembic_version"} <= tables
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"

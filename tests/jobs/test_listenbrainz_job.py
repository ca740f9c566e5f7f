"""The `listenbrainz` job against the fake ListenBrainz (real Yes.com playlists): it stores every public playlist of the
configured users with its tracks, paced by the rate-limit headers, resumes from its cursor, adds nothing when run
again, and does nothing (no request) when not configured."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from data.db import make_engine
from data.kv import read_state
from data.models import Playlist, PlaylistTrack, Track
from data.settings import Settings
from jobs import tasks
from jobs.listenbrainz import ListenBrainzClient
from jobs.open_playlists import CURSOR_KEY
from tests.jobs.fake_listenbrainz import TOKEN, FakeListenBrainz
from tests.jobs.open_catalogue import OpenCatalogue, playlist_mbid


@pytest.fixture
def fake_lb(open_catalogue, clock):
    fake = FakeListenBrainz(open_catalogue, clock, limit=10, window=10.0).start()
    yield fake
    fake.stop()


def settings_for(fake: FakeListenBrainz, tmp_path, **env: str) -> Settings:
    return Settings.from_env({"MUREC_HOME": str(tmp_path), "DATABASE_URL": "", **fake.env(), **env})


def corpus_counts(tmp_path) -> dict[str, int]:
    engine = make_engine(f"sqlite:///{tmp_path / 'murecom.db'}")
    try:
        with engine.connect() as conn:
            return {
                "playlists": int(conn.scalar(select(func.count()).select_from(Playlist)) or 0),
                "entries": int(conn.scalar(select(func.count()).select_from(PlaylistTrack)) or 0),
                "tracks": int(conn.scalar(select(func.count()).select_from(Track)) or 0),
            }
    finally:
        engine.dispose()


def expected(cat: OpenCatalogue) -> dict[str, int]:
    """What the fake's playlists imply: one playlist each, its songs as entries, each distinct song one track."""
    return {
        "playlists": len(cat.playlists),
        "entries": sum(len(ids) for _, ids in cat.playlists),
        "tracks": len({i for _, ids in cat.playlists for i in ids}),
    }


def test_not_configured_is_skipped_without_a_request(fake_lb, tmp_path) -> None:
    result = tasks.listenbrainz(settings_for(fake_lb, tmp_path))
    assert result == {"skipped": "no LISTENBRAINZ_USERS / LISTENBRAINZ_SEARCH"} and fake_lb.requests == []


def test_the_job_stores_the_users_playlists_and_a_rerun_adds_nothing(fake_lb, open_catalogue, clock, tmp_path) -> None:
    settings = settings_for(fake_lb, tmp_path, LISTENBRAINZ_USERS="yes_radio_a, yes_radio_b")
    client = ListenBrainzClient(settings, clock=clock, sleep=clock.sleep)
    first = tasks.listenbrainz(settings, max_playlists=1000, client=client)
    assert first["playlists_new"] == len(open_catalogue.playlists) == 40
    assert corpus_counts(tmp_path) == expected(open_catalogue)
    assert fake_lb.too_many == 0 and client.waits  # 40+ requests at 10 per window: it waited, never got a 429
    engine = make_engine(f"sqlite:///{tmp_path / 'murecom.db'}")
    with engine.connect() as conn:
        line, ids = open_catalogue.playlists[3]
        titles = conn.scalars(
            select(Track.title)
            .join(PlaylistTrack, PlaylistTrack.track_id == Track.id)
            .join(Playlist, Playlist.id == PlaylistTrack.playlist_id)
            .where(Playlist.source == "listenbrainz", Playlist.source_key == playlist_mbid(line))
            .order_by(PlaylistTrack.position)
        ).all()
    engine.dispose()
    assert titles == [open_catalogue.songs[i].title for i in ids]  # real songs, real order
    requests_before = len(fake_lb.requests)
    second = tasks.listenbrainz(settings, max_playlists=1000, client=client)
    assert second["playlists_new"] == 0 and second["playlists_known"] == 40
    assert corpus_counts(tmp_path) == expected(open_catalogue)
    assert not any("/1/playlist/" in r for r in fake_lb.requests[requests_before:])  # stored ones are not fetched


def test_a_budgeted_run_resumes_from_its_cursor(fake_lb, open_catalogue, clock, tmp_path) -> None:
    settings = settings_for(fake_lb, tmp_path, LISTENBRAINZ_USERS="yes_radio_a", LISTENBRAINZ_SEARCH="radio")
    client = ListenBrainzClient(settings, clock=clock, sleep=clock.sleep)
    runs = []
    while not runs or runs[-1]["playlists_new"]:
        runs.append(tasks.listenbrainz(settings, max_playlists=7, client=client))
    assert [r["playlists_new"] for r in runs] == [7, 7, 7, 7, 7, 5, 0]  # 40 = yes_radio_a's 20, then the search's rest
    assert corpus_counts(tmp_path) == expected(open_catalogue)
    engine = make_engine(f"sqlite:///{tmp_path / 'murecom.db'}")
    assert read_state(engine, CURSOR_KEY) == {"user:yes_radio_a": 0, "search:radio": 0}  # both read to the end
    engine.dispose()


def test_with_a_token_private_playlists_are_listed_but_not_stored(open_catalogue, clock, tmp_path) -> None:
    fake = FakeListenBrainz(open_catalogue, clock, limit=100, private=frozenset({0, 2})).start()
    try:
        settings = settings_for(fake, tmp_path, LISTENBRAINZ_USERS="yes_radio_a", LISTENBRAINZ_TOKEN=TOKEN)
        client = ListenBrainzClient(settings, clock=clock, sleep=clock.sleep)
        result = tasks.listenbrainz(settings, max_playlists=1000, client=client)
        assert result["playlists_private"] == 2 and result["playlists_new"] == len(fake.users["yes_radio_a"]) - 2
        private = {playlist_mbid(open_catalogue.playlists[i][0]) for i in (0, 2)}
        assert not any(m in r for r in fake.requests for m in private)  # never even fetched
    finally:
        fake.stop()

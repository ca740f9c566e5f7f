"""The ListenBrainz client against the strict fake (real Yes.com playlists as JSPF): playlists by MBID, a user's
public playlists, playlist search, Labs similarity; rate-limit headers honoured and 429 waited out within a budget."""

from __future__ import annotations

import pytest
import requests

from data.settings import Settings
from jobs.listenbrainz import ListenBrainzClient
from jobs.open_data import OpenDataGaveUp
from tests.jobs.fake_listenbrainz import TOKEN, FakeListenBrainz
from tests.jobs.open_catalogue import FakeClock, playlist_mbid


@pytest.fixture
def fake_lb(open_catalogue, clock):
    fake = FakeListenBrainz(open_catalogue, clock, limit=5, window=10.0).start()
    yield fake
    fake.stop()


def lb_client(fake: FakeListenBrainz, clock: FakeClock, tmp_path, **env: str) -> ListenBrainzClient:
    settings = Settings.from_env({"MUREC_HOME": str(tmp_path), **fake.env(), **env})
    return ListenBrainzClient(settings, clock=clock, sleep=clock.sleep)


def test_playlist_by_mbid_is_the_real_playlist_in_order(fake_lb, open_catalogue, clock, tmp_path) -> None:
    line, ids = open_catalogue.playlists[0]
    playlist = lb_client(fake_lb, clock, tmp_path).playlist(playlist_mbid(line))
    assert playlist is not None and playlist.mbid == playlist_mbid(line)
    songs = [open_catalogue.songs[i] for i in ids]
    assert [r.title for r in playlist.recordings] == [s.title for s in songs]
    assert [r.mbid for r in playlist.recordings] == [s.mbid for s in songs]
    assert [(r.artist, r.artists[0].mbid) for r in playlist.recordings] == [(s.artist, s.artist_mbid) for s in songs]
    assert lb_client(fake_lb, clock, tmp_path).playlist("00000000-0000-4000-8000-000000000000") is None


def test_user_playlists_and_search_page_through(fake_lb, open_catalogue, clock, tmp_path) -> None:
    lb = lb_client(fake_lb, clock, tmp_path)
    first, total = lb.user_playlists("yes_radio_a", offset=0, count=7)
    rest, _ = lb.user_playlists("yes_radio_a", offset=7, count=100)
    assert total == len(fake_lb.users["yes_radio_a"]) == len(first) + len(rest) and len(first) == 7
    assert [r.mbid for r in first + rest] == [
        playlist_mbid(open_catalogue.playlists[i][0]) for i in fake_lb.users["yes_radio_a"]
    ]
    assert lb.user_playlists("nobody-here") == ([], 0)  # 404 User not found: no playlists
    hits, n = lb.search_playlists("radio", count=100)
    assert n == len(open_catalogue.playlists) == len(hits)


def test_similar_recordings_and_artists(fake_lb, open_catalogue, clock, tmp_path) -> None:
    lb = lb_client(fake_lb, clock, tmp_path)
    _, ids = open_catalogue.playlists[0]
    seed = open_catalogue.songs[ids[0]]
    similar = lb.similar_recordings(seed.mbid)
    assert similar and all(s.reference_mbid == seed.mbid and s.mbid != seed.mbid for s in similar)
    neighbours = {open_catalogue.songs[i].mbid for i in ids[1:]}
    assert neighbours & {s.mbid for s in similar}  # songs of the same real playlist come back
    artists = lb.similar_artists(seed.artist_mbid)
    assert artists and all(a.name != seed.artist for a in artists)
    bare = requests.get(f"{fake_lb.base}/labs/similar-recordings/json", params={"recording_mbids": seed.mbid})
    assert bare.status_code == 400  # the fake requires the algorithm, as the Labs endpoints do


def test_remaining_zero_waits_for_the_window_and_never_hits_429(fake_lb, clock, tmp_path) -> None:
    lb = lb_client(fake_lb, clock, tmp_path)
    for offset in range(12):
        lb.user_playlists("yes_radio_b", offset=offset, count=1)
    assert fake_lb.too_many == 0
    assert lb.waits == [pytest.approx(10.0), pytest.approx(10.0)]  # 5 per 10 s window: two resets waited out


def test_429_waits_reset_in_within_the_budget(fake_lb, clock, tmp_path) -> None:
    agent = {"User-Agent": "someone-else/1.0"}
    for _ in range(5):  # another client on the same limit spends the window
        requests.get(f"{fake_lb.base}/1/user/yes_radio_a/playlists", headers=agent)
    clock.advance(4.0)
    lb = lb_client(fake_lb, clock, tmp_path)
    refs, _ = lb.user_playlists("yes_radio_a")
    assert refs and fake_lb.too_many == 1 and lb.waits == [pytest.approx(6.0)]  # Reset-In of the 429
    for _ in range(5):
        requests.get(f"{fake_lb.base}/1/user/yes_radio_a/playlists", headers=agent)
    stingy = ListenBrainzClient(
        Settings.from_env({"MUREC_HOME": str(tmp_path), **fake_lb.env()}),
        clock=clock,
        sleep=clock.sleep,
        wait_budget=1.0,
    )
    with pytest.raises(OpenDataGaveUp):
        stingy.user_playlists("yes_radio_a")


def test_token_goes_only_in_the_authorization_header(fake_lb, clock, tmp_path, caplog) -> None:
    lb = lb_client(fake_lb, clock, tmp_path, LISTENBRAINZ_TOKEN=TOKEN)
    lb.user_playlists("yes_radio_a")
    assert fake_lb.authorizations == [f"Token {TOKEN}"]
    assert TOKEN not in repr(Settings.from_env({"LISTENBRAINZ_TOKEN": TOKEN})) and TOKEN not in caplog.text

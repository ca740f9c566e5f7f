"""The Spotify client against the fake Web API in Development Mode (February 2026): a track and a search resolved to
a `Recording` with its ISRC, every failure typed, 429s waited out only within the budget, nothing sent for input
that names no track, and no secret in any log line or error. Also the fake's own contract, checked on the wire.
"""

from __future__ import annotations

import base64
import logging

import pytest
import requests

from data.recordings import ArtistCredit
from data.settings import Settings
from jobs.spotify import (
    NotASpotifyTrack,
    SpotifyClient,
    SpotifyNotFound,
    SpotifyRefused,
    SpotifyUnavailable,
)
from tests.jobs.fake_spotify import CLIENT_ID, CLIENT_SECRET, TOKEN, FakeSpotify, fake_isrc

pytestmark = pytest.mark.fast


class FakeTime:
    """An injected clock and sleep: sleeping advances the clock at once and is recorded."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def client(spotify_settings, fake_time) -> SpotifyClient:
    return SpotifyClient(spotify_settings, wait_budget=30, timeout=2, sleep=fake_time.sleep, clock=fake_time.clock)


def a_track(catalogue) -> dict:
    return next(iter(catalogue.tracks.values()))


def test_a_link_uri_or_id_resolves_to_the_recording_with_its_isrc(client, fake_spotify, catalogue) -> None:
    raw = a_track(catalogue)
    song = int(raw["id"][1:])
    for ref in (
        raw["id"],
        f"spotify:track:{raw['id']}",
        f"https://open.spotify.com/track/{raw['id']}?si=abc123",
        f"https://open.spotify.com/intl-de/track/{raw['id']}",
    ):
        got = client.track(ref)
        assert got.spotify_id == raw["id"] and got.url == f"https://open.spotify.com/track/{raw['id']}"
        assert got.recording.title == raw["name"]
        assert got.recording.artists == (ArtistCredit(raw["artists"][0]["name"], None),)
        assert got.recording.isrcs == (fake_isrc(song),) and got.recording.length_ms == raw["duration_ms"]
        assert got.album == raw["album"]["name"] and got.recording.mbid is None
    # one token for all four calls, one GET /tracks/{id} each
    assert fake_spotify.requests.count("POST /api/token") == 1
    assert fake_spotify.api_requests() == [f"GET /v1/tracks/{raw['id']}"] * 4


def test_search_returns_at_most_ten_tracks_and_refuses_a_bigger_page_before_asking(client, fake_spotify) -> None:
    found = client.search_tracks("love", limit=10)
    assert len(found) == 10 and all("love" in f"{t.recording.title} {t.recording.artist}".lower() for t in found)
    assert all(t.recording.isrcs and t.recording.isrcs[0].startswith("QZYES12") for t in found)
    assert len(client.search_tracks("love", limit=3)) == 3
    asked = len(fake_spotify.api_requests())
    for limit in (0, 11, 50):
        with pytest.raises(ValueError, match="1..10"):
            client.search_tracks("love", limit=limit)
    with pytest.raises(ValueError, match="empty"):
        client.search_tracks("   ")
    assert len(fake_spotify.api_requests()) == asked
    assert client.search_tracks("zzqqxx no such song") == []


@pytest.mark.parametrize(
    ("ref", "why"),
    [
        ("spotify:local:Artist:Album:Title:215", "local file"),
        ("https://open.spotify.com/local/Artist/Album/Title/215", "local file"),
        ("https://open.spotify.com/episode/4rOoJ6Egrf8K2IrywzwOMk", "episode"),
        ("spotify:episode:4rOoJ6Egrf8K2IrywzwOMk", "episode"),
        ("https://open.spotify.com/show/4rOoJ6Egrf8K2IrywzwOMk", "episode or show"),
        ("https://open.spotify.com/track/tooShort1", "not a Spotify track"),
        ("spotify:track:4rOoJ6Egrf8K2Iry-zwOMk", "not a Spotify track"),
        ("4rOoJ6Egrf8K2IrywzwOMk/../../v1/me", "not a Spotify track"),
        ("", "not a Spotify track"),
    ],
)
def test_what_names_no_track_is_refused_before_any_request(client, fake_spotify, ref, why) -> None:
    with pytest.raises(NotASpotifyTrack, match=why):
        client.track(ref)
    assert fake_spotify.requests == []


@pytest.mark.parametrize(
    ("status", "error"),
    [(400, SpotifyRefused), (401, SpotifyRefused), (403, SpotifyRefused), (404, SpotifyNotFound)]
    + [(s, SpotifyUnavailable) for s in (500, 502, 503)],
)
def test_each_error_status_raises_its_type_after_one_request(client, fake_spotify, catalogue, status, error) -> None:
    track_id = a_track(catalogue)["id"]
    fake_spotify.fail("/v1/tracks/", status, status)
    with pytest.raises(error) as caught:
        client.track(track_id)
    assert caught.value.status == status
    assert fake_spotify.api_requests() == [f"GET /v1/tracks/{track_id}"]  # never retried


def test_an_unknown_track_is_not_found(client, fake_spotify) -> None:
    with pytest.raises(SpotifyNotFound, match="Resource not found"):
        client.track("0000000000000000000000")


def test_429_is_waited_out_within_the_budget(client, fake_spotify, fake_time, catalogue) -> None:
    raw = a_track(catalogue)
    fake_spotify.fail("/v1/tracks/", 429, 429, retry_after=12)
    assert client.track(raw["id"]).recording.title == raw["name"]
    assert fake_time.slept == [12.0, 12.0] == client.waits
    assert len(fake_spotify.api_requests()) == 3


def test_429_past_the_budget_is_unavailable_without_waiting(client, fake_spotify, fake_time, catalogue) -> None:
    track_id = a_track(catalogue)["id"]
    fake_spotify.fail("/v1/tracks/", 429, retry_after=45)
    with pytest.raises(SpotifyUnavailable, match="try later") as caught:
        client.track(track_id)
    assert caught.value.status == 429 and caught.value.retry_after == 45
    assert fake_time.slept == [] and len(fake_spotify.api_requests()) == 1
    # the budget is per call and summed: 20 s waited, another 20 s would pass 30
    fake_spotify.fail("/v1/search", 429, 429, retry_after=20)
    with pytest.raises(SpotifyUnavailable):
        client.search_tracks("love")
    assert fake_time.slept == [20.0]


def test_a_timeout_is_unavailable(spotify_settings, fake_spotify, catalogue) -> None:
    fake_spotify.stall("/v1/tracks/", 30)
    client = SpotifyClient(spotify_settings, timeout=0.3)
    with pytest.raises(SpotifyUnavailable, match="did not answer"):
        client.track(a_track(catalogue)["id"])


def test_a_closed_port_is_unavailable(catalogue, tmp_path) -> None:
    fake = FakeSpotify(catalogue).start()
    env = fake.env()
    fake.stop()
    client = SpotifyClient(Settings.from_env({"MUREC_HOME": str(tmp_path), **env}), timeout=2)
    with pytest.raises(SpotifyUnavailable, match="unreachable"):
        client.track("0000000000000000000000")


def test_an_expired_token_is_fetched_again(client, fake_spotify, fake_time, catalogue) -> None:
    track_id = a_track(catalogue)["id"]
    client.track(track_id)
    fake_time.now += 3600
    client.track(track_id)
    assert fake_spotify.requests.count("POST /api/token") == 2


def test_no_secret_reaches_a_log_line_or_an_error(fake_spotify, tmp_path, caplog, catalogue) -> None:
    caplog.set_level(logging.DEBUG)
    good = Settings.from_env({"MUREC_HOME": str(tmp_path), **fake_spotify.env()})
    client = SpotifyClient(good, wait_budget=0, timeout=2)
    messages = [repr(client)]
    client.track(a_track(catalogue)["id"])
    client.search_tracks("love")
    for status in (401, 403, 429, 500):
        fake_spotify.fail("/v1/search", status)
        with pytest.raises((SpotifyRefused, SpotifyUnavailable)) as caught:
            client.search_tracks("love")
        messages.append(str(caught.value))
    wrong = Settings.from_env({"MUREC_HOME": str(tmp_path), **fake_spotify.env(), "SPOTIFY_CLIENT_SECRET": "s3cr3t"})
    with pytest.raises(SpotifyRefused, match="invalid_client") as caught:
        SpotifyClient(wrong).track(a_track(catalogue)["id"])
    messages.append(str(caught.value))
    text = caplog.text + "\n".join(messages)
    assert "HTTP 401" in caplog.text  # the failures were logged
    basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    for secret in (CLIENT_SECRET, "s3cr3t", basic, TOKEN):
        assert secret not in text


# --- the fake's contract, on the wire --------------------------------------------------------------------------


def _get(fake: FakeSpotify, path: str) -> requests.Response:
    return requests.get(f"{fake.base}/v1/{path}", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5)


def test_the_fake_speaks_development_mode(fake_spotify, catalogue) -> None:
    raw = a_track(catalogue)
    playlist = next(iter(catalogue.playlists))
    too_many = _get(fake_spotify, "search?q=love&type=track&limit=11")
    assert too_many.status_code == 400 and too_many.json() == {"error": {"status": 400, "message": "Invalid limit"}}
    assert _get(fake_spotify, "search?q=love&type=track&limit=10").status_code == 200
    track = _get(fake_spotify, f"tracks/{raw['id']}").json()
    assert "popularity" not in track and all("popularity" not in a for a in track["artists"])
    assert track["external_ids"] == {"isrc": raw["external_ids"]["isrc"]}
    artist_object = _get(fake_spotify, f"artists/{raw['artists'][0]['id']}").json()
    assert artist_object["name"] == raw["artists"][0]["name"] and "popularity" not in artist_object
    entry = _get(fake_spotify, f"playlists/{playlist}/items?limit=5").json()["items"][0]
    assert "item" in entry and "track" not in entry and "popularity" not in entry["item"]
    artist = raw["artists"][0]["id"]
    for removed in (
        f"tracks?ids={raw['id']}",
        f"artists?ids={artist}",
        "albums?ids=b00000000000000000001",
        f"artists/{artist}/top-tracks?market=US",
        f"artists/{artist}/related-artists",
        "browse/new-releases",
        "users/spotify/playlists",
        f"playlists/{playlist}/tracks",
    ):
        answer = _get(fake_spotify, removed)
        assert answer.status_code == 403, removed
        assert answer.json() == {"error": {"status": 403, "message": "Forbidden"}}
    fake_spotify.fail("/v1/tracks/", 429, retry_after=7)
    limited = _get(fake_spotify, f"tracks/{raw['id']}")
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "7"


def test_extended_quota_keeps_the_old_contract(catalogue) -> None:
    fake = FakeSpotify(catalogue, extended_quota=True).start()
    try:
        raw = a_track(catalogue)
        page = _get(fake, "search?q=love&type=track&limit=50").json()["tracks"]
        assert page["limit"] == 50 and len(page["items"]) == 50
        assert "popularity" in page["items"][0]
        assert "popularity" in _get(fake, f"artists/{raw['artists'][0]['id']}").json()
        several = _get(fake, f"tracks?ids={raw['id']}")
        assert several.status_code == 200 and several.json()["tracks"][0]["id"] == raw["id"]
        entry = _get(fake, f"playlists/{next(iter(catalogue.playlists))}/tracks?limit=5").json()["items"][0]
        assert "track" in entry and "item" not in entry
        assert _get(fake, "search?q=love&type=track&limit=51").status_code == 400
    finally:
        fake.stop()

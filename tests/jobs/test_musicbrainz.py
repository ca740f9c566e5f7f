"""The MusicBrainz client against the strict fake (real Yes.com songs): search, ISRC and MBID lookups as Recordings;
one request per second on a shared fake clock; 503 waited out within a budget; timeouts typed; the User-Agent."""

from __future__ import annotations

import socket
import threading

import pytest
import requests

from data.settings import Settings
from jobs.musicbrainz import MIN_INTERVAL, MusicBrainzClient, lucene_phrase
from jobs.open_data import OpenDataGaveUp, OpenDataTimeout, user_agent
from tests.jobs.fake_musicbrainz import FakeMusicBrainz
from tests.jobs.open_catalogue import FakeClock, song_isrc, song_mbid


@pytest.fixture
def fake_mb(open_catalogue, clock):
    fake = FakeMusicBrainz(open_catalogue, clock).start()
    yield fake
    fake.stop()


@pytest.fixture
def mb_settings(fake_mb, tmp_path) -> Settings:
    return Settings.from_env({"MUREC_HOME": str(tmp_path), **fake_mb.env()})


def client(settings: Settings, clock: FakeClock, **kwargs) -> MusicBrainzClient:
    return MusicBrainzClient(settings, clock=clock, sleep=clock.sleep, **kwargs)


def test_search_by_title_and_artist_returns_the_real_song_with_ids(fake_mb, mb_settings, clock) -> None:
    hits = client(mb_settings, clock).search_title_artist("Hotel California", "The Eagles")
    best = hits[0]
    assert best.score == 100 and best.recording.title == "Hotel California"
    assert best.recording.mbid == song_mbid(1167) and best.recording.isrcs == (song_isrc(1167),)
    assert best.recording.artist == "The Eagles" and best.recording.artists[0].mbid
    assert all(h.score <= best.score for h in hits)


def test_free_text_and_lucene_syntax_in_titles_are_words(fake_mb, mb_settings, clock) -> None:
    mb = client(mb_settings, clock)
    assert mb.search_text("bohemian rhapsody queen")[0].recording.mbid == song_mbid(557)
    # a title with quotes, parentheses and a slash reaches the fake as a phrase, not as query syntax
    hits = mb.search_title_artist("Gucci Time (w/ Swizz Beatz)", "Gucci Mane")
    assert hits[0].recording.mbid == song_mbid(0)
    assert lucene_phrase('say "hi" (w/ x)') == r'"say \"hi\" \(w\/ x\)"'


def test_isrc_and_mbid_lookups(fake_mb, mb_settings, clock) -> None:
    mb = client(mb_settings, clock)
    [by_isrc] = mb.by_isrc(song_isrc(557))
    assert (by_isrc.title, by_isrc.artist, by_isrc.mbid) == ("Bohemian Rhapsody", "Queen", song_mbid(557))
    by_mbid = mb.by_mbid(song_mbid(1167))
    assert by_mbid is not None and by_mbid.title == "Hotel California" and by_mbid.isrcs == (song_isrc(1167),)
    assert by_mbid.artists[0].name == "The Eagles" and by_mbid.length_ms == 180_000 + 1167
    assert mb.by_mbid("00000000-0000-4000-8000-000000000000") is None  # 404: no such recording
    before = len(fake_mb.requests)
    assert mb.by_isrc("not-an-isrc") == [] and mb.by_mbid("nope") is None
    assert len(fake_mb.requests) == before  # malformed ids never reach the service


def test_one_request_per_second_on_the_clock(fake_mb, mb_settings, clock) -> None:
    mb = client(mb_settings, clock)
    start = clock()
    for title in ("Hotel California", "Bohemian Rhapsody", "Whip My Hair", "Yesterday"):
        assert mb.search_title_artist(title)
    assert fake_mb.rate_limited == 0 and fake_mb.honoured == 4
    assert clock() - start == pytest.approx(3 * MIN_INTERVAL)  # three waits between four requests, 1.1 s each
    assert mb.waits == [pytest.approx(MIN_INTERVAL)] * 3


def test_clients_of_one_process_share_the_one_per_second_schedule(fake_mb, mb_settings, clock) -> None:
    first, second = client(mb_settings, clock), client(mb_settings, clock)  # e.g. a job and a chat lookup
    for _ in range(3):
        assert first.by_mbid(song_mbid(1)) and second.by_mbid(song_mbid(2))
    assert fake_mb.rate_limited == 0 and fake_mb.honoured == 6


def test_the_fake_is_strict_about_agents_and_rate(fake_mb, mb_settings, clock) -> None:
    url = f"{fake_mb.base}/ws/2/recording/{song_mbid(1)}"
    # no User-Agent at all (http.client sends none unless told)
    raw = socket.create_connection(("127.0.0.1", fake_mb.port))
    raw.sendall(f"GET /ws/2/recording/{song_mbid(1)}?fmt=json HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n".encode())
    assert raw.recv(100).split(b" ")[1] == b"403"
    raw.close()
    assert requests.get(url, params={"fmt": "json"}, headers={"User-Agent": ""}).status_code == 403
    assert requests.get(url, params={"fmt": "json"}).status_code == 403  # python-requests/x.y: a generic library
    agent = {"User-Agent": user_agent(mb_settings)}
    assert requests.get(url, params={"fmt": "json"}, headers=agent).status_code == 200
    assert requests.get(url, params={"fmt": "json"}, headers=agent).status_code == 503  # same instant: too fast
    clock.advance(1.0)
    xml = requests.get(url, headers=agent)  # no fmt=json: XML, the default
    assert xml.status_code == 200 and xml.headers["Content-Type"] == "application/xml"


def test_503_is_waited_out_within_the_budget(fake_mb, mb_settings, clock) -> None:
    eager = client(mb_settings, clock, min_interval=0.0)  # a client that does not pace itself hits the 503
    assert eager.by_mbid(song_mbid(3)) is not None
    assert eager.by_mbid(song_mbid(4)) is not None
    assert fake_mb.rate_limited == 1 and eager.waits == [1.0]
    stingy = client(mb_settings, clock, min_interval=0.0, wait_budget=0.5)
    clock.advance(1.0)
    stingy.by_mbid(song_mbid(5))
    with pytest.raises(OpenDataGaveUp):
        stingy.by_mbid(song_mbid(6))


def test_a_silent_server_is_a_typed_timeout(tmp_path) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    accepted: list[socket.socket] = []
    threading.Thread(target=lambda: accepted.append(listener.accept()[0]), daemon=True).start()
    port = listener.getsockname()[1]
    settings = Settings.from_env(
        {"MUREC_HOME": str(tmp_path), "MUSICBRAINZ_URL": f"http://127.0.0.1:{port}", "MUREC_CONTACT": "a@b.test"}
    )
    with pytest.raises(OpenDataTimeout):
        MusicBrainzClient(settings, timeout=0.3).by_mbid(song_mbid(1))
    for conn in accepted:
        conn.close()
    listener.close()


@pytest.mark.fast
def test_user_agent_names_murecom_and_the_contact(tmp_path) -> None:
    settings = Settings.from_env({"MUREC_HOME": str(tmp_path), "MUREC_CONTACT": "ops@example.org"})
    assert user_agent(settings).startswith("murecom/") and user_agent(settings).endswith("( ops@example.org )")
    with pytest.raises(ValueError, match="MUREC_CONTACT"):
        MusicBrainzClient(Settings.from_env({"MUREC_HOME": str(tmp_path)}))

"""The Spotify crawl against the fake API: snowball, pagination, faults, and resuming after a real SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from sqlalchemy import func, select

from data.corpus import Corpus
from data.crawl import DONE, GONE, CrawlPlaylist, CrawlWord
from data.db import make_engine, migrate
from data.models import Playlist, PlaylistTrack, Track
from data.settings import PROJECT_ROOT
from jobs.crawl import Crawler, words_of
from jobs.spotify import SpotifyClient, SpotifyGaveUp


def stored_playlists(engine) -> dict[str, list[str]]:
    """spotify playlist id → its tracks' spotify ids in position order."""
    out: dict[str, list[str]] = {}
    with engine.connect() as conn:
        rows = conn.execute(
            select(Playlist.source_key, Track.spotify_id)
            .join(PlaylistTrack, PlaylistTrack.playlist_id == Playlist.id)
            .join(Track, Track.id == PlaylistTrack.track_id)
            .where(Playlist.source == "spotify")
            .order_by(Playlist.source_key, PlaylistTrack.position)
        )
        for pid, tid in rows:
            out.setdefault(pid, []).append(tid)
    return out


@pytest.mark.fast
def test_words_are_unicode_aware() -> None:
    assert words_of("Música Latina — Éxitos 2012") == ["música", "latina", "éxitos"]
    assert words_of("日本のロック") == ["日本のロック"]
    assert words_of("Русский рок!!") == ["русский", "рок"]
    assert words_of("the best of 80s hits") == []


def test_snowball_crawl_stores_playlists_in_order(fake_spotify, spotify_settings, empty_engine) -> None:
    client = SpotifyClient(spotify_settings, sleep=lambda s: None)
    crawler = Crawler(empty_engine, client, concurrency=3, page_size=7)
    crawler.seed(["rock"])
    report = crawler.run(max_searches=6, max_pages=10_000)
    assert report.searches >= 2 and report.words_added > 0  # it learned words from names
    stored = stored_playlists(empty_engine)
    assert len(stored) == report.playlists_completed > 0
    for pid, tracks in stored.items():
        assert tracks == [t["id"] for t in fake_spotify.cat.playlists[pid]["items"]]
    with empty_engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(CrawlPlaylist).where(CrawlPlaylist.status != DONE)) == 0
        words = set(conn.scalars(select(CrawlWord.word)))
    assert "rock" in words and len(words) > 1
    # the corpus read API sees them, with artists and albums
    corpus = Corpus(empty_engine)
    any_track = next(iter(corpus.playlists()))[0]
    info = corpus.track_info([any_track])[any_track]
    assert info.spotify_id and info.artists and info.url.startswith("https://open.spotify.com/track/")


def test_429_retry_after_and_5xx_are_retried_403_skipped(fake_spotify, spotify_settings, empty_engine) -> None:
    waits: list[float] = []
    client = SpotifyClient(spotify_settings, sleep=waits.append, base_backoff=0.01)
    fake_spotify.fail("/v1/search", 429, 503, retry_after=7)
    victim = next(p for p, v in fake_spotify.cat.playlists.items() if "rock" in v["name"].split())
    fake_spotify.fail(f"/v1/playlists/{victim}", 403)
    crawler = Crawler(empty_engine, client, concurrency=1)
    crawler.seed(["rock"])
    report = crawler.run(max_searches=1, max_pages=1000)
    assert waits[0] == 7.0  # Retry-After honoured
    assert 0 < waits[1] < 1  # 5xx: short exponential backoff
    assert report.unavailable == 1
    with empty_engine.connect() as conn:
        status = conn.scalar(select(CrawlPlaylist.status).where(CrawlPlaylist.spotify_id == victim))
    assert status == GONE
    assert victim not in stored_playlists(empty_engine)


def test_long_rate_limit_gives_up_clearly(fake_spotify, spotify_settings) -> None:
    client = SpotifyClient(spotify_settings, sleep=lambda s: None, max_wait=60)
    fake_spotify.fail("/v1/search", 429, retry_after=3600)
    with pytest.raises(SpotifyGaveUp, match="3600"):
        client.search_playlists("rock", 0)


def test_sigkill_mid_crawl_then_resume_loses_and_duplicates_nothing(tmp_path, shared_data) -> None:
    port_file = tmp_path / "fake.url"
    server = subprocess.Popen(
        [sys.executable, "-m", "tests.jobs.fake_spotify", str(port_file), "0.02"],
        cwd=PROJECT_ROOT,
        stderr=subprocess.DEVNULL,  # it sees broken pipes when the crawler is killed mid-request
    )
    try:
        for _ in range(200):
            if port_file.exists() and port_file.read_text():
                break
            time.sleep(0.05)
        base = port_file.read_text()
        env = {
            **os.environ,
            "MUREC_HOME": str(tmp_path),
            "DATABASE_URL": "",
            "SPOTIFY_CLIENT_ID": "fake-client-id",
            "SPOTIFY_CLIENT_SECRET": "fake-client-secret",
            "SPOTIFY_API_PREFIX": f"{base}/v1/",
            "SPOTIFY_TOKEN_URL": f"{base}/api/token",
        }
        cmd = [sys.executable, "-m", "murecom_cli", "jobs", "run", "--once", "--only", "crawl", "--searches", "4"]
        engine = make_engine(f"sqlite:///{tmp_path / 'murecom.db'}")
        log_path = tmp_path / "crawler.log"
        with log_path.open("wb") as log_file:
            crawler = subprocess.Popen(cmd, cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log_file)
        deadline = time.monotonic() + 120
        entries = 0
        while time.monotonic() < deadline and entries < 150:
            time.sleep(0.2)
            if (tmp_path / "murecom.db").exists():
                try:
                    with engine.connect() as conn:
                        entries = conn.scalar(select(func.count()).select_from(PlaylistTrack)) or 0
                except Exception:  # noqa: BLE001 - the schema may not be migrated yet
                    entries = 0
        assert crawler.poll() is None, log_path.read_text()[-2000:]
        crawler.send_signal(signal.SIGKILL)
        crawler.wait(10)
        assert crawler.returncode == -signal.SIGKILL
        with engine.connect() as conn:
            killed_at = conn.scalar(select(func.count()).select_from(PlaylistTrack))
            pending = conn.scalar(select(func.count()).select_from(CrawlPlaylist).where(CrawlPlaylist.status != DONE))
        assert killed_at > 0 and pending > 0, "the kill should land mid-crawl"

        resumed = subprocess.run(cmd, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300)
        assert resumed.returncode == 0, resumed.stderr[-2000:]
    finally:
        server.kill()
        server.wait(10)

    from tests.jobs.fake_spotify import Catalogue

    cat = Catalogue(shared_data / "yes_big")
    migrate(engine)
    stored = stored_playlists(engine)
    with engine.connect() as conn:
        done = set(conn.scalars(select(CrawlPlaylist.spotify_id).where(CrawlPlaylist.status == DONE)))
        dup_tracks = conn.execute(
            select(Track.spotify_id, func.count()).group_by(Track.spotify_id).having(func.count() > 1)
        ).all()
        dup_playlists = conn.execute(
            select(Playlist.source_key, func.count()).group_by(Playlist.source_key).having(func.count() > 1)
        ).all()
    assert not dup_tracks and not dup_playlists
    assert set(stored) == done and len(done) > 0
    for pid, tracks in stored.items():
        assert tracks == [t["id"] for t in cat.playlists[pid]["items"]], f"playlist {pid} lost or doubled rows"

"""Fixtures for job tests: the fake Spotify API serving real Yes.com playlists, and settings pointing at it."""

from __future__ import annotations

import pytest

from data.settings import Settings
from tests.jobs.fake_spotify import Catalogue, FakeSpotify
from tests.jobs.open_catalogue import FakeClock, OpenCatalogue


@pytest.fixture(scope="session")
def catalogue(shared_data) -> Catalogue:
    return Catalogue(shared_data / "yes_big")


@pytest.fixture
def fake_spotify(catalogue):
    fake = FakeSpotify(catalogue).start()
    yield fake
    fake.stop()


@pytest.fixture
def spotify_settings(fake_spotify, tmp_path) -> Settings:
    return Settings.from_env({"MUREC_HOME": str(tmp_path), **fake_spotify.env()})


@pytest.fixture(scope="session")
def open_catalogue(shared_data) -> OpenCatalogue:
    """Real Yes.com songs and the first 40 playlists of 5+ songs, with the ids the open-data fakes serve."""
    return OpenCatalogue.load(shared_data / "yes_big")


@pytest.fixture
def clock() -> FakeClock:
    """The clock a client and a fake share (clients sleep on it, fakes rate-limit on it)."""
    return FakeClock()

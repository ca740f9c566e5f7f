"""A real chat core over a private copy of the Yes.com corpus, with a real item-kNN model trained on it and a real
audio index: six real soundtrack tracks (two per label, from var/audio-src) embedded with the shipped audio model,
so the adapters' audio paths end in a real answer (tracks and the label chart), not in "not available"."""

from __future__ import annotations

import io
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import discord
import pytest
import soundfile as sf
import yarl

from bot.app import build_core
from data.audio_files import audio_files, is_audio_name
from data.corpus import Corpus
from data.db import open_database
from data.importers.audio_folder import import_audio_folder
from data.settings import Settings
from recommenders.artifacts import ArtifactStore
from recommenders.audio.setup import ensure_index
from recommenders.cf.training import train_and_publish
from tests.bot.fake_discord import FakeDiscord

INDEXED_PER_LABEL = 2


@pytest.fixture(scope="session")
def audio_src() -> Path:
    folder = Settings.from_env(dotenv=False).home / "audio-src"
    clips = audio_files(folder)
    assert len(clips) > 50, f"no real audio in {folder}: run scripts/get_audio.sh"
    return folder


@pytest.fixture(scope="session")
def bot_home(tmp_path_factory, yes_engine, audio_src):
    """MUREC_HOME with a copy of the Yes.com database, a published CF model and a published audio index over six
    real tracks (sessions write to this copy)."""
    home = tmp_path_factory.mktemp("bothome")
    src = sqlite3.connect(yes_engine.url.database)
    dst = sqlite3.connect(home / "murecom.db")
    src.backup(dst)
    src.close()
    dst.close()
    settings = Settings.from_env({"MUREC_HOME": str(home)})
    engine = open_database(settings)
    corpus = Corpus(engine)
    store = ArtifactStore(settings.models_dir)
    train_and_publish(corpus, store, models=["itemknn"], evaluate=False)
    folder = home / "audio-src"
    for label_dir in (audio_src / label for label in ("singularity", "warzone2100", "wesnoth")):
        (folder / label_dir.name).mkdir(parents=True)
        for clip in sorted(p for p in label_dir.iterdir() if is_audio_name(p.name))[:INDEXED_PER_LABEL]:
            (folder / label_dir.name / clip.name).symlink_to(clip)
    import_audio_folder(engine, folder)
    # no telephone-band clip is asked here. Whole tracks: the index then holds enough patches to be whitened as
    # the product's is, which keeps the clip's own soundtrack first among its sounds-alike picks (a 30 s or 2 min
    # cut per track did not)
    summary = ensure_index(corpus, store, settings, narrow_band=False)
    assert f"{3 * INDEXED_PER_LABEL} tracks" in summary, summary
    return home


@pytest.fixture(scope="session")
def bot_settings(bot_home) -> Settings:
    return Settings.from_env({"MUREC_HOME": str(bot_home)})


@pytest.fixture
def core(bot_settings):
    return build_core(bot_settings)


@pytest.fixture(scope="session")
def wesnoth_clip(audio_src) -> bytes:
    """20 s of a real Wesnoth track that is not in the index, as an Ogg Vorbis upload (about 300 KB)."""
    unindexed = sorted(audio_src.glob("wesnoth/*"))[INDEXED_PER_LABEL:]
    path = next(p for p in unindexed if sf.info(str(p)).duration >= 60)
    info = sf.info(str(path))
    data, rate = sf.read(str(path), start=int(info.samplerate * 30), frames=info.samplerate * 20, dtype="float32")
    buf = io.BytesIO()
    sf.write(buf, data, rate, format="OGG", subtype="VORBIS")
    return buf.getvalue()


@pytest.fixture
async def fake(monkeypatch) -> AsyncIterator[FakeDiscord]:
    """The strict fake Discord on 127.0.0.1, with discord.py pointed at it (tests/bot/fake_discord.py)."""
    fake = FakeDiscord()
    await fake.start()
    monkeypatch.setattr(discord.http.Route, "BASE", fake.api_base)
    monkeypatch.setattr(discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(fake.gateway))
    yield fake
    await fake.stop()

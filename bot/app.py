"""The composition root: the one place that builds a running murecom from its settings.

Settings → engine (migrated here, explicitly) → corpus, artifact store, session store → the serving-snapshot
watcher → the chat core. Adapters, the console and the embedded job scheduler receive what they need from the
`App`; nothing below reaches for a process-wide singleton.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import Engine

from bot.command_spec import Command
from bot.commands import COMMANDS
from bot.core import ChatCore
from bot.metrics import Metrics
from bot.snapshot import SnapshotBuilder, SnapshotWatcher
from data.corpus import Corpus
from data.db import open_database
from data.sessions import SessionStore
from data.settings import Settings
from jobs.listenbrainz import ListenBrainzClient
from jobs.musicbrainz import MusicBrainzClient
from jobs.song_lookup import LOOKUP_WAIT_BUDGET, SongLookup
from jobs.spotify import SpotifyClient
from recommenders.artifacts import ArtifactStore
from recommenders.audio.loader import AudioModels

log = logging.getLogger(__name__)


@dataclass
class App:
    """Everything a running bot process holds."""

    settings: Settings
    engine: Engine
    corpus: Corpus
    store: ArtifactStore
    watcher: SnapshotWatcher
    core: ChatCore
    audio_models: AudioModels
    metrics: Metrics

    async def watch(self, stop: asyncio.Event) -> None:
        """Keep the serving snapshot current until `stop` is set."""
        await self.watcher.run(stop)

    def close(self) -> None:
        self.metrics.close()
        self.core.close()
        self.engine.dispose()


def build_app(
    settings: Settings,
    engine: Engine | None = None,
    clock: Callable[[], float] = time.monotonic,
    wall_clock: Callable[[], float] = time.time,
    commands: Sequence[Command] = COMMANDS,
) -> App:
    """Build the process: the first serving snapshot is loaded before this returns, so the first answer is fast.
    `commands` is the command table served (each row names its feature handler)."""
    engine = engine if engine is not None else open_database(settings)
    corpus = Corpus(engine)
    store = ArtifactStore(settings.models_dir)
    audio_models = AudioModels()  # one copy of each audio model for the snapshots and the embedded jobs
    builder = SnapshotBuilder(corpus, store, settings, audio_models)
    watcher = SnapshotWatcher(builder, check_every=settings.snapshot_check_seconds)
    core = ChatCore(
        watcher.current,
        corpus,
        SessionStore(engine),
        settings,
        clock=clock,
        wall_clock=wall_clock,
        commands=commands,
        lookup=build_lookup(settings, engine),
    )
    return App(settings, engine, corpus, store, watcher, core, audio_models, core.metrics)


def build_lookup(settings: Settings, engine: Engine) -> SongLookup | None:
    """The on-demand look-up of songs the corpus lacks, when MusicBrainz may be called: it asks every client for a
    contact (`MUREC_CONTACT`), so without one nothing calls out and unknown songs are said to be unknown."""
    if not settings.contact:
        return None
    spotify = None
    if settings.spotify_client_id and settings.spotify_client_secret:  # links only: a title and an ISRC, never kept
        spotify = SpotifyClient(settings, wait_budget=LOOKUP_WAIT_BUDGET)
    return SongLookup(
        engine,
        MusicBrainzClient(settings, wait_budget=LOOKUP_WAIT_BUDGET),
        ListenBrainzClient(settings, wait_budget=LOOKUP_WAIT_BUDGET),
        spotify,
    )


def build_core(settings: Settings, clock: Callable[[], float] = time.monotonic) -> ChatCore:
    """Just the chat core (tests and one-shot commands); a long-running process uses `build_app` and `App.watch`."""
    return build_app(settings, clock=clock).core

"""Wiring: build the one `ChatCore` of the process from the settings (database, search, live models)."""

from __future__ import annotations

import logging
import time
from typing import Any

from bot.core import ChatCore, Services
from data.corpus import Corpus
from data.db import get_engine
from data.search import TrackSearch
from data.sessions import SessionStore
from data.settings import Settings
from recommenders.artifacts import ArtifactStore

log = logging.getLogger(__name__)


def _audio_provider(settings: Settings):
    """A provider of the audio service, or of None while the audio recommender is not installed/published."""
    try:
        from recommenders.audio.service import load_audio_service
    except ModuleNotFoundError:
        return lambda: None
    state: dict[str, Any] = {"service": None, "checked": 0.0}

    def get():
        if state["service"] is None and time.monotonic() - state["checked"] > 30:
            state["checked"] = time.monotonic()
            state["service"] = load_audio_service(settings)
        return state["service"]

    return get


def build_core(settings: Settings) -> ChatCore:
    from recommenders.cf.registry import CF_ARTIFACT, live_cf

    engine = get_engine(settings.database_url)
    corpus = Corpus(engine)
    store = ArtifactStore(settings.models_dir)
    cf = live_cf(store)
    audio = _audio_provider(settings)
    stats_cache: dict[str, Any] = {"at": 0.0, "stats": {}}

    def about() -> dict[str, str]:
        if time.monotonic() - stats_cache["at"] > 60:
            stats_cache["stats"], stats_cache["at"] = corpus.stats(), time.monotonic()
        stats = stats_cache["stats"]
        meta = store.meta(CF_ARTIFACT)
        metrics = meta.get("metrics", {})
        cf_line = "not trained yet"
        if meta:
            cf_line = f"{meta.get('model', meta.get('class'))} (version {meta.get('version')})"
            if "ndcg@100" in metrics:
                cf_line += f", NDCG@100 {metrics['ndcg@100']:.3f} on held-out playlists"
        audio_service = audio()
        return {
            "corpus": f"{stats['tracks']:,} tracks, {stats['playlists']:,} playlists, "
            f"{stats['tracks_with_audio']:,} with audio",
            "similar-by-name model": cf_line,
            "audio model": getattr(audio_service, "description", "not available") if audio_service else "not available",
        }

    services = Services(
        corpus=corpus,
        search=TrackSearch.for_corpus(corpus),
        sessions=SessionStore(engine),
        cf=cf.get,
        audio=audio,
        about=about,
    )
    return ChatCore(services, settings)

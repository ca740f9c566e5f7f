"""The serving snapshot: everything a request reads, built together and swapped as one reference.

A reply must never mix versions: a clip embedded by one audio model and compared against an index built by another,
a recommendation from a retrained model rendered with the old model's `/about` figure, a crawled track that is
recommended but cannot be found by name. So the pieces that change while the bot runs — the published CF models
(one per path: `/similar` and group sessions), the audio model *with the index built by it*, the name-search index
and the corpus figures — live in one immutable `Snapshot`. A request takes the current snapshot once and uses only
it. One `SnapshotWatcher` notices a new published version or a grown corpus, builds the next snapshot off the event
loop (reusing the parts that did not change) and swaps the reference; a part that fails to load is logged and the
old part kept, so a broken publish never takes the bot down.

The audio pairing is by construction: the index artifact's meta names the model folder it was embedded with, and
the snapshot loads exactly that model for it. A newly published audio model is therefore served only once an
index built with it is published.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from data.corpus import Corpus
from data.search import TrackSearch
from data.settings import Settings
from recommenders.artifacts import ArtifactStore
from recommenders.audio.loader import AudioModels
from recommenders.base import Recommender
from recommenders.cf.fallback import WithFallback
from recommenders.cf.models import load_recommender
from recommenders.cf.serving import served_figure
from recommenders.indexes import current_indexes
from recommenders.tags import TagIndex

if TYPE_CHECKING:
    from recommenders.audio.service import AudioService

log = logging.getLogger(__name__)

#: Published artifacts a snapshot serves: the `/similar` model, the group-session model, the audio index.
CF_SIMILAR = "cf"
CF_SESSION = "cf-session"
AUDIO_INDEX = "audio-index"
SERVED_ARTIFACTS = (CF_SIMILAR, CF_SESSION, AUDIO_INDEX)


@dataclass(frozen=True)
class Snapshot:
    """One consistent view for serving; never mutated (the watcher builds a new one)."""

    versions: Mapping[str, str | None]
    watermark: tuple[int, int]
    search: TrackSearch
    stats: Mapping[str, int]
    tags: TagIndex | None = None
    cf: WithFallback | None = None
    cf_meta: Mapping[str, Any] = field(default_factory=dict)
    session_cf: WithFallback | None = None
    session_meta: Mapping[str, Any] = field(default_factory=dict)
    audio: AudioService | None = None
    fallback: WithFallback | None = None
    built_at: float = 0.0

    def model_for_sessions(self) -> WithFallback | None:
        """The multi-seed model sessions use, or the `/similar` model while none is published for sessions."""
        return self.session_cf if self.session_cf is not None else self.cf

    @property
    def label(self) -> str:
        """Which versions served a reply (for logs and for tests that check no reply mixes versions)."""
        parts = [f"{name}={version}" for name, version in sorted(self.versions.items()) if version]
        return " ".join(parts + [f"corpus={self.watermark[0]}/{self.watermark[1]}"])


def describe_cf(meta: Mapping[str, Any]) -> str:
    """The `/about` line of a served CF artifact: its model, version and the figure measured on the path it serves
    (`served_figure` refuses a figure that belongs to another model)."""
    if not meta:
        return "not trained yet"
    return f"{served_figure(meta)}; version {meta.get('version')}"


class SnapshotBuilder:
    """Reads what is published and loads it."""

    def __init__(
        self, corpus: Corpus, store: ArtifactStore, settings: Settings, audio_models: AudioModels | None = None
    ) -> None:
        self.corpus = corpus
        self.store = store
        self.settings = settings
        self._failed: set[tuple[str, str]] = set()
        # the audio models its snapshots serve, reused across swaps (the composition root shares them with the jobs)
        self.audio_models = audio_models if audio_models is not None else AudioModels()

    def wanted(self) -> tuple[dict[str, str | None], tuple[int, int]]:
        """The published versions and the corpus watermark now (a few file reads and one cheap query)."""
        return {name: self.store.current_version(name) for name in SERVED_ARTIFACTS}, self.corpus.watermark()

    def build(self, previous: Snapshot | None = None) -> Snapshot:
        """The snapshot of what is published now, reusing every part of `previous` that did not change."""
        versions, watermark = self.wanted()
        served: dict[str, str | None] = {}
        parts: dict[str, Any] = {}
        raw: dict[str, Recommender | None] = {}
        for name, attr, meta_attr in ((CF_SIMILAR, "cf", "cf_meta"), (CF_SESSION, "session_cf", "session_meta")):
            old_version = previous.versions.get(name) if previous else None
            wrapped = getattr(previous, attr) if previous else None
            old = (wrapped.inner if wrapped is not None else None, getattr(previous, meta_attr) if previous else {})
            raw[attr], parts[meta_attr], served[name] = self._part(
                name, versions[name], old_version, old, self._load_cf
            )
        # the search and the fallback chain are corpus data shared by both paths' models: replaced only when the
        # corpus grew (loaded from the published `indexes` when they match it, else built and published)
        same_corpus = previous is not None and previous.watermark == watermark
        search = previous.search if previous is not None and same_corpus else None
        chain = previous.fallback if previous is not None and same_corpus else None
        stats = previous.stats if previous is not None and same_corpus else None
        first = next((m for m in raw.values() if m is not None), None)
        if search is None or stats is None or (chain is None and first is not None):
            indexes = current_indexes(self.store, self.corpus, first, watermark)
            search, chain, stats = indexes.search, indexes.chain, indexes.stats
        for attr, model in raw.items():
            parts[attr] = chain.with_inner(model) if chain is not None and model is not None else None
        parts["fallback"] = chain
        if previous is not None and same_corpus and previous.tags is not None:
            tags = previous.tags
        else:
            t0 = time.perf_counter()
            tags = TagIndex.from_corpus(self.corpus)
            log.info("tag index read in %.1fs", time.perf_counter() - t0)
        old_version = previous.versions.get(AUDIO_INDEX) if previous else None
        old_audio: tuple[Any, Mapping[str, Any]] = (previous.audio if previous else None, {})
        parts["audio"], _, served[AUDIO_INDEX] = self._part(
            AUDIO_INDEX,
            versions[AUDIO_INDEX],
            old_version,
            old_audio,
            lambda path, meta: self._load_audio(path, meta, tags),
        )
        if previous is not None and served.get(AUDIO_INDEX) != previous.versions.get(AUDIO_INDEX):
            stats = self.corpus.stats()  # an index grows when tracks gained audio
        return Snapshot(
            versions=served, watermark=watermark, search=search, stats=stats, tags=tags, built_at=time.time(), **parts
        )

    def _part(
        self,
        name: str,
        wanted: str | None,
        old_version: str | None,
        old: tuple[Any, Mapping[str, Any]],
        load: Callable[[Path, Mapping[str, Any]], Any],
    ) -> tuple[Any, Mapping[str, Any], str | None]:
        """(object, meta, version) for one artifact: the old one when unchanged or when the new one fails."""
        if wanted is None:
            return None, {}, None
        if wanted == old_version or (name, wanted) in self._failed:
            return old[0], old[1], old_version
        path = self.store.path(name, wanted)
        assert path is not None
        try:
            meta = self.store.meta(name, wanted)
            obj = load(path, meta)
        except Exception:
            self._failed.add((name, wanted))
            log.exception("could not load %s version %s; keeping %s", name, wanted, old_version)
            return old[0], old[1], old_version
        log.info("loaded %s version %s", name, wanted)
        return obj, meta, wanted

    def _load_cf(self, path: Path, meta: Mapping[str, Any]) -> Recommender:
        return load_recommender(path)

    def _load_audio(self, path: Path, meta: Mapping[str, Any], tags: TagIndex) -> AudioService | None:
        """The audio service; its tag bridge reads the snapshot's own tag index (one tf-idf over the corpus's tags)."""
        # lazy: the audio service brings TensorFlow; a snapshot without an audio index never loads it
        from recommenders.audio.service import load_audio_pair

        return load_audio_pair(path, meta, self.settings, tags, self.audio_models)


class SnapshotWatcher:
    """Holds the current snapshot and replaces it when something it serves changed."""

    def __init__(self, builder: SnapshotBuilder, check_every: float = 2.0) -> None:
        self.builder = builder
        self.check_every = check_every
        self._refresh_lock = threading.Lock()
        self._listeners: list[Callable[[Snapshot], None]] = []
        self._snapshot = builder.build(None)
        _freeze_long_lived()

    def current(self) -> Snapshot:
        """The snapshot to serve one request from (a reference read: take it once per request)."""
        return self._snapshot

    def on_swap(self, listener: Callable[[Snapshot], None]) -> None:
        """Call `listener(new_snapshot)` after every swap (tests wait on this instead of sleeping)."""
        self._listeners.append(listener)

    def refresh(self) -> bool:
        """Build and swap in a new snapshot if anything served changed; True when it swapped. Blocking: call it
        from a worker thread (`run` does)."""
        with self._refresh_lock:
            old = self._snapshot
            versions, watermark = self.builder.wanted()
            if versions == dict(old.versions) and watermark == old.watermark:
                return False
            new = self.builder.build(old)
            if dict(new.versions) == dict(old.versions) and new.watermark == old.watermark:
                return False  # what changed failed to load; the old parts stay
            self._snapshot = new
        _freeze_long_lived()
        log.info("serving snapshot: %s", new.label)
        for listener in list(self._listeners):
            listener(new)
        return True

    async def run(self, stop: asyncio.Event) -> None:
        """Look for changes every `check_every` seconds until `stop` is set; builds run in a worker thread."""
        while not stop.is_set():
            try:
                await asyncio.to_thread(self.refresh)
            except Exception:  # noqa: BLE001 - logged; the next look tries again
                log.exception("snapshot refresh failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.check_every)


def _freeze_long_lived() -> None:
    """Move every object alive now (the snapshot's, mostly) out of the garbage collector's sight.

    A snapshot lives for hours and holds up to millions of small objects (names, dict entries); without this each
    full collection walks them all during some request, a pause of tens of milliseconds at the MPD's size. At each
    swap the frozen objects are first handed back and collected once (off the request path, in the watcher), so the
    cycles of a replaced snapshot (a Keras model has many) are freed rather than kept forever."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()

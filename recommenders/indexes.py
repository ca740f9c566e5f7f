"""The corpus indexes a bot serves besides the models — the name search and the fallback chain — as an artifact.

Both are functions of the corpus alone, and building them means reading every track name and every playlist:
20 s and 36 s of a bot's cold start at 100 k MPD playlists, minutes at a million. So they are built once per corpus
state and published as the `indexes` artifact (memory-mappable arrays; its meta holds the corpus watermark they
were built at). `murecom train` publishes them with the models it trains, from the playlists it has already read;
a bot loads them when their watermark is the corpus's, and otherwise builds them itself, as before, and publishes
them for the next start.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from data.corpus import Corpus
from data.search import TrackSearch
from recommenders.artifacts import ArtifactStore
from recommenders.base import Recommender
from recommenders.cf.fallback import WithFallback

log = logging.getLogger(__name__)

INDEXES = "indexes"
KEEP_VERSIONS = 2


@dataclass(frozen=True)
class CorpusIndexes:
    """The name search, (when a CF model exists to wrap) the fallback chain, and the corpus figures `/about` quotes
    (row counts: seconds of scanning at 65 M playlist entries), at one corpus watermark."""

    search: TrackSearch
    chain: WithFallback | None
    watermark: tuple[int, int]
    stats: Mapping[str, int]


def build_indexes(
    corpus: Corpus,
    inner: Recommender | None,
    playlists: Iterable[Sequence[int]] | None = None,
    watermark: tuple[int, int] | None = None,
) -> CorpusIndexes:
    """Both indexes from the database (`playlists`, when the caller has read them already, spares a second read).

    The watermark is read before anything else, so rows added meanwhile make the result stale, never silently
    included-or-not."""
    mark = watermark if watermark is not None else corpus.watermark()
    search = TrackSearch(corpus)
    chain = WithFallback.from_corpus(inner, corpus, playlists) if inner is not None else None
    return CorpusIndexes(search, chain, mark, corpus.stats())


def publish_indexes(store: ArtifactStore, indexes: CorpusIndexes) -> str | None:
    """Publish `indexes`; a store that cannot be written (a read-only volume) is logged and skipped."""
    try:
        with store.staging(INDEXES) as staged:
            (staged / "search").mkdir()
            indexes.search.save(staged / "search")
            if indexes.chain is not None:
                (staged / "fallback").mkdir()
                indexes.chain.save(staged / "fallback")
            meta = {"watermark": list(indexes.watermark), "tracks": len(indexes.search), "stats": dict(indexes.stats)}
            version = store.publish(INDEXES, staged, {**meta, "fallback": indexes.chain is not None})
        store.prune(INDEXES, keep_last=KEEP_VERSIONS)
    except OSError as exc:
        log.warning("could not publish the corpus indexes (%s); they will be rebuilt at the next start", exc)
        return None
    return version


def load_indexes(
    store: ArtifactStore, corpus: Corpus, watermark: tuple[int, int], inner: Recommender | None
) -> CorpusIndexes | None:
    """The published indexes when they were built at `watermark` (and hold a chain, if `inner` needs one)."""
    version = store.current_version(INDEXES)
    if version is None:
        return None
    meta = store.meta(INDEXES, version)
    if tuple(meta.get("watermark", ())) != tuple(watermark) or (inner is not None and not meta.get("fallback")):
        return None
    if "stats" not in meta:
        return None
    path = store.path(INDEXES, version)
    assert path is not None
    search = TrackSearch.load(path / "search", corpus)
    chain = WithFallback.load(path / "fallback", inner) if inner is not None else None
    return CorpusIndexes(search, chain, watermark, {k: int(v) for k, v in meta["stats"].items()})


def current_indexes(
    store: ArtifactStore, corpus: Corpus, inner: Recommender | None, watermark: tuple[int, int] | None = None
) -> CorpusIndexes:
    """The indexes for the corpus as it is now: loaded when published at this watermark, else built and published."""
    mark = watermark if watermark is not None else corpus.watermark()
    t0 = time.perf_counter()
    try:
        loaded = load_indexes(store, corpus, mark, inner)
    except (OSError, ValueError, KeyError) as exc:
        log.warning("the published corpus indexes could not be read (%s); rebuilding them", exc)
        loaded = None
    if loaded is not None:
        log.info("corpus indexes loaded in %.1fs", time.perf_counter() - t0)
        return loaded
    built = build_indexes(corpus, inner, watermark=mark)
    log.info("corpus indexes over %d tracks built in %.1fs", len(built.search), time.perf_counter() - t0)
    publish_indexes(store, built)
    return built

"""Retrain the published CF model when the corpus has grown, and publish the new one only if it is not worse.

The comparison is fair and about the data, since the configuration stays the one that won the last full
evaluation: on one seeded held-out split of the *current* corpus, the same model class and parameters are fitted
twice — on the training part of the playlists the published model knew (those up to the playlist id recorded at
its publication), and on the training part of all playlists. Both answer the same held-out cases; the new one is
published (atomically, through the artifact store, so a running bot switches on its next look) only when its
primary score is within the tolerance of the old one's. A crawl that brought junk playlists is thus refused.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from sqlalchemy import Engine, func, select

from data.corpus import Corpus
from data.kv import read_state, write_state
from data.models import PlaylistTrack
from data.settings import Settings
from recommenders.artifacts import ArtifactStore

log = logging.getLogger(__name__)
STATE_KEY = "retrain:cf"


def _max_playlist_id(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(select(func.max(PlaylistTrack.playlist_id))) or 0)


def _state(engine: Engine) -> dict[str, Any]:
    return read_state(engine, STATE_KEY) or {}


def _save_state(engine: Engine, state: dict[str, Any]) -> None:
    with engine.begin() as conn:
        write_state(conn, STATE_KEY, state)


def record_trained(engine: Engine, version: str) -> None:
    """Remember which playlists the model published as `version` was trained on (called after a publish)."""
    state = _state(engine)
    state.update({"max_playlist_id": _max_playlist_id(engine), "version": version, "at": time.time()})
    _save_state(engine, state)


def retrain_if_needed(
    engine: Engine,
    settings: Settings,
    *,
    force: bool = False,
    min_new_playlists: int = 100,
    tolerance: float = 0.02,
    seed: int = 42,
) -> dict[str, Any]:
    from recommenders.cf.registry import CF_ARTIFACT, model_classes, train_and_publish
    from recommenders.evaluation import evaluate_recommender, is_not_worse, playlist_split, primary_score

    corpus = Corpus(engine)
    store = ArtifactStore(settings.models_dir)
    current = store.current_version(CF_ARTIFACT)
    if current is None:
        summary = train_and_publish(corpus, store)
        record_trained(engine, summary["version"])
        return {"published": summary["version"], "reason": "no model was published yet", "winner": summary["winner"]}
    state = _state(engine)
    known_max = int(state.get("max_playlist_id", 0))
    ids = corpus.playlist_ids()
    n_old = sum(1 for i in ids if i <= known_max)
    n_new = len(ids) - n_old
    if not force and n_new < min_new_playlists:
        return {"skipped": f"{n_new} new playlists since the last training (< {min_new_playlists})"}

    meta = store.meta(CF_ARTIFACT)
    cls = model_classes()[meta["class"]]
    params = meta.get("params", {})
    t0 = time.perf_counter()
    split = playlist_split(corpus, seed=seed)
    old = cls(**params).fit_sequences(split.train[:n_old] if n_old else split.train)
    new = cls(**params).fit_sequences(split.train)
    old_metrics = evaluate_recommender(old, split)
    new_metrics = evaluate_recommender(new, split)
    result: dict[str, Any] = {
        "model": meta["class"],
        "new_playlists": n_new,
        "old_score": round(primary_score(old_metrics), 5),
        "new_score": round(primary_score(new_metrics), 5),
        "cases": len(split.cases),
    }
    if not is_not_worse(new_metrics, old_metrics, tolerance):
        log.warning("retrained %s is worse (%s); keeping version %s", meta["class"], result, current)
        _save_state(engine, {**state, "rejected": result, "rejected_at": time.time()})
        return {**result, "published": None, "kept": current}
    final = cls(**params).fit_sequences(corpus.playlists())
    publish_meta = {
        **{k: v for k, v in meta.items() if k not in ("version", "created", "name")},
        "metrics": new_metrics,
        "previous_version": current,
        "retrain": result,
        "fit_seconds": time.perf_counter() - t0,
        "n_items": len(final.item_ids),
    }
    with store.staging(CF_ARTIFACT) as staged:
        final.save(staged)
        version = store.publish(CF_ARTIFACT, staged, publish_meta)
    record_trained(engine, version)
    store.prune(CF_ARTIFACT, keep_last=5)
    return {**result, "published": version, "previous": current}

"""Retrain the served CF models when the corpus has grown, and publish each new one only if it is not worse.

Each served artifact (`cf` for `/similar`, `cf-session` for sessions) is retrained on its own path. The comparison
is fair and about the data, since the configuration stays the one that won the last full evaluation: on one seeded
held-out split of the *current* corpus, the same model class and parameters are fitted twice — on the training
part of the playlists the published model knew (those up to the playlist id recorded at its publication), and on
the training part of all playlists. Both answer the *validation* cases of the artifact's protocol (one-seed or
multi-seed); the new one is published (atomically, so a running bot switches on its next look) only when its
primary score is within the tolerance of the old one's. An import that brought junk playlists is thus refused. The
published meta's `served` figure is measured anew on the path's *test* cases, so `/about` quotes the model it
serves, never the previous one's figure.
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
from recommenders.cf.models import model_classes
from recommenders.cf.paths import CF_ARTIFACT, SERVED
from recommenders.cf.training import train_and_publish
from recommenders.evaluation import evaluate_recommender, is_not_worse, playlist_split, primary_score

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
    corpus = Corpus(engine)
    store = ArtifactStore(settings.models_dir)
    if store.current_version(CF_ARTIFACT) is None:
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

    split = playlist_split(corpus, seed=seed)
    old_train = split.train[:n_old] if n_old else split.train
    paths: dict[str, dict[str, Any]] = {}
    for artifact, protocol in SERVED.items():
        current = store.current_version(artifact)
        if current is None:
            continue
        t0 = time.perf_counter()
        meta = store.meta(artifact)
        if meta.get("engine") == "spark":
            # trained on Spark (jobs/spark_train.py): refitting it here with `implicit` would silently serve
            # another engine's model; the Spark job retrains it where it runs
            paths[artifact] = {"skipped": "trained on Spark: retrain with `murecom train-spark --publish`"}
            continue
        cls = model_classes()[meta["class"]]
        params = meta.get("params", {})
        validation, test = split.view("validation", protocol), split.view("test", protocol)
        old = cls(**params).fit_sequences(old_train)
        new = cls(**params).fit_sequences(split.train)
        old_metrics, new_metrics = evaluate_recommender(old, validation), evaluate_recommender(new, validation)
        result: dict[str, Any] = {
            "model": meta.get("model", meta["class"]),
            "protocol": protocol,
            "old_score": round(primary_score(old_metrics), 5),
            "new_score": round(primary_score(new_metrics), 5),
            "cases": len(validation.cases),
        }
        if not is_not_worse(new_metrics, old_metrics, tolerance):
            log.warning("retrained %s for %s is worse (%s); keeping %s", meta["class"], artifact, result, current)
            paths[artifact] = {**result, "published": None, "kept": current}
            continue
        final = cls(**params).fit_sequences(corpus.playlists())
        publish_meta = {
            **{k: v for k, v in meta.items() if k not in ("version", "created", "name", "served", "metrics")},
            "previous_version": current,
            "retrain": result,
            "fit_seconds": time.perf_counter() - t0,
            "n_items": len(final.item_ids),
        }
        if "served" in meta:  # the figure of this model on its path, measured now
            test_metrics = evaluate_recommender(new, test)
            publish_meta["served"] = {
                **meta["served"],
                "metrics": test_metrics,
                "validation_metrics": new_metrics,
                "ci": {},
                "split": test.describe(),
                "retrained": True,
            }
            publish_meta["metrics"] = test_metrics
        with store.staging(artifact) as staged:
            final.save(staged)
            version = store.publish(artifact, staged, publish_meta)
        store.prune(artifact, keep_last=5)
        paths[artifact] = {**result, "published": version, "previous": current}
    main = paths[CF_ARTIFACT]
    if any(p.get("published") for p in paths.values()):
        record_trained(engine, str(main.get("published") or main.get("kept") or store.current_version(CF_ARTIFACT)))
    else:
        _save_state(engine, {**state, "rejected": paths, "rejected_at": time.time()})
    return {**main, "new_playlists": n_new, "paths": paths}

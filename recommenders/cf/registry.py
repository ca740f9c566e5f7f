"""Names of the CF models, loading any saved one, and the train → evaluate → publish step.

`CF_ARTIFACT` is the published default for `/similar`: `train_and_publish` fits every candidate on a held-out split,
evaluates them with `recommenders.evaluation`, refits each on the whole corpus, publishes each under its own name
and the best one (by the mean of R-precision and NDCG@100) under `CF_ARTIFACT`, with the metrics in its meta.
"""

from __future__ import annotations

import functools
import inspect
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from recommenders.artifacts import ArtifactStore, LiveModel
from recommenders.base import Recommender
from recommenders.cf.common import CFRecommender

if TYPE_CHECKING:
    from data.corpus import Corpus

log = logging.getLogger(__name__)

CF_ARTIFACT = "cf"


def model_classes() -> dict[str, type[CFRecommender]]:
    """Every saveable CF model class by its `name` (what `model.json` records)."""
    from recommenders.cf.als import ALSRecommender
    from recommenders.cf.baselines import PopularityRecommender, RandomRecommender
    from recommenders.cf.ease import EASE
    from recommenders.cf.itemknn import ItemKNN
    from recommenders.cf.rp3beta import RP3beta
    from recommenders.cf.sknn import SessionKNN
    from recommenders.cf.surprise_knn import SurpriseKNNBaseline
    from recommenders.cf.word2vec import Word2VecRecommender

    classes: list[type[CFRecommender]] = [
        ItemKNN,
        RP3beta,
        EASE,
        SessionKNN,
        ALSRecommender,
        Word2VecRecommender,
        SurpriseKNNBaseline,
        PopularityRecommender,
        RandomRecommender,
    ]
    return {c.name: c for c in classes}


def make_model(name: str, seed: int = 42, **params: Any) -> CFRecommender:
    """A fresh model by name with its class defaults (the tuned settings live there, see bench/cf_tune.py),
    `params` overriding them, and `seed` passed to the classes that draw random numbers."""
    classes = model_classes()
    if name not in classes:
        raise ValueError(f"unknown model {name!r}; choose from {sorted(classes)}")
    cls = classes[name]
    if "seed" in inspect.signature(cls.__init__).parameters:
        params = {"seed": seed, **params}
    return cls(**params)


def model_factories(seed: int = 42) -> dict[str, Callable[[], CFRecommender]]:
    """Factories of the comparable models (the baselines popularity and random excluded), by name."""
    names = [n for n in model_classes() if n not in ("popularity", "random")]
    return {name: functools.partial(make_model, name, seed) for name in names}


def load_recommender(path: Path) -> CFRecommender:
    """Load whatever CF model `path` holds (its `model.json` marker names the class)."""
    return CFRecommender.load(Path(path))


def live_cf(store: ArtifactStore, name: str = CF_ARTIFACT) -> LiveModel[Recommender]:
    """A live handle on the published CF model (follows CURRENT; `get()` is None until something is published)."""
    return LiveModel(store, name, load_recommender)


def train_and_publish(
    corpus: Corpus,
    store: ArtifactStore,
    models: Sequence[str] | None = None,
    *,
    evaluate: bool = True,
    seed: int = 42,
) -> dict[str, Any]:
    """Fit the candidate models, evaluate them on a held-out split, publish each and the winner as `CF_ARTIFACT`.

    Returns {"models": {name: {"version", "fit_seconds", "metrics"?}}, "winner": name, "version": winner's version,
    "baselines": {...metrics}}. With `evaluate=False` nothing is held out and the first model is the winner.
    """
    from recommenders.evaluation import fit_and_evaluate, playlist_split, primary_score

    factories = model_factories(seed)
    names = list(models) if models is not None else ["itemknn", "rp3beta", "ease", "sknn", "als"]
    unknown = [n for n in names if n not in factories]
    if unknown or not names:
        raise ValueError(f"unknown model(s) {unknown}; choose from {sorted(factories)}")
    summary: dict[str, Any] = {"models": {}, "baselines": {}}
    metrics: dict[str, dict[str, float]] = {}
    if evaluate:
        from recommenders.cf.baselines import PopularityRecommender

        t0 = time.perf_counter()
        split = playlist_split(corpus, seed=seed)
        metrics = fit_and_evaluate({n: factories[n] for n in names}, split, log=log.info)
        summary["baselines"]["popularity"] = fit_and_evaluate({"popularity": PopularityRecommender}, split)[
            "popularity"
        ]
        summary["split"] = {"cases": len(split.cases), "seed": seed, "seconds": time.perf_counter() - t0}
    playlists = corpus.playlists()
    for name in names:
        t0 = time.perf_counter()
        model = factories[name]().fit_sequences(playlists)
        fit_s = time.perf_counter() - t0
        meta = {"class": model.name, "params": model.params(), "fit_seconds": fit_s, "n_items": len(model.item_ids)}
        if name in metrics:
            meta["metrics"] = metrics[name]
        with store.staging(name) as staged:
            model.save(staged)
            version = store.publish(name, staged, meta)
        summary["models"][name] = {"version": version, **meta}
    winner = max(names, key=lambda n: primary_score(metrics[n])) if metrics else names[0]
    src = store.path(winner)
    assert src is not None
    with store.staging(CF_ARTIFACT) as staged:
        import shutil

        for item in src.iterdir():
            if item.name != "meta.json":
                (shutil.copytree if item.is_dir() else shutil.copy2)(item, staged / item.name)
        win_meta = {
            **summary["models"][winner],
            "model": winner,
            "source_version": summary["models"][winner]["version"],
        }
        win_meta.pop("version", None)
        if "popularity" in summary["baselines"]:
            win_meta["baseline_popularity"] = summary["baselines"]["popularity"]
        summary["version"] = store.publish(CF_ARTIFACT, staged, win_meta)
    summary["winner"] = winner
    log.info("published %s as %s (version %s)", winner, CF_ARTIFACT, summary["version"])
    return summary

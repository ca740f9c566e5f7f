"""What trains: fit the candidates on a held-out split, choose each served path's default, refit the winners on
the whole corpus and publish them (with the corpus indexes the bot loads next to them).

The step is `train_and_publish`; each stage is a small function below it. The paths, their artifacts and the
candidates are `recommenders.cf.paths`; which candidates fit the corpus size, `recommenders.cf.scale`.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Sequence
from typing import Any

from data.corpus import Corpus
from data.progress import progress
from recommenders.artifacts import ArtifactStore
from recommenders.base import Recommender
from recommenders.cf.common import CFRecommender
from recommenders.cf.models import make_model, model_classes
from recommenders.cf.paths import CANDIDATES, CF_ARTIFACT, SERVED
from recommenders.cf.scale import scaled_candidates
from recommenders.evaluation import PathReport, Split, playlist_split, report_path
from recommenders.indexes import build_indexes, publish_indexes

log = logging.getLogger(__name__)


def fit_for_paths(
    split: Split,
    names: Sequence[str],
    protocols: Sequence[str],
    seed: int = 42,
    *,
    seconds: dict[str, float] | None = None,
) -> dict[str, dict[str, Recommender]]:
    """Each model fitted on `split` with each protocol's settings ({protocol: {name: model}}); a model whose
    settings are the same on two paths is fitted once. `seconds` collects fit times by name."""
    cache: dict[str, Recommender] = {}
    out: dict[str, dict[str, Recommender]] = {}
    jobs: list[tuple[str, str, CFRecommender, str]] = []
    for protocol in protocols:
        for name in names:
            model = make_model(name, seed, protocol)
            jobs.append((protocol, name, model, json.dumps([name, model.params()], sort_keys=True, default=str)))
    with progress("fit on the split", total=len({key for *_, key in jobs}), unit="models") as bar:
        for protocol, name, model, key in jobs:
            if key not in cache:
                t0 = time.perf_counter()
                cache[key] = split.fit(model)
                if seconds is not None:
                    seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - t0
                bar.update(1)
            out.setdefault(protocol, {})[name] = cache[key]
    return out


def train_and_publish(
    corpus: Corpus,
    store: ArtifactStore,
    models: Sequence[str] | None = None,
    *,
    evaluate: bool = True,
    seed: int = 42,
    n_test: int = 1000,
    indexes: bool = True,
) -> dict[str, Any]:
    """Fit the candidates on the held-out split (`n_test` test and as many validation playlists), choose each
    served path's default on validation, report it on test (ratios to every other candidate with 95% intervals),
    refit only the winners on the whole corpus, and publish them as `CF_ARTIFACT` and `SESSION_ARTIFACT`.

    Without `models`, the candidates are `CANDIDATES` minus those that cannot win at this size
    (`scaled_candidates`; each skipped one gets a note in "skipped"); given `models` are all trained.
    Returns {"winner", "version" (of CF_ARTIFACT), "served": {artifact: {"model", "version", ...}},
    "models": {name: {"fit_seconds", "validation": {protocol: metrics}}}, "skipped": {name: note}}. With
    `evaluate=False` nothing is held out and the first model serves both paths (its meta then says it was not
    evaluated). With `indexes` (default) the name search and fallback chain for this corpus are published too
    (`recommenders.indexes`), so a bot's start loads them.
    """
    names = _checked_names(models, seed)
    summary: dict[str, Any] = {"models": {}, "served": {}}
    split = _held_out_split(corpus, seed, n_test, summary) if evaluate else None
    if split is not None and models is None:
        names = _scaled(names, split, seed, summary)
    reports = _choose_defaults(split, names, seed, summary) if split is not None else {}
    winners = {artifact: reports[artifact].default if artifact in reports else names[0] for artifact in SERVED}
    watermark = corpus.watermark()  # before the read: rows added meanwhile make the indexes stale, not wrong
    playlists = corpus.playlists()
    published: dict[str, CFRecommender] = {}
    with progress("refit and publish", total=len(winners), unit="artifacts") as bar:
        for artifact, name in winners.items():
            published[artifact], summary["served"][artifact] = _refit_and_publish(
                store, artifact, name, playlists, reports.get(artifact), seed
            )
            bar.update(1)
    if indexes:  # the search and fallback indexes for this corpus, from the playlists read above: the bot loads them
        t0 = time.perf_counter()
        publish_indexes(store, build_indexes(corpus, published[CF_ARTIFACT], playlists, watermark))
        summary["indexes_seconds"] = round(time.perf_counter() - t0, 1)
    summary["winner"] = winners[CF_ARTIFACT]
    summary["version"] = summary["served"][CF_ARTIFACT]["version"]
    return summary


def _checked_names(models: Sequence[str] | None, seed: int) -> list[str]:
    """The models to compare (`CANDIDATES` by default); a ValueError for none or an unknown name, before any work."""
    names = list(models) if models is not None else list(CANDIDATES)
    if not names:
        raise ValueError(f"no models given; choose from {sorted(model_classes())}")
    for n in names:
        make_model(n, seed)  # raises ValueError for an unknown name
    return names


def _held_out_split(corpus: Corpus, seed: int, n_test: int, summary: dict[str, Any]) -> Split | None:
    """The validation/test split, or None (noted in `summary`) when the corpus is too small to hold both out."""
    split = playlist_split(corpus, seed=seed, n_test=n_test)
    if all(split.parts.values()):
        return split
    log.warning("too few playlists with 5+ songs to hold out validation and test: publishing unevaluated")
    summary["unevaluated"] = "too few playlists with 5+ songs for a validation and a test part"
    return None


def _scaled(names: Sequence[str], split: Split, seed: int, summary: dict[str, Any]) -> list[str]:
    """The default candidates that can win at this corpus size; the others' notes go to `summary["skipped"]`."""
    kept, skipped = scaled_candidates(names, split.train, seed)
    for note in skipped.values():
        log.info(note)
    summary["skipped"] = skipped
    return kept


def _choose_defaults(split: Split, names: Sequence[str], seed: int, summary: dict[str, Any]) -> dict[str, PathReport]:
    """Fit `names` (and popularity, the floor) on the split and report each served path; every model's fit time
    and validation scores go to `summary["models"]`. Returns the report per served artifact."""
    t0 = time.perf_counter()
    seconds: dict[str, float] = {}
    fitted = fit_for_paths(split, [*names, "popularity"], list(SERVED.values()), seed, seconds=seconds)
    reports = {
        artifact: report_path(fitted[protocol], split, protocol, candidates=names, log=log.info)
        for artifact, protocol in SERVED.items()
    }
    for n, fit_s in seconds.items():
        val = {p: reports[a].validation[n] for a, p in SERVED.items()}
        summary["models"][n] = {"fit_seconds": round(fit_s, 2), "validation": val}
    summary["evaluation_seconds"] = round(time.perf_counter() - t0, 1)
    return reports


def _refit_and_publish(
    store: ArtifactStore,
    artifact: str,
    name: str,
    playlists: Iterable[Sequence[int]],
    report: PathReport | None,
    seed: int,
) -> tuple[CFRecommender, dict[str, Any]]:
    """Fit `name` with its path's settings on every playlist and publish it as `artifact`; (model, its summary)."""
    t0 = time.perf_counter()
    model = make_model(name, seed, SERVED[artifact]).fit_sequences(playlists)
    meta: dict[str, Any] = {
        "model": name,
        "class": model.name,
        "params": model.params(),
        "fit_seconds": time.perf_counter() - t0,
        "n_items": len(model.item_ids),
    }
    if report is not None:
        meta["served"] = report.served()
        meta["metrics"] = meta["served"]["metrics"]
    with store.staging(artifact) as staged:
        model.save(staged)
        version = store.publish(artifact, staged, meta)
    log.info("published %s as %s (version %s)", name, artifact, version)
    return model, {"version": version, **meta}

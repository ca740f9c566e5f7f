"""Names of the CF models, loading any saved one, the train → choose → publish step, and what the bot serves.

Two artifacts are served, each the default of one user path, chosen on the validation playlists and reported on
the test playlists of that same path (`recommenders.evaluation.report_path`):
- `CF_ARTIFACT` ("cf"): `/similar`, the one-seed protocol;
- `SESSION_ARTIFACT` ("cf-session"): `/session next`, the multi-seed protocol.
Each meta holds `served = {"path", "protocol", "model", "metrics", "ci", "split"}` measured on that path, and
`served_figure(meta)` is the line `/about` prints. `load_served` wraps the published model in the fallback chain
(`recommenders.cf.fallback`), so every corpus track gets an answer.
"""

from __future__ import annotations

import functools
import inspect
import itertools
import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from recommenders.artifacts import ArtifactStore
from recommenders.base import Recommender
from recommenders.cf.common import CFRecommender

if TYPE_CHECKING:
    from data.corpus import Corpus
    from recommenders.evaluation import Split

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


#: Settings that differ by user path from the class defaults (both tuned on validation by bench/cf_tune.py):
#: RP3beta's popularity penalty helps a session but hurts a single seed; SKNN wants fewer neighbours for a session.
PATH_PARAMS: dict[str, dict[str, dict[str, Any]]] = {
    "one-seed": {"rp3beta": {"beta": 0.0}},
    "multi-seed": {"sknn": {"neighbours": 50}},
}


def make_model(name: str, seed: int = 42, protocol: str | None = None, **params: Any) -> CFRecommender:
    """A fresh model by name with its class defaults (the tuned settings live there), the `protocol`'s
    `PATH_PARAMS` and then `params` overriding them, and `seed` passed to the classes that draw random numbers."""
    params = {**PATH_PARAMS.get(protocol or "", {}).get(name, {}), **params}
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


def load_served(store: ArtifactStore, corpus: Corpus, name: str = CF_ARTIFACT) -> Recommender | None:
    """The published model of artifact `name` wrapped with the fallback chain (None when nothing is published).

    `similar(track)` then answers for every corpus track; `NotInModel` is left for ids not in the corpus. Building
    the chain reads the corpus metadata and fits two small artist models: a few seconds on Yes.com.
    """
    from recommenders.cf.fallback import WithFallback

    path = store.path(name)
    if path is None:
        return None
    return WithFallback.from_corpus(load_recommender(path), corpus)


def served_figure(meta: Mapping[str, Any]) -> str:
    """The one line `/about` prints for a served artifact: its model and the figure measured on its own path.

    e.g. "sknn, one-seed R-prec 0.027 / NDCG@100 0.122 on 999 held-out playlists (test split)".
    """
    served = meta.get("served")
    model = meta.get("model", meta.get("class", "?"))
    if not served:
        return f"{model}, not evaluated (published without a held-out evaluation)"
    if served.get("model") != model:
        raise ValueError(f"the served figure is of {served.get('model')}, but the published model is {model}")
    m, split = served["metrics"], served["split"]
    unit = "listeners" if str(split.get("name", "")).startswith("listeners") else "playlists"
    return (
        f"{model}, {served['protocol']} R-prec {m['r_precision']:.3f} / NDCG@100 {m['ndcg@100']:.3f} "
        f"on {int(split['cases']):,} held-out {unit} ({split['part']} split)"
    )


#: Served artifacts and the protocol (user path) each is chosen and reported on.
SESSION_ARTIFACT = "cf-session"
SERVED: dict[str, str] = {CF_ARTIFACT: "one-seed", SESSION_ARTIFACT: "multi-seed"}
#: The models compared for both paths (what `murecom setup` trains): the strong simple baselines and item-kNN;
#: ALS, Word2Vec and KNNBaseline lost on both paths (README) and are compared by `murecom eval` only.
CANDIDATES: tuple[str, ...] = ("sknn", "rp3beta", "itemknn", "ease")


#: A capped model (`max_items`: EASE^R, KNNBaseline) is compared only while its cap holds at least this share of
#: the training entries: below it most seeds are outside the model and answered by the fallback chain, so it
#: cannot win either path (on Yes.com EASE^R's 5,000 songs hold 84 % of the entries and it still loses both).
MIN_CAP_COVERAGE = 0.5
#: An item-item model (item-kNN, RP3beta: `NeighbourRecommender`) is compared only while the playlists' co-occurring
#: pairs, Σ|p|² (the work of its item × playlist × item product), stay under this many. Its fit grows at least with
#: them: 420 s for RP3beta at 6.5·10⁸ pairs (100 k synthetic MPD playlists, 2 shared cores, bench/mpd_scale.py), so
#: 2·10⁹ pairs is ~20 min per fit, and the split fit plus the refit must fit issue 13's 20-minute training budget
#: with the model that does serve. At the MPD's 1 M playlists (~6.5·10⁹ pairs) SKNN, whose fit is one pass over the
#: entries, is what is left.
MAX_PAIR_MASS = 2_000_000_000


def scaled_candidates(
    names: Sequence[str], sequences: Sequence[Sequence[int]], seed: int = 42, *, max_pairs: int = MAX_PAIR_MASS
) -> tuple[list[str], dict[str, str]]:
    """The candidates worth training on this corpus, and a note for each one skipped.

    Dense models stay capped (their classes refuse a cap beyond 2 GiB); what changes with size is whether the cap
    still covers the corpus, and whether an item-item model's fit (growing with the co-occurring pairs) still fits
    the training budget. Counting is one pass over the playlists, far cheaper than the fit saved.
    """
    from recommenders.cf.neighbours import NeighbourRecommender

    classes = model_classes()
    params = {n: make_model(n, seed).params() for n in names}
    capped = {n: int(p["max_items"]) for n, p in params.items() if "max_items" in p}
    pairwise = [n for n in names if issubclass(classes[n], NeighbourRecommender)]
    if not capped and not pairwise:
        return list(names), {}
    lengths = np.fromiter((len(s) for s in sequences), dtype=np.int64)
    pairs = int((lengths * lengths).sum())
    flat = np.fromiter(itertools.chain.from_iterable(sequences), dtype=np.int64)
    total = len(flat)
    ranked = np.cumsum(np.sort(np.unique(flat, return_counts=True)[1])[::-1])
    keep, skipped = [], {}
    for n in names:
        if n in pairwise and pairs > max_pairs:
            skipped[n] = (
                f"{n} skipped: its item × item fit grows with the {pairs:,} co-occurring pairs of the training "
                f"playlists (limit {max_pairs:,}, about 20 minutes per fit on 2 cores), so it cannot be trained "
                f"within the budget at this size (pass --models {n} to train it anyway)"
            )
            continue
        if n in capped and total:
            share = float(ranked[min(capped[n], len(ranked)) - 1]) / total
            if share < MIN_CAP_COVERAGE:
                skipped[n] = (
                    f"{n} skipped: its cap of {capped[n]:,} songs holds {share:.0%} of the {total:,} training entries "
                    f"({len(ranked):,} songs), so most seeds would fall to the fallback chain; it cannot win at this "
                    f"size (pass --models {n} to train it anyway)"
                )
                continue
        keep.append(n)
    return keep, skipped


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
    from data.progress import progress

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
    from data.progress import progress
    from recommenders.evaluation import PathReport, playlist_split, report_path
    from recommenders.indexes import build_indexes, publish_indexes

    explicit = models is not None
    names = list(models) if models is not None else list(CANDIDATES)
    if not names:
        raise ValueError(f"no models given; choose from {sorted(model_classes())}")
    for n in names:
        make_model(n, seed)  # raises ValueError for an unknown name before any work
    summary: dict[str, Any] = {"models": {}, "served": {}}
    reports: dict[str, PathReport] = {}
    winners = dict.fromkeys(SERVED, names[0])
    split = playlist_split(corpus, seed=seed, n_test=n_test) if evaluate else None
    if split is not None and not all(split.parts.values()):
        log.warning("too few playlists with 5+ songs to hold out validation and test: publishing unevaluated")
        summary["unevaluated"] = "too few playlists with 5+ songs for a validation and a test part"
        split = None
    if split is not None and not explicit:
        names, skipped = scaled_candidates(names, split.train, seed)
        for note in skipped.values():
            log.info(note)
        summary["skipped"] = skipped
    if split is not None:
        t0 = time.perf_counter()
        seconds: dict[str, float] = {}
        fitted = fit_for_paths(split, [*names, "popularity"], list(SERVED.values()), seed, seconds=seconds)
        for artifact, protocol in SERVED.items():
            reports[artifact] = report_path(fitted[protocol], split, protocol, candidates=names, log=log.info)
            winners[artifact] = reports[artifact].default
        for n, fit_s in seconds.items():
            val = {p: reports[a].validation[n] for a, p in SERVED.items()}
            summary["models"][n] = {"fit_seconds": round(fit_s, 2), "validation": val}
        summary["evaluation_seconds"] = round(time.perf_counter() - t0, 1)
    watermark = corpus.watermark()  # before the read: rows added meanwhile make the indexes stale, not wrong
    playlists = corpus.playlists()
    with progress("refit and publish", total=len(winners), unit="artifacts") as bar:
        for artifact, name in winners.items():
            t0 = time.perf_counter()
            model = make_model(name, seed, SERVED[artifact]).fit_sequences(playlists)
            meta: dict[str, Any] = {
                "model": name,
                "class": model.name,
                "params": model.params(),
                "fit_seconds": time.perf_counter() - t0,
                "n_items": len(model.item_ids),
            }
            if artifact in reports:
                meta["served"] = reports[artifact].served()
                meta["metrics"] = meta["served"]["metrics"]
            with store.staging(artifact) as staged:
                model.save(staged)
                version = store.publish(artifact, staged, meta)
            summary["served"][artifact] = {"version": version, **meta}
            log.info("published %s as %s (version %s)", name, artifact, version)
            bar.update(1)
    if indexes:  # the search and fallback indexes for this corpus, from the playlists read above: the bot loads them
        t0 = time.perf_counter()
        publish_indexes(store, build_indexes(corpus, model, playlists, watermark))
        summary["indexes_seconds"] = round(time.perf_counter() - t0, 1)
    summary["winner"] = winners[CF_ARTIFACT]
    summary["version"] = summary["served"][CF_ARTIFACT]["version"]
    return summary

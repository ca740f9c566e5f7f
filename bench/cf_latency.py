"""`similar` latency (p50/p99) of the CF models, and exact vs ANN (usearch HNSW) search over ALS item factors.

Part 1, real Yes.com: each model fitted on the corpus, 1000 seeds drawn by popularity (as real queries are).
Part 2, synthetic power-law corpus (default 500k playlists × 1M tracks): ALS item factors, exact cosine top-10
(one matrix-vector product) vs the usearch index, with the ANN's recall@10 against exact and its build time.
Baseline measured in the same run: exact search (and the popularity model in part 1); `load_served` (model plus
fallback chain, what a publish costs the bot) against loading the bare model.
Usage: .venv/bin/python bench/cf_latency.py --yes-db sqlite:///var/murecom.db [--playlists 500000 --tracks 1000000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from cf_synthetic import synthetic_matrix, used_columns  # noqa: E402

from data.corpus import Corpus  # noqa: E402
from data.db import make_engine  # noqa: E402
from recommenders.artifacts import ArtifactStore  # noqa: E402
from recommenders.cf.als import ALSRecommender  # noqa: E402
from recommenders.cf.baselines import PopularityRecommender  # noqa: E402
from recommenders.cf.models import load_recommender, make_model, model_factories  # noqa: E402
from recommenders.cf.paths import CF_ARTIFACT  # noqa: E402
from recommenders.cf.serving import load_served  # noqa: E402


def percentiles(samples_ms: list[float]) -> tuple[float, float]:
    return float(np.percentile(samples_ms, 50)), float(np.percentile(samples_ms, 99))


def time_calls(fn, seeds) -> list[float]:
    out = []
    for s in seeds:
        t0 = time.perf_counter()
        fn(int(s))
        out.append((time.perf_counter() - t0) * 1000)
    return out


def real(db: str, n: int) -> None:
    playlists = [list(p) for p in Corpus(make_engine(db)).playlists()]
    factories = {"popularity": PopularityRecommender, **model_factories()}
    pop = PopularityRecommender().fit_sequences(playlists)
    weights = np.asarray(pop.counts, dtype=np.float64)
    seeds = np.random.default_rng(0).choice(pop.item_ids, size=n, p=weights / weights.sum())
    print(f"\nYes.com ({len(playlists)} playlists), similar(k=10) over {n} popularity-drawn seeds")
    print(f"{'model':>12s} {'p50 ms':>8s} {'p99 ms':>8s}  {'x popularity p50':>16s}")
    base = None
    for name, factory in factories.items():
        model = factory().fit_sequences(playlists)
        known = [s for s in seeds if s in model]
        times = time_calls(lambda s, m=model: m.similar(s, 10), known)
        p50, p99 = percentiles(times)
        base = base or p50
        print(f"{name:>12s} {p50:8.3f} {p99:8.3f}  {p50 / base:16.1f}  ({len(known)} seeds known)")


def served(db: str, repeats: int = 5) -> None:
    """What publishing costs the bot: `load_served` (model + fallback chain) vs loading the bare model."""
    corpus = Corpus(make_engine(db))
    with tempfile.TemporaryDirectory() as tmp:
        store = ArtifactStore(Path(tmp))
        model = make_model("sknn", protocol="one-seed").fit(corpus)
        with store.staging(CF_ARTIFACT) as staged:
            model.save(staged)
            store.publish(CF_ARTIFACT, staged, {"model": "sknn"})
        path = store.path(CF_ARTIFACT)
        assert path is not None
        bare, chain = [], []
        for _ in range(repeats):
            t0 = time.perf_counter()
            load_recommender(path)
            bare.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            wrapped = load_served(store, corpus, CF_ARTIFACT)
            chain.append(time.perf_counter() - t0)
        assert wrapped is not None
        tracks = sorted(corpus.track_artists())
        seeds = np.random.default_rng(2).choice(tracks, size=500)
        t_bare = time_calls(lambda s: model.similar(s, 10) if s in model else None, seeds)
        t_chain = time_calls(lambda s: wrapped.similar(s, 10), seeds)
    b, c = float(np.median(bare)), float(np.median(chain))
    print(f"\nload (median of {repeats}): bare sknn {b:.2f}s, load_served (with fallback chain) {c:.2f}s, x{c / b:.1f}")
    print(f"similar p50: bare {percentiles(t_bare)[0]:.3f} ms, served {percentiles(t_chain)[0]:.3f} ms")


def synthetic(playlists: int, tracks: int, n: int, factors: int) -> None:
    m, items = used_columns(synthetic_matrix(playlists, tracks))
    t0 = time.perf_counter()
    model = ALSRecommender(factors=factors, iterations=8).fit_matrix(m, items)
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    model._ann = model.build_ann()
    build_s = time.perf_counter() - t0
    pop = np.asarray(m.sum(axis=0)).ravel()
    seeds = np.random.default_rng(1).choice(items, size=n, p=pop / pop.sum())
    exact_t = time_calls(lambda s: model.similar_exact(s, 10), seeds)
    ann_t = time_calls(lambda s: model.similar(s, 10), seeds)
    recall = np.mean(
        [
            len({r.track_id for r in model.similar_exact(int(s), 10)} & {r.track_id for r in model.similar(int(s), 10)})
            / 10
            for s in seeds[: min(n, 300)]
        ]
    )
    e50, e99 = percentiles(exact_t)
    a50, a99 = percentiles(ann_t)
    print(
        f"\nSynthetic {playlists} playlists × {len(items)} used tracks ({m.nnz} entries): "
        f"ALS {factors}f fit {fit_s:.1f}s, usearch build {build_s:.1f}s"
    )
    print(f"{'search':>8s} {'p50 ms':>8s} {'p99 ms':>8s}")
    print(f"{'exact':>8s} {e50:8.3f} {e99:8.3f}")
    print(f"{'usearch':>8s} {a50:8.3f} {a99:8.3f}   speed-up p50 x{e50 / a50:.1f}, recall@10 vs exact {recall:.3f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--yes-db", default=None)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--playlists", type=int, default=500_000)
    ap.add_argument("--tracks", type=int, default=1_000_000)
    ap.add_argument("--factors", type=int, default=64)
    args = ap.parse_args()
    if args.yes_db:
        served(args.yes_db)
        real(args.yes_db, args.queries)
    if args.playlists:
        synthetic(args.playlists, args.tracks, args.queries, args.factors)


if __name__ == "__main__":
    main()

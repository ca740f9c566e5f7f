"""Time-boxed trial of a learned re-ranker (RecSys Challenge 2018 style) against the best simple model, per path.

Candidates: the top 100 of SKNN, RP3beta, item-kNN and EASE^R for a query; features: each model's score, rank and
score relative to its best, log popularity, same artist as a seed, tag Jaccard with the seeds, number of seeds;
ranker: sklearn HistGradientBoostingClassifier (hidden song or not). It learns from an *inner* split of the training
playlists (3,000 playlists outside validation and test, last 20 % hidden, candidate models refitted without them),
and is compared on the validation part with a paired bootstrap interval; test is not read. The same run also scores
the plainer alternative, a fusion of SKNN and RP3beta (each list's scores divided by its best, summed).
Usage: .venv/bin/python bench/cf_ltr.py --db sqlite:///var/murecom.db --protocol one-seed|multi-seed
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from data.corpus import Corpus  # noqa: E402
from data.db import make_engine  # noqa: E402
from recommenders.base import NotInModel, Recommendation, Recommender  # noqa: E402
from recommenders.cf.models import make_model  # noqa: E402
from recommenders.evaluation import Case, Split, evaluate_recommender, paired_ratio, playlist_split  # noqa: E402

PARTS = ("sknn", "rp3beta", "itemknn", "ease")
N = 100


def inner_split(train: list[list[int]], seed: int = 1, n: int = 3000) -> tuple[list[list[int]], list[Any]]:
    rng = np.random.default_rng(seed)
    eligible = [i for i, p in enumerate(train) if len(p) >= 5]
    rows = rng.choice(eligible, size=min(n, len(eligible)), replace=False)
    out, cases = list(train), []
    for i in rows:
        p = train[i]
        h = max(1, round(len(p) * 0.2))
        seeds, tail = p[:-h], p[-h:]
        hidden = tuple(dict.fromkeys(t for t in tail if t not in seeds))
        out[i] = seeds
        if hidden:
            cases.append(Case(tuple(seeds), hidden))
    return out, cases


def features(models: Sequence[Any], pop: Counter, split: Any, case: Any, protocol: str) -> tuple[list[int], np.ndarray]:
    seeds = [case.one_seed] if protocol == "one-seed" else list(case.seeds)
    lists = []
    for m in models:
        try:
            lists.append(m.similar(seeds[0], N) if protocol == "one-seed" else m.similar_to_many(seeds, N))
        except LookupError:
            lists.append([])
    cand = sorted({r.track_id for recs in lists for r in recs})
    idx = {t: i for i, t in enumerate(cand)}
    k = len(models)
    f = np.zeros((len(cand), 3 * k + 4), dtype=np.float32)
    f[:, k : 2 * k] = N + 1
    for j, recs in enumerate(lists):
        top = recs[0].score if recs else 1.0
        for rank, r in enumerate(recs):
            i = idx[r.track_id]
            f[i, j], f[i, k + j], f[i, 2 * k + j] = r.score, rank, r.score / top if top else 0.0
    artists = {a for s in seeds for a in split.item_artists.get(s, ())}
    tags = frozenset().union(*(split.item_tags.get(s, frozenset()) for s in seeds))
    for t, i in idx.items():
        theirs = split.item_tags.get(t, frozenset())
        f[i, 3 * k] = np.log1p(pop.get(t, 0))
        f[i, 3 * k + 1] = bool(artists & set(split.item_artists.get(t, ())))
        f[i, 3 * k + 2] = len(tags & theirs) / len(tags | theirs) if tags | theirs else 0.0
        f[i, 3 * k + 3] = len(seeds)
    return cand, f


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", required=True)
    ap.add_argument("--protocol", choices=("one-seed", "multi-seed"), default="one-seed")
    args = ap.parse_args()
    split = playlist_split(Corpus(make_engine(args.db)), part="validation", protocol=args.protocol)
    t0 = time.perf_counter()
    inner_train, inner_cases = inner_split(split.train)
    inner = Split("inner", inner_train, {"test": []})
    inner_models = [inner.fit(make_model(n, protocol=args.protocol)) for n in PARTS]
    inner_pop = Counter(t for p in inner_train for t in set(p))
    xs, ys = [], []
    for case in inner_cases:
        cand, f = features(inner_models, inner_pop, split, case, args.protocol)
        labels = np.asarray([t in case.hidden for t in cand])
        if labels.any():
            xs.append(f)
            ys.append(labels)
    ranker = HistGradientBoostingClassifier(max_iter=200, random_state=0).fit(np.vstack(xs), np.concatenate(ys))
    print(f"ranker trained on {sum(len(y) for y in ys)} candidates in {time.perf_counter() - t0:.0f} s")
    models = [split.fit(make_model(n, protocol=args.protocol)) for n in PARTS]
    pop = Counter(t for p in split.train for t in set(p))
    by_query = {(c.one_seed,) if args.protocol == "one-seed" else c.seeds: c for c in split.cases}

    class Learned(Recommender):
        name = "learned"

        def _rank(self, key: tuple[int, ...]) -> list[Recommendation]:
            cand, f = features(models, pop, split, by_query[key], args.protocol)
            if not cand:
                raise NotInModel(key[0], self.name)
            p = ranker.predict_proba(f)[:, 1]
            return [Recommendation(cand[i], float(p[i]), "learned") for i in np.argsort(-p)[:N]]

        def similar(self, track_id: int, k: int = 10, *, exclude: Collection[int] = ()) -> list[Recommendation]:
            return self._rank((track_id,))

        def similar_to_many(self, seeds, k=10, *, weights=None, exclude=()) -> list[Recommendation]:  # type: ignore[no-untyped-def]
            return self._rank(tuple(seeds))

        def __contains__(self, track_id: object) -> bool:
            return True

        def fit(self, corpus: Any) -> Learned:
            return self

        def save(self, path: Path) -> None:
            raise NotImplementedError

        @classmethod
        def load(cls, path: Path) -> Learned:
            raise NotImplementedError

    class Fused(Learned):
        name = "fused"

        def _rank(self, key: tuple[int, ...]) -> list[Recommendation]:
            total: Counter = Counter()
            for m in models[:2]:  # SKNN and RP3beta
                try:
                    recs = m.similar(key[0], 200) if args.protocol == "one-seed" else m.similar_to_many(list(key), 200)
                except NotInModel:
                    continue
                for r in recs:
                    total[r.track_id] += r.score / recs[0].score
            if not total:
                raise NotInModel(key[0], self.name)
            return [Recommendation(t, s, "fused") for t, s in total.most_common(N)]

    ours, theirs, fused = {}, {}, {}
    a = evaluate_recommender(Learned(), split, per_case=ours)
    f = evaluate_recommender(Fused(), split, per_case=fused)
    rows = {n: evaluate_recommender(m, split) for n, m in zip(PARTS, models, strict=True)}
    best = max(rows, key=lambda n: rows[n]["r_precision"] + rows[n]["ndcg@100"])
    evaluate_recommender(models[PARTS.index(best)], split, per_case=theirs)
    print(
        f"{args.protocol} validation: learned R-prec {a['r_precision']:.4f} NDCG@100 {a['ndcg@100']:.4f}; "
        f"{best} {rows[best]['r_precision']:.4f} / {rows[best]['ndcg@100']:.4f}"
    )
    print(f"  fused SKNN + RP3beta R-prec {f['r_precision']:.4f} NDCG@100 {f['ndcg@100']:.4f}")
    for label, per in (("learned", ours), ("fused", fused)):
        for metric in ("r_precision", "ndcg@100"):
            r, lo, hi = paired_ratio(per[metric], theirs[metric])
            print(f"  {metric} {label} / {best}: {r:.2f} [{lo:.2f}–{hi:.2f}]")


if __name__ == "__main__":
    main()

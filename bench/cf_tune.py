"""Hyper-parameter search on the *validation* playlists only (the class defaults come from here).

The split is `recommenders.evaluation.playlist_split(seed=42)`: its validation part (998 Yes.com playlists, disjoint
from the 999 test playlists, whose hidden songs are also kept out of training) is the only one read here. Each grid
point is fitted once and scored on both user paths (one-seed = /similar, multi-seed = /session) by R-precision and
NDCG@100; the best point per model and path is marked. The test part is read only by `murecom eval` / `train`.
Usage: .venv/bin/python bench/cf_tune.py --db sqlite:///var/murecom.db [--model sknn --model ease ...]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from data.corpus import Corpus  # noqa: E402
from data.db import make_engine  # noqa: E402
from recommenders.cf.models import make_model  # noqa: E402
from recommenders.evaluation import evaluate_recommender, playlist_split, primary_score  # noqa: E402

GRIDS: dict[str, list[dict]] = {
    "sknn": [{"neighbours": n} for n in (50, 100, 200, 500, 1000, 3000)],
    "ease": [{"l2": v} for v in (25.0, 50.0, 100.0, 200.0, 500.0, 1000.0)] + [{"max_items": 3000}],
    "rp3beta": [{"alpha": a, "beta": b} for a in (0.5, 1.0) for b in (0.0, 0.2, 0.4, 0.6)],
    "itemknn": [{}, {"weighting": "bm25"}, {"length_norm": 0.0}, {"alpha": 0.7}, {"shrink": 10.0}],
    "als": [
        {"factors": 64, "alpha": 10.0},
        {"factors": 128, "alpha": 10.0},
        {"factors": 128, "alpha": 20.0},
        {"factors": 128, "alpha": 10.0, "regularization": 0.5},
    ],
    "word2vec": [{"vector_size": 64, "epochs": 10}, {"vector_size": 128, "epochs": 10}],
    "knnbaseline": [{"shrinkage": 10}, {"shrinkage": 100}],
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", required=True)
    ap.add_argument("--model", choices=sorted(GRIDS), action="append")
    ap.add_argument("--n-test", type=int, default=1000)
    ap.add_argument("--source", default=None)
    args = ap.parse_args()
    split = playlist_split(Corpus(make_engine(args.db)), source=args.source, n_test=args.n_test, part="validation")
    print(f"validation: {len(split.cases)} playlists (seed {split.seed}); the test part is not read\n")
    for model in args.model or sorted(GRIDS):
        rows = {}
        for params in GRIDS[model]:
            fitted = split.fit(make_model(model, **params))
            label = " ".join(f"{k}={v}" for k, v in params.items()) or "defaults"
            rows[label] = {p: evaluate_recommender(fitted, split.view(protocol=p)) for p in ("one-seed", "multi-seed")}
        best = {p: max(rows, key=lambda r, p=p: primary_score(rows[r][p])) for p in ("one-seed", "multi-seed")}
        print(f"### {model}\n\n| params | one-seed R-prec | NDCG@100 | multi-seed R-prec | NDCG@100 |")
        print("|---|---:|---:|---:|---:|")
        for label, by in rows.items():
            cells = []
            for p in ("one-seed", "multi-seed"):
                mark = "**" if best[p] == label else ""
                cells += [f"{mark}{by[p]['r_precision']:.4f}{mark}", f"{mark}{by[p]['ndcg@100']:.4f}{mark}"]
            print(f"| {label} | " + " | ".join(cells) + " |")
        print()
        sys.stdout.flush()


if __name__ == "__main__":
    main()

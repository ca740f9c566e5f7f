"""Hyperparameter search by the held-out evaluation (the settings in recommenders.cf.registry come from here).

One seeded Yes.com split (1000 playlists, last 20% hidden); each grid point is fitted on the training part and
scored with R-precision and NDCG@100; the popularity baseline is in the same table.
Usage: .venv/bin/python bench/cf_tune.py --db sqlite:///var/murecom.db [--model word2vec|als|knnbaseline|itemknn|blend]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

GRIDS: dict[str, list[dict]] = {
    "word2vec": [
        {"vector_size": 64, "epochs": 30},
        {"vector_size": 64, "epochs": 30, "ns_exponent": 0.75},
        {"vector_size": 64, "epochs": 10},
        {"vector_size": 64, "epochs": 5},
        {"vector_size": 64, "epochs": 10, "sample": 0.0},
        {"vector_size": 64, "epochs": 10, "sg": 0},
        {"vector_size": 128, "epochs": 10},
        {"vector_size": 128, "epochs": 10, "window": 10},
        {"vector_size": 128, "epochs": 10, "negative": 20},
        {"vector_size": 128, "epochs": 10, "ns_exponent": 0.0},
        {"vector_size": 128, "epochs": 10, "ns_exponent": -1.0},
    ],
    "als": [
        {"bm25": True, "alpha": 2.0, "factors": 64},
        {"bm25": False, "alpha": 5.0, "factors": 64, "regularization": 0.5},
        {"bm25": False, "alpha": 10.0, "factors": 64},
        {"bm25": False, "alpha": 20.0, "factors": 64},
        {"bm25": False, "alpha": 10.0, "factors": 128},
    ],
    "knnbaseline": [
        {"graded": False, "similarity": "msd"},
        {"negatives": 0.0},
        {"shrinkage": 10},
        {"shrinkage": 100},
        {"shrinkage": 10, "negatives": 2.0},
        {"shrinkage": 10, "max_items": 5000},
    ],
    "itemknn": [
        {},
        {"weighting": "bm25"},
        {"length_norm": 0.0},
        {"alpha": 0.7},
        {"shrink": 10.0},
    ],
    "blend": [
        {"fusion": "rrf"},
        {"fusion": "score"},
    ],
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", required=True)
    ap.add_argument("--model", choices=sorted(GRIDS), action="append")
    ap.add_argument("--n-test", type=int, default=1000)
    args = ap.parse_args()
    from data.corpus import Corpus
    from data.db import make_engine
    from recommenders.cf.baselines import PopularityRecommender
    from recommenders.cf.registry import model_classes
    from recommenders.evaluation import fit_and_evaluate, format_table, playlist_split

    split = playlist_split(Corpus(make_engine(args.db)), n_test=args.n_test)
    classes = model_classes()
    for model in args.model or sorted(GRIDS):
        factories = {"popularity": PopularityRecommender}
        for params in GRIDS[model]:
            label = f"{model} " + " ".join(f"{k}={v}" for k, v in params.items())
            factories[label] = lambda p=params, c=classes[model]: c(**p)
        print(format_table(fit_and_evaluate(factories, split), f"{model}: {len(split.cases)} held-out playlists"))
        sys.stdout.flush()


if __name__ == "__main__":
    main()

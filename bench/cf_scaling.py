"""Training time and peak memory of the CF models as the corpus grows: real Yes.com, then synthetic up to 1M.

Each (model, size) runs in a fresh subprocess so its peak RSS (ru_maxrss) is its own; we report the peak minus the
RSS just before fitting (the corpus itself excluded). Baseline in the same run: the popularity model (one pass).
Usage: .venv/bin/python bench/cf_scaling.py [--max-playlists 1000000] [--repeats 1]
(the real-data part needs MUREC_HOME/DATABASE_URL pointing at an imported corpus, or --yes-db).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _child(spec: dict) -> dict:
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "bench"))
    # lazy: only the measured child process loads the models and their libraries (the parent just spawns it)
    import numpy as np

    from recommenders.cf.models import model_classes

    cls = model_classes()[spec["model"]]
    if spec["data"] == "yes":
        # lazy: as above, in the measured child only
        from data.corpus import Corpus
        from data.db import make_engine

        playlists = [list(p) for p in Corpus(make_engine(spec["db"])).playlists()]
        playlists = playlists[: int(len(playlists) * spec["fraction"])]
        n_rows, nnz = len(playlists), sum(len(p) for p in playlists)
        rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        t0 = time.perf_counter()
        model = cls(**spec["params"]).fit_sequences(playlists)
    else:
        # lazy: as above, in the measured child only
        from cf_synthetic import synthetic_matrix, used_columns

        m, items = used_columns(synthetic_matrix(spec["playlists"], spec["tracks"], seed=spec.get("seed", 0)))
        n_rows, nnz = m.shape[0], m.nnz
        rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        t0 = time.perf_counter()
        model = cls(**spec["params"])
        if hasattr(model, "fit_matrix") and spec["model"] == "itemknn":
            model.fit_matrix(m, m, items)
        elif hasattr(model, "fit_matrix"):
            model.fit_matrix(m, items)
        else:  # sequence models: rows as lists of track ids
            seqs = [items[m.indices[m.indptr[r] : m.indptr[r + 1]]].tolist() for r in range(m.shape[0])]
            t0 = time.perf_counter()
            model.fit_sequences(seqs)
    fit_s = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "rows": n_rows,
        "items": int(len(model.item_ids)),
        "nnz": int(nnz),
        "fit_s": fit_s,
        "peak_mb": peak / 1024,
        "fit_mb": (peak - rss0) / 1024,
        "checksum": float(np.asarray(model.item_ids[:10]).sum()),
    }


def run(spec: dict) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", json.dumps(spec)], capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        return {"error": out.stderr.strip().splitlines()[-1] if out.stderr.strip() else "failed"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--child")
    ap.add_argument("--max-playlists", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--yes-db", default=None, help="SQLAlchemy URL of an imported Yes.com corpus")
    ap.add_argument("--sizes", default="10000,100000,300000,1000000", help="synthetic playlist counts")
    ap.add_argument(
        "--big-neighbours", type=int, default=50, help="item-kNN neighbours kept per track from 1M playlists up"
    )
    args = ap.parse_args()
    if args.child:
        print(json.dumps(_child(json.loads(args.child))))
        return
    fast = {
        "popularity": {},
        "itemknn": {},
        "als": {"factors": 64, "iterations": 10},
    }
    small_only = {
        "word2vec": {"epochs": 5},
        "knnbaseline": {"max_items": 3000},
    }
    print(f"{'data':>22s} {'model':>12s} {'rows':>9s} {'items':>9s} {'nnz':>11s} {'fit s':>8s} {'fit MB':>8s}")

    def report(label: str, model: str, spec: dict) -> None:
        results = [run(spec) for _ in range(args.repeats)]
        if any("error" in r for r in results):
            print(f"{label:>22s} {model:>12s}  error: {results[0].get('error')}")
            return
        r = results[0]
        fit = statistics.median(x["fit_s"] for x in results)
        mb = statistics.median(x["fit_mb"] for x in results)
        print(f"{label:>22s} {model:>12s} {r['rows']:>9d} {r['items']:>9d} {r['nnz']:>11d} {fit:>8.2f} {mb:>8.0f}")
        sys.stdout.flush()

    if args.yes_db:
        for fraction in (0.25, 0.5, 1.0):
            for model, params in {**fast, **small_only}.items():
                report(
                    f"yes {int(fraction * 100)}%",
                    model,
                    {"data": "yes", "db": args.yes_db, "fraction": fraction, "model": model, "params": params},
                )
    sizes = [int(x) for x in args.sizes.split(",") if x and int(x) <= args.max_playlists]
    for n in sizes:
        tracks = 2 * n
        models = {**fast, **(small_only if n <= 100_000 else {})}
        if n >= 1_000_000:  # 1.7M used tracks × 200 neighbours would be a 4 GB table: keep fewer
            models["itemknn"] = {"neighbours": args.big_neighbours}
        for model, params in models.items():
            report(
                f"synthetic {n // 1000}k×{tracks // 1000}k",
                model,
                {"data": "synthetic", "playlists": n, "tracks": tracks, "model": model, "params": params},
            )


if __name__ == "__main__":
    main()

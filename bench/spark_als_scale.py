"""Spark MLlib ALS (local mode) against in-process `implicit` ALS as the corpus grows: where Spark's fixed costs stop
mattering, and what each costs in time.

Playlists are synthetic (lognormal lengths with median 45 and mean ~62, the MPD's mean being 66; Zipf track
popularity), written with `data.export.write_sequences` (so the export's own speed is measured too); both trainers
get the same pairs and settings. Prints one row per size with the ratio Spark / implicit measured in the same run.

    .venv/bin/python bench/spark_als_scale.py --sizes 20000,100000 --factors 64 --iterations 10
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from data.export import write_sequences  # noqa: E402
from recommenders.cf.als import ALSRecommender  # noqa: E402
from recommenders.cf.spark_als import SparkConfig, fit_spark_als, spark_session  # noqa: E402


def synthetic_playlists(n: int, n_tracks: int, seed: int = 0) -> list[np.ndarray]:
    """`n` playlists over `n_tracks` tracks: lognormal lengths (median 45, mean ~62), Zipf(1.1) popularity."""
    rng = np.random.default_rng(seed)
    lengths = np.clip(rng.lognormal(np.log(45), 0.85, n).astype(int), 5, 250)
    weights = 1.0 / np.arange(1, n_tracks + 1) ** 1.1
    weights /= weights.sum()
    draws = rng.choice(n_tracks, size=int(lengths.sum()), p=weights)
    return np.split(draws.astype(np.int64), np.cumsum(lengths)[:-1])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="20000", help="comma-separated playlist counts")
    p.add_argument("--factors", type=int, default=64)
    p.add_argument("--iterations", type=int, default=10)
    p.add_argument("--driver-memory", default="4g")
    args = p.parse_args()
    spark = spark_session(SparkConfig(driver_memory=args.driver_memory))
    # warm the JVM once (JIT, task scheduling) so the first size is not charged for it
    with tempfile.TemporaryDirectory() as tmp:
        write_sequences(synthetic_playlists(2000, 5000, seed=1), Path(tmp) / "warm")
        fit_spark_als(spark, Path(tmp) / "warm", factors=8, iterations=2)
    rows = []
    for n in (int(s) for s in args.sizes.split(",")):
        playlists = synthetic_playlists(n, n_tracks=max(10_000, int(n * 2.26)))
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "playlists"
            report = write_sequences(playlists, path)
            t0 = time.perf_counter()
            spark_model = fit_spark_als(spark, path, factors=args.factors, iterations=args.iterations).model
            spark_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        ours = ALSRecommender(factors=args.factors, iterations=args.iterations).fit_sequences(playlists)
        implicit_s = time.perf_counter() - t0
        rows.append((n, report, len(spark_model.item_ids), spark_s, implicit_s, len(ours.item_ids)))
        print(f"{n:,} playlists: export {report.seconds:.1f}s, Spark {spark_s:.1f}s, implicit {implicit_s:.1f}s")
    spark.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nALS rank {args.factors}, {args.iterations} iterations; Spark local[2], driver {args.driver_memory}")
    print("| playlists | entries | tracks | export | Spark ALS | implicit ALS | Spark / implicit |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for n, report, items, spark_s, implicit_s, _ in rows:
        print(
            f"| {n:,} | {report.entries:,} | {items:,} | {report.seconds:.1f} s | {spark_s:.1f} s | "
            f"{implicit_s:.1f} s | {spark_s / implicit_s:.1f}× |"
        )
    print(f"peak RSS of the Python process (not the JVM): {rss:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Name-search latency on a 100k+ track catalogue: the index vs a brute-force rapidfuzz scan in the same run.

The catalogue is built from the real Yes.com titles and artists, recombined (title i with the artist of a random
other song) until it holds N tracks, so the string statistics are those of real music metadata. Queries are
real titles with one typo, plus "title - artist" forms. Prints build time, p50/p99 latency, top-1 accuracy and
the speed ratio against the scan.

    .venv/bin/python bench/search_latency.py [--tracks 120000] [--queries 200]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rapidfuzz import fuzz, process  # noqa: E402

from data.corpus import Corpus  # noqa: E402
from data.db import make_engine, migrate  # noqa: E402
from data.importers.common import ensure_artists, ensure_tracks, link_track_artists  # noqa: E402
from data.search import TrackSearch, normalize  # noqa: E402
from data.settings import Settings  # noqa: E402


def typo(rng: random.Random, text: str) -> str:
    if len(text) < 4:
        return text
    i = rng.randrange(1, len(text) - 1)
    return text[:i] + text[i + 1 :]


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tracks", type=int, default=120_000)
    ap.add_argument("--queries", type=int, default=200)
    args = ap.parse_args()
    rng = random.Random(7)
    data = Settings.from_env(dotenv=False).data_dir / "yes_big" / "song_hash.txt"
    songs = [line.split("\t")[1:3] for line in data.read_text(encoding="utf-8").splitlines()]
    songs = [(t.replace("\\/", "/"), a) for t, a in songs]
    catalogue = list(dict.fromkeys((t, a) for t, a in songs))
    seen = set(catalogue)
    while len(catalogue) < args.tracks:
        t, _ = rng.choice(songs)
        _, a = rng.choice(songs)
        if (t, a) not in seen:
            seen.add((t, a))
            catalogue.append((t, a))
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{tmp}/bench.db")
        migrate(engine)
        with engine.begin() as conn:
            artist_ids = ensure_artists(conn, "bench", {a.casefold(): {"name": a} for _, a in catalogue})
            track_ids = ensure_tracks(conn, "bench", {str(i): {"title": t} for i, (t, _) in enumerate(catalogue)})
            link_track_artists(
                conn, ((track_ids[str(i)], artist_ids[a.casefold()], 0) for i, (_, a) in enumerate(catalogue))
            )
        t0 = time.perf_counter()
        search = TrackSearch(Corpus(engine))
        build = time.perf_counter() - t0
        picks = rng.sample(range(len(songs)), args.queries)
        queries = []
        for n, i in enumerate(picks):
            t, a = songs[i]
            queries.append((typo(rng, t.lower()) if n % 2 else f"{t} - {a}", t, a))
        index_times, index_hits = [], 0
        for q, t, _ in queries:
            t0 = time.perf_counter()
            res = search.search(q)
            index_times.append(time.perf_counter() - t0)
            index_hits += bool(res.best and res.best.track.title == t)
        choices = [normalize(f"{t} {a}") for t, a in catalogue]
        scan_times, scan_hits = [], 0
        scan_queries = queries[: max(20, args.queries // 4)]
        for q, t, _ in scan_queries:
            t0 = time.perf_counter()
            best = process.extractOne(normalize(q), choices, scorer=fuzz.WRatio)
            scan_times.append(time.perf_counter() - t0)
            scan_hits += catalogue[best[2]][0] == t
        p50, p99 = statistics.median(index_times), percentile(index_times, 0.99)
        scan50 = statistics.median(scan_times)
        print(f"catalogue: {len(catalogue):,} tracks; index build {build:.1f}s")
        print(f"index: p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, top-1 hit {index_hits}/{len(queries)}")
        print(
            f"brute-force rapidfuzz WRatio scan: p50 {scan50 * 1000:.1f} ms, top-1 hit {scan_hits}/{len(scan_queries)}"
        )
        print(f"speed-up at p50: {scan50 / p50:.1f}x")
        engine.dispose()


if __name__ == "__main__":
    main()

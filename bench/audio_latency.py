"""Audio: clip-to-answer latency for 30 s clips, embedding throughput, index query time vs catalogue size, memory.

Clips are 30 s excerpts of the real Debian soundtrack recordings (scripts/get_audio.sh); the index holds the
shipped model's embeddings of those tracks, then replicas with noise to reach larger catalogues, where the exact
scikit-learn search is compared with the usearch HNSW index (same interface) in the same run, with its recall.

    .venv/bin/python bench/audio_latency.py [--clips 20]
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402

from data.settings import Settings  # noqa: E402
from recommenders.audio.embedder import DEFAULT_MODEL_DIR, Embedder  # noqa: E402
from recommenders.audio.features import SLICE_FRAMES, clip_slices  # noqa: E402
from recommenders.audio.index import AudioIndex  # noqa: E402
from recommenders.audio.service import AudioService  # noqa: E402
from recommenders.audio.train import track_slices  # noqa: E402


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clips", type=int, default=20)
    args = ap.parse_args()
    settings = Settings.from_env(dotenv=False)
    tracks = sorted(p for p in (settings.home / "audio-src").glob("*/*") if p.suffix in (".ogg", ".opus"))
    embedder = Embedder.load(DEFAULT_MODEL_DIR)
    cache = settings.home / "cache" / "audio-slices"
    embs, owners = [], []
    for i, path in enumerate(tracks):
        try:
            e, _ = embedder.embed(track_slices(path, 60.0, cache))
        except ValueError:
            continue
        embs.append(e)
        owners.append(np.full(len(e), i))
    base, base_owners = np.concatenate(embs), np.concatenate(owners)
    service = AudioService(embedder, AudioIndex().fit(base, base_owners), settings)

    clips = []
    long_tracks = [p for p in tracks if sf.info(str(p)).duration >= 45]
    for path in long_tracks[:: max(1, len(long_tracks) // args.clips)][: args.clips]:
        info = sf.info(str(path))
        data, sr = sf.read(str(path), start=int(info.samplerate * 10), frames=info.samplerate * 30, dtype="float32")
        buf = io.BytesIO()
        sf.write(buf, data, sr, format="WAV", subtype="PCM_16")
        clips.append(buf.getvalue())
    service.recommend_clip(clips[0])  # warm-up: numba JIT, TensorFlow graph
    latencies = []
    for clip in clips:
        t0 = time.perf_counter()
        service.recommend_clip(clip, 10)
        latencies.append(time.perf_counter() - t0)
    feats = [clip_slices(c, max_bytes=50_000_000, max_seconds=60, hop=SLICE_FRAMES // 2) for c in clips]
    t0 = time.perf_counter()
    for x in feats:
        embedder.embed(x)
    embed_rate = len(feats) / (time.perf_counter() - t0)
    print(f"catalogue: {len(tracks)} real tracks, {len(base)} slices; {len(clips)} clips of 30 s")
    print(
        f"clip-to-answer (decode + log-mel + CNN + search): p50 {statistics.median(latencies) * 1000:.0f} ms, "
        f"p99 {pct(latencies, 0.99) * 1000:.0f} ms"
    )
    print(f"embedding throughput (CNN only, 30 s clips): {embed_rate:.1f} clips/s")

    rng = np.random.default_rng(0)
    query = feats[0]
    query_emb, _ = embedder.embed(query)
    print("index query (one 30 s clip, 19 slices x 20 neighbours):")
    for size in (10_000, 100_000, 400_000):
        reps = int(np.ceil(size / len(base)))
        big = np.concatenate([base + 0.05 * rng.normal(size=base.shape).astype(np.float32) for _ in range(reps)])[:size]
        big_owners = np.concatenate([base_owners + r * 1000 for r in range(reps)])[:size]
        exact = AudioIndex(ann_threshold=10**12).fit(big, big_owners)
        ann = AudioIndex(ann_threshold=0).fit(big, big_owners)
        times = {}
        for name, index in (("exact", exact), ("ann", ann)):
            index.query(query_emb, 10)
            ts = []
            for _ in range(5):
                t0 = time.perf_counter()
                index.query(query_emb, 10)
                ts.append(time.perf_counter() - t0)
            times[name] = statistics.median(ts)
        # ANN recall as usual: the share of each query slice's true 20 nearest slices that the ANN returns
        qn = query_emb / np.linalg.norm(query_emb, axis=1, keepdims=True)
        true_idx, _ = exact._neighbours(qn, 20)
        ann_idx, _ = ann._neighbours(qn, 20)
        recall = float(np.mean([len(set(a) & set(t)) / 20 for a, t in zip(ann_idx, true_idx, strict=True)]))
        print(
            f"  {size:>7,} slices: exact {times['exact'] * 1000:7.1f} ms, usearch {times['ann'] * 1000:6.1f} ms "
            f"({times['exact'] / times['ann']:.1f}x), slice recall@20 {recall:.2f}"
        )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory (RSS): {peak:.0f} MB")


if __name__ == "__main__":
    main()

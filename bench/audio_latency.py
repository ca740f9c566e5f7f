"""Audio: clip-to-answer latency for 30 s clips with the pretrained musicnn path and the Conv1D path (ratio in the
same run), cold start of the pretrained path, embedding throughput, index query time vs catalogue size, memory.

Clips are 30 s excerpts of the real Debian soundtrack recordings (scripts/get_audio.sh); the indexes hold each
model's embeddings of those tracks; for the scaling part, the Conv1D embeddings then replicas with noise to reach
larger catalogues, where the exact scikit-learn search is compared with the usearch HNSW index (same interface)
in the same run, with its recall.

    .venv/bin/python bench/audio_latency.py [--clips 20] [--served-only]
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402

from data.corpus import Corpus  # noqa: E402
from data.db import open_database  # noqa: E402
from data.settings import Settings  # noqa: E402
from recommenders.audio.band import band_pass  # noqa: E402
from recommenders.audio.embedder import DEFAULT_MODEL_DIR  # noqa: E402
from recommenders.audio.features import window_audio  # noqa: E402
from recommenders.audio.index import AudioIndex  # noqa: E402
from recommenders.audio.loader import AudioModels  # noqa: E402
from recommenders.audio.service import AudioService, load_audio_service  # noqa: E402
from recommenders.audio.train import track_slices  # noqa: E402


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def catalogue(embedder, tracks: list[Path], cache: Path, seconds: float) -> AudioIndex:
    embs, owners = [], []
    for i, path in enumerate(tracks):
        try:
            e, _ = embedder.embed(track_slices(path, seconds, cache, embedder.patches, embedder.feature_id))
        except ValueError:
            continue
        embs.append(e)
        owners.append(np.full(len(e), i))
    return AudioIndex().fit(np.concatenate(embs), np.concatenate(owners))


def paired(before: AudioService, after: AudioService, clips: list[bytes]) -> tuple[list[float], list[float]]:
    """Latencies of two services on the same clips, clip by clip in turn (a busy machine slows both alike)."""
    before.recommend_clip(clips[0])
    after.recommend_clip(clips[0])
    out: tuple[list[float], list[float]] = ([], [])
    for clip in clips:
        for lat, service in zip(out, (before, after), strict=True):
            t0 = time.perf_counter()
            service.recommend_clip(clip, 10)
            lat.append(time.perf_counter() - t0)
    return out


def band_matching(served: AudioService, settings: Settings, clips: list[bytes]) -> None:
    """The served path with the band-limited vectors (band.py) against the same path without them, on the same
    30 s clips as they are and through a telephone band (300–3,400 Hz)."""
    plain = AudioService(served.embedder, served.index, settings, served.bridge, None, served.fingerprints)
    phone = []
    for clip in clips:
        y = band_pass(np.concatenate(window_audio(clip, max_bytes=50_000_000, budget=60)))
        buf = io.BytesIO()
        sf.write(buf, y * 0.5 / np.abs(y).max(), 22_050, format="WAV", subtype="PCM_16")
        phone.append(buf.getvalue())
    for name, batch in (("wide-band clips", clips), ("telephone-band clips", phone)):
        before, after = paired(plain, served, batch)
        print(
            f"band matching, {name}: p50 {statistics.median(before) * 1000:.0f} ms without, "
            f"{statistics.median(after) * 1000:.0f} ms with (p99 {pct(after, 0.99) * 1000:.0f} ms), "
            f"ratio {statistics.median(after) / statistics.median(before):.2f}"
        )


def identification(served: AudioService, settings: Settings, clips: list[bytes]) -> None:
    """The served path with its landmark fingerprints (fingerprint.py) against the same path without them, on the
    same clips (excerpts of indexed tracks: each is identified, the most work the step does)."""
    plain = AudioService(served.embedder, served.index, settings, served.bridge, served.narrow)
    before, after = paired(plain, served, clips)
    print(
        f"identification by landmarks ({len(served.fingerprints or []):,} hashes): p50 "
        f"{statistics.median(before) * 1000:.0f} ms without, {statistics.median(after) * 1000:.0f} ms with "
        f"(p99 {pct(after, 0.99) * 1000:.0f} ms), ratio {statistics.median(after) / statistics.median(before):.2f}"
    )


def timed(service: AudioService, clips: list[bytes]) -> list[float]:
    service.recommend_clip(clips[0])  # warm-up: numba JIT, TensorFlow graph
    out = []
    for clip in clips:
        t0 = time.perf_counter()
        service.recommend_clip(clip, 10)
        out.append(time.perf_counter() - t0)
    return out


COLD = """
import sys
from pathlib import Path
sys.path.insert(0, sys.argv[2])
from data.corpus import Corpus
from data.db import open_database
from data.settings import Settings
from recommenders.audio.service import load_audio_service
settings = Settings.from_env(dotenv=False)
service = load_audio_service(settings, Corpus(open_database(settings)))
service.recommend_clip(Path(sys.argv[1]).read_bytes(), 10)
"""


def cold_start(clip: bytes, tmp: Path) -> float:
    """Seconds from process start (interpreter included) to the first ranked answer on the served path: the
    published index and the model that built it, the tag bridge over the corpus, as `murecom similar --audio`."""
    (tmp / "clip.wav").write_bytes(clip)
    (tmp / "cold.py").write_text(COLD)
    root = str(Path(__file__).resolve().parent.parent)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, str(tmp / "cold.py"), str(tmp / "clip.wav"), root], check=True)
    return time.perf_counter() - t0


def served_path(served: AudioService, settings: Settings, clips: list[bytes]) -> None:
    """The published index and its model as the bots run them: latency, band matching's cost, cold start."""
    served_lat = timed(served, clips)
    print(
        f"clip-to-answer, served path ({len(served.index or [])} slices of {len(served.embedder.labels)}-tag "
        f"model, tag bridge over {len(served.bridge or [])} tracks): p50 {statistics.median(served_lat) * 1000:.0f}"
        f" ms, p99 {pct(served_lat, 0.99) * 1000:.0f} ms"
    )
    if served.narrow is not None:
        band_matching(served, settings, clips)
    if served.fingerprints is not None:
        identification(served, settings, clips)
    with tempfile.TemporaryDirectory() as tmp:
        colds = [cold_start(clips[0], Path(tmp)) for _ in range(3)]
    print(f"cold start (process start to first answer, served path): median {statistics.median(colds):.1f} s")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clips", type=int, default=20)
    ap.add_argument("--tracks", type=int, default=40, help="catalogue tracks indexed (60 s each)")
    ap.add_argument(
        "--served-only", action="store_true", help="only the served path: latency, band matching, cold start"
    )
    args = ap.parse_args()
    settings = Settings.from_env(dotenv=False)
    tracks = sorted(p for p in (settings.home / "audio-src").glob("*/*") if p.suffix in (".ogg", ".opus"))
    tracks = tracks[:: max(1, len(tracks) // args.tracks)][: args.tracks]
    cache = settings.home / "cache" / "audio-slices"
    models = AudioModels()  # the served path below reuses these loaded models
    clips = []
    long_tracks = [p for p in tracks if sf.info(str(p)).duration >= 45]
    for path in long_tracks[:: max(1, len(long_tracks) // args.clips)][: args.clips]:
        info = sf.info(str(path))
        data, sr = sf.read(str(path), start=int(info.samplerate * 10), frames=info.samplerate * 30, dtype="float32")
        buf = io.BytesIO()
        sf.write(buf, data, sr, format="WAV", subtype="PCM_16")
        clips.append(buf.getvalue())
    served = load_audio_service(settings, Corpus(open_database(settings)), models)
    if args.served_only:
        if served is not None:
            served_path(served, settings, clips)
        return
    conv1d = models.conv1d(DEFAULT_MODEL_DIR)
    pretrained = models.pretrained()
    conv_index = catalogue(conv1d, tracks, cache, 60.0)
    pre_index = catalogue(pretrained, tracks, cache, 60.0)
    base, base_owners = conv_index.embeddings, conv_index.owners
    conv_lat = timed(AudioService(conv1d, conv_index, settings), clips)
    pre_lat = timed(AudioService(pretrained, pre_index, settings), clips)
    print(f"catalogue: {len(tracks)} real tracks (60 s each); {len(clips)} clips of 30 s")
    for name, lat in (("Conv1D (baseline)", conv_lat), ("pretrained musicnn", pre_lat)):
        print(f"clip-to-answer {name}: p50 {statistics.median(lat) * 1000:.0f} ms, p99 {pct(lat, 0.99) * 1000:.0f} ms")
    print(f"pretrained / Conv1D p50 ratio: {statistics.median(pre_lat) / statistics.median(conv_lat):.2f}")
    if served is not None:
        served_path(served, settings, clips)
    feats = [np.concatenate([conv1d.patches(y) for y in window_audio(c, max_bytes=50_000_000, budget=60)])
             for c in clips]  # fmt: skip
    t0 = time.perf_counter()
    for x in feats:
        conv1d.embed(x)
    embed_rate = len(feats) / (time.perf_counter() - t0)
    print(f"Conv1D embedding throughput (CNN only, 30 s clips): {embed_rate:.1f} clips/s")

    rng = np.random.default_rng(0)
    query_emb, _ = conv1d.embed(feats[0])
    print("index query, Conv1D embeddings (one 30 s clip, 19 slices x 20 neighbours):")
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

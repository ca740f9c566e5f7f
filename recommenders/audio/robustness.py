"""Robustness of the audio index: each track, changed the way users' clips are, queries the index of the originals.

Variants of the track's first minute: MP3 at about 64 kbit/s (libsndfile's LAME, constant bitrate), resampled to
8 kHz (phone quality), +6 dB (clipped at full scale); and a 10 s excerpt from a seeded random point of the whole
track. Each goes through the product's own query path (bytes → windows → patches → index); reported: the rate at
which the original comes first and in the top 5.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
import soxr

from recommenders.audio.evaluate import Features, track_vectors
from recommenders.audio.features import SR, AudioError, decode, duration_of, wav_bytes, window_audio
from recommenders.audio.index import AudioIndex
from recommenders.audio.train import list_clips

QUERY_SECONDS = 60.0
MP3_LEVEL = 0.63  # libsndfile maps level 0..1 onto 160..8 kbit/s for 22,050 Hz mono (MPEG-2): 0.63 ≈ 64 kbit/s


def _mp3(y: np.ndarray) -> bytes:
    buf = io.BytesIO()
    with sf.SoundFile(
        buf, "w", SR, 1, format="MP3", subtype="MPEG_LAYER_III", compression_level=MP3_LEVEL, bitrate_mode="CONSTANT"
    ) as fh:
        fh.write(np.clip(y, -1, 1))
    return buf.getvalue()


def variants(path: Path, rng: np.random.Generator) -> dict[str, bytes]:
    """The four changed copies of one track, as the bytes a user would send."""
    head = decode(path, max_bytes=10**9, max_seconds=QUERY_SECONDS)
    duration = duration_of(path) or len(head) / SR
    start = float(rng.uniform(0, max(0.0, duration - 10.0)))
    excerpt = decode(path, max_bytes=10**9, max_seconds=10.0, offset=start)
    return {
        "MP3 64 kbit/s": _mp3(head),
        "8 kHz": wav_bytes(soxr.resample(head, SR, 8000, quality="HQ"), 8000),
        "+6 dB": wav_bytes(head * 2.0, SR),
        "10 s excerpt": wav_bytes(excerpt, SR),
    }


def evaluate_robustness(folder: Path, feats: Features, cache: Path | None, seed: int = 0) -> dict[str, Any]:
    clips = list_clips(folder)
    vectors = track_vectors(clips, feats, cache)
    ids = sorted(vectors)
    index = AudioIndex().fit(
        np.concatenate([vectors[i] for i in ids]), np.concatenate([np.full(len(vectors[i]), i) for i in ids])
    )
    rng = np.random.default_rng(seed)
    first: dict[str, list[bool]] = {}
    top5: dict[str, list[bool]] = {}
    for i in ids:
        try:
            changed = variants(clips[i].path, rng)
        except AudioError:
            continue
        for name, data in changed.items():
            try:
                audio = window_audio(data, max_bytes=10**9, budget=QUERY_SECONDS)
            except AudioError:
                first.setdefault(name, []).append(False)
                top5.setdefault(name, []).append(False)
                continue
            x = np.concatenate([feats.patches(y) for y in audio])
            ranked = [r.track_id for r in index.query(feats.vectors(x), 5)]
            first.setdefault(name, []).append(bool(ranked) and ranked[0] == i)
            top5.setdefault(name, []).append(i in ranked)
    return {
        "features": feats.name,
        "tracks": len(ids),
        "first": {k: float(np.mean(v)) for k, v in first.items()},
        "top5": {k: float(np.mean(v)) for k, v in top5.items()},
    }


def format_robustness(r: dict[str, Any]) -> str:
    lines = [
        f"Robustness ({r['features']}, {r['tracks']} tracks): the original comes first / in the top 5",
        "",
        "| variant | first | top 5 |",
        "| --- | --- | --- |",
    ]
    lines += [f"| {k} | {r['first'][k]:.2f} | {r['top5'][k]:.2f} |" for k in r["first"]]
    return "\n".join(lines)

"""Robustness of the audio index: each track, changed the way users' clips are, queries the index of the originals.

Variants of the track's first minute: MP3 at about 64 kbit/s (libsndfile's LAME, constant bitrate), resampled to
8 kHz (phone quality), +6 dB (clipped at full scale); a 10 s excerpt from a seeded random point of the whole
track; and 30 s from a seeded point "recorded off a speaker" (issue 23): a seeded synthetic room (exponentially
decaying noise, RT60 0.4 s, as much energy as the direct sound), pink noise 20 dB below the music, band-limited to
100–7,000 Hz ("wide band") or 300–3,400 Hz ("telephone band"), then Opus at 24 kbit/s like a voice note. Each goes
through the product's own query path (bytes → windows → band check → patches → index, as
`AudioService.recommend_clip`, landmark identification included); reported: the rate at which the original comes
first and in the top 5; first by sound alone (without identification), and before band matching (the wide-band
vectors only); the rate at which the clip is identified as its original, and as another recording when its original
is left out of the index (a false identification); and how many of the clean track's top-3 tags the variant keeps in
its own top 3.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
import soxr
from scipy.signal import fftconvolve

from recommenders.audio.band import BAND_ID, TELEPHONE_BAND, band_pass, matched_query, narrow_patches
from recommenders.audio.evaluate import Features, track_vectors
from recommenders.audio.features import (
    CATALOGUE_SECONDS,
    SR,
    AudioError,
    decode,
    duration_of,
    wav_bytes,
    window_audio,
)
from recommenders.audio.fingerprint import FingerprintIndex, identified_first, track_fingerprint
from recommenders.audio.index import AudioIndex
from recommenders.audio.train import list_clips, track_slices

QUERY_SECONDS = 60.0
MP3_LEVEL = 0.63  # libsndfile maps level 0..1 onto 160..8 kbit/s for 22,050 Hz mono (MPEG-2): 0.63 ≈ 64 kbit/s
OPUS_LEVEL = 0.928  # libsndfile maps level 0..1 onto 256..6 kbit/s: 0.928 ≈ 24 kbit/s (VBR, as voice notes are)
ROOM_SECONDS = 30.0
RT60 = 0.4  # a living room
DRR_DB = 0.0  # direct to reverberant energy: about the critical distance of such a room
NOISE_DB = -20.0
WIDE_BAND = (100.0, 7000.0)
TAGS = 3


def _mp3(y: np.ndarray) -> bytes:
    buf = io.BytesIO()
    with sf.SoundFile(
        buf, "w", SR, 1, format="MP3", subtype="MPEG_LAYER_III", compression_level=MP3_LEVEL, bitrate_mode="CONSTANT"
    ) as fh:
        fh.write(np.clip(y, -1, 1))
    return buf.getvalue()


def opus_voice_note(y: np.ndarray) -> bytes:
    """Ogg/Opus at about 24 kbit/s, encoded at Opus's own 48 kHz (the encoder picks its bandwidth for the rate)."""
    buf = io.BytesIO()
    with sf.SoundFile(buf, "w", 48_000, 1, format="OGG", subtype="OPUS", compression_level=OPUS_LEVEL) as fh:
        fh.write(np.clip(soxr.resample(y, SR, 48_000, quality="HQ"), -1, 1))
    return buf.getvalue()


def _pink(n: int, rng: np.random.Generator) -> np.ndarray:
    """Pink (1/f power) noise of unit RMS: white noise shaped in the frequency domain."""
    spectrum = np.fft.rfft(rng.normal(size=n))
    spectrum[1:] /= np.sqrt(np.arange(1, len(spectrum)))
    spectrum[0] = 0.0
    pink = np.fft.irfft(spectrum, n)
    return pink / (np.sqrt(np.mean(pink**2)) + 1e-12)


def room_recording(y: np.ndarray, band: tuple[float, float], rng: np.random.Generator) -> np.ndarray:
    """`y` played in a room and recorded through `band`: a seeded synthetic impulse response (the direct sound, then
    exponentially decaying noise with RT60 `RT60` holding as much energy: a phone a metre or two from the speaker),
    pink noise `NOISE_DB` below the music, then the band."""
    t = np.arange(1, int(RT60 * SR)) / SR
    tail = rng.normal(size=len(t)) * np.exp(-6.9 * t / RT60)
    tail *= np.sqrt(10 ** (-DRR_DB / 10) / np.sum(tail**2))
    ir = np.concatenate([[1.0], tail])
    wet = fftconvolve(y, ir)[: len(y)]
    wet *= np.sqrt(np.mean(y**2)) / (np.sqrt(np.mean(wet**2)) + 1e-12)
    noisy = wet + _pink(len(wet), rng) * np.sqrt(np.mean(wet**2)) * 10 ** (NOISE_DB / 20)
    out = band_pass(noisy, band)
    return out * (0.5 / (np.abs(out).max() + 1e-12))  # a phone's gain control: recorded at a sane level


def variants(path: Path, rng: np.random.Generator) -> dict[str, bytes]:
    """The six changed copies of one track, as the bytes a user would send."""
    head = decode(path, max_bytes=10**9, max_seconds=QUERY_SECONDS)
    duration = duration_of(path) or len(head) / SR
    start = float(rng.uniform(0, max(0.0, duration - 10.0)))
    excerpt = decode(path, max_bytes=10**9, max_seconds=10.0, offset=start)
    start = float(rng.uniform(0, max(0.0, duration - ROOM_SECONDS)))
    played = decode(path, max_bytes=10**9, max_seconds=ROOM_SECONDS, offset=start)
    room = int(rng.integers(2**32))  # one room for both bands: the rows differ only by the band

    def recorded(band: tuple[float, float]) -> bytes:
        return opus_voice_note(room_recording(played, band, np.random.default_rng(room)))

    return {
        "MP3 64 kbit/s": _mp3(head),
        "8 kHz": wav_bytes(soxr.resample(head, SR, 8000, quality="HQ"), 8000),
        "+6 dB": wav_bytes(head * 2.0, SR),
        "10 s excerpt": wav_bytes(excerpt, SR),
        "room, wide band, Opus 24k": opus_voice_note(room_recording(played, WIDE_BAND, np.random.default_rng(room))),
        "room, telephone band, Opus 24k": opus_voice_note(
            room_recording(played, TELEPHONE_BAND, np.random.default_rng(room))
        ),
    }


def narrow_features(feats: Features) -> Features:
    """The catalogue's second set of vectors: the same model on the audio band-limited to the telephone band."""
    return Features(
        f"{feats.name} ({BAND_ID})",
        f"{feats.feature_id}|{BAND_ID}",
        narrow_patches(feats.patches),
        feats.vectors,
        feats.whiten,
    )


def _index(vectors: dict[int, np.ndarray], whiten: int | None) -> AudioIndex:
    """The index the product would build of these vectors (whitened as the product's index is)."""
    ids = sorted(vectors)
    return AudioIndex(whiten=whiten).fit(
        np.concatenate([vectors[i] for i in ids]), np.concatenate([np.full(len(vectors[i]), i) for i in ids])
    )


def evaluate_robustness(
    folder: Path,
    feats: Features,
    cache: Path | None,
    seed: int = 0,
    *,
    queries: int | None = None,
    tags: Callable[[np.ndarray], np.ndarray] | None = None,
) -> dict[str, Any]:
    """Every track of `folder` indexed, and indexed again band-limited (as `setup` does); `queries`: that many
    seeded query tracks (all when None); `tags`: per-patch tag probabilities, for the tags kept. A clip detected as
    narrow-band is also searched as it was before band matching (the wide-band vectors), for the "before" column."""
    clips = list_clips(folder)
    vectors = track_vectors(clips, feats, cache)
    ids = sorted(vectors)
    index = _index(vectors, feats.whiten)
    narrow = _index(track_vectors(clips, narrow_features(feats), cache), feats.whiten)
    prints = FingerprintIndex.of_tracks({i: track_fingerprint(clips[i].path, CATALOGUE_SECONDS, cache) for i in ids})
    rng = np.random.default_rng(seed)
    asked = sorted(rng.choice(ids, queries, replace=False).tolist()) if queries is not None else ids
    rows: dict[str, dict[str, list[float]]] = {}
    for i in asked:
        try:
            changed = variants(clips[i].path, rng)
        except AudioError:
            continue
        clean = _top_tags(tags, track_slices(clips[i].path, CATALOGUE_SECONDS, cache, feats.patches, feats.feature_id))
        for name, data in changed.items():
            columns = ("first", "top5", "sound", "before", "identified", "false", "narrow", "kept")
            row = rows.setdefault(name, {k: [] for k in columns})
            try:
                heard = window_audio(data, max_bytes=10**9, budget=QUERY_SECONDS)
            except AudioError:
                for column in ("first", "top5", "sound", "before", "identified"):
                    row[column].append(0.0)
                continue
            clip = np.concatenate(heard)
            found = prints.identify(clip)
            row["identified"].append(float(found is not None and found.track_id == i))
            row["false"].append(float(prints.identify(clip, exclude_track=i) is not None))
            audio, is_narrow = matched_query(heard, True)
            x = np.concatenate([feats.patches(y) for y in audio])
            by_sound = (narrow if is_narrow else index).query(feats.vectors(x), 5)
            served = [r.track_id for r in identified_first(by_sound, found, 5)]
            row["first"].append(float(bool(served) and served[0] == i))
            row["top5"].append(float(i in served))
            row["sound"].append(float(bool(by_sound) and by_sound[0].track_id == i))
            row["narrow"].append(float(is_narrow))
            before = by_sound
            if is_narrow:
                before = index.query(feats.vectors(np.concatenate([feats.patches(y) for y in heard])), 1)
            row["before"].append(float(bool(before) and before[0].track_id == i))
            if clean:
                row["kept"].append(float(len(clean & _top_tags(tags, x))))
    return {
        "features": feats.name,
        "tracks": len(ids),
        "queries": len(asked),
        "rows": {name: {k: float(np.mean(v)) for k, v in row.items() if v} for name, row in rows.items()},
        "asked": asked,  # with "per_query": each column's values in query order, for tables over subsets
        "per_query": rows,
    }


def _top_tags(tags: Callable[[np.ndarray], np.ndarray] | None, x: np.ndarray) -> set[int]:
    """The `TAGS` most probable tags of the patches (their mean), or nothing without a tagger."""
    return set(np.argsort(-tags(x).mean(axis=0))[:TAGS].tolist()) if tags is not None else set()


def format_robustness(r: dict[str, Any]) -> str:
    lines = [
        f"Robustness ({r['features']}, {r['queries']} query tracks against an index of {r['tracks']}): the original "
        f"comes first / in the top 5 (as served: identified by landmarks, else by sound); first by sound alone, and "
        f"by sound before band matching; the share of clips identified as their original, and identified as another "
        f"recording when their original is left out of the index; detected as narrow-band; of the clean track's "
        f"top-{TAGS} tags, how many the clip keeps",
        "",
        "| variant | first | top 5 | first by sound | first by sound before band matching | identified "
        "| identified wrongly, original left out | narrow-band | tags kept |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, row in r["rows"].items():
        tags = f"{row['kept']:.2f} of {TAGS}" if "kept" in row else "–"
        lines.append(
            f"| {name} | {row['first']:.2f} | {row['top5']:.2f} | {row['sound']:.2f} | {row['before']:.2f} "
            f"| {row.get('identified', 0):.2f} | {row.get('false', 0):.2f} | {row.get('narrow', 0):.2f} | {tags} |"
        )
    return "\n".join(lines)

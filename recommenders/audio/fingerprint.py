"""Which indexed recording a clip is: landmark fingerprints (spectral peak pairs), as song-identification apps use.

The embedding index answers "what sounds alike", and a reverberant room blurs exactly what it compares: a clip of
an indexed song played off a speaker found its original first only 0.62 of the time (README, "Robustness"). The
question "is this one of our recordings?" has an older, sturdier answer (Wang, "An Industrial-Strength Audio Search
Algorithm", ISMIR 2003): the strongest local peaks of the spectrogram survive noise, codecs and a room, and pairs
of them — (frequency, frequency, time apart) — are hashes that a clip shares with its original *at one constant
time offset*. Hashes shared by chance scatter over offsets; a real match piles them up on one.

Only peaks between `LOW_HZ` and `HIGH_HZ` are used: the telephone band, so a clip recorded through a phone line
keeps every landmark the catalogue has (wide-band clips lose nothing they could use against a phone-band clip).
A clip is identified when its best track gathers at least `MIN_ALIGNED` hashes on one offset and `MARGIN` times
the runner-up's; both were chosen on validation clips of tracks that are *not* indexed, where no clip may be
identified (README, "Robustness").
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from recommenders.audio.array_cache import cached_array
from recommenders.audio.features import CATALOGUE_FILE_BYTES, SR, window_audio
from recommenders.base import Recommendation

N_FFT = 1024  # 46 ms at 22,050 Hz: 21.5 Hz per bin
HOP = 512  # 23 ms per frame
LOW_HZ, HIGH_HZ = 300.0, 3400.0
PEAK_FRAMES, PEAK_BINS = 10, 10  # a peak is the maximum of its ±230 ms × ±215 Hz neighbourhood
PEAKS_PER_SECOND = 15  # the strongest local maxima of each second are kept: noise adds maxima, rarely the strongest
FAN_OUT = 5  # each peak pairs with the next 5 peaks in its target zone
MAX_DT = 63  # frames (1.45 s) ahead
MAX_DF = 63  # bins (1.35 kHz) up or down
COMMON_HASH = 200  # a hash stored more often than this says nothing about which track it is: not looked up
MIN_ALIGNED = 12
MARGIN = 3.0
#: parameters that change the hashes: a cached fingerprint made with others is another cache entry
VERSION = (
    f"fp1|{N_FFT}|{HOP}|{LOW_HZ}|{HIGH_HZ}|{PEAK_FRAMES}|{PEAK_BINS}|{PEAKS_PER_SECOND}|{FAN_OUT}|{MAX_DT}|{MAX_DF}"
)
FOLDER = "fingerprints"  # their folder in a published audio index
SAME_RECORDING = "the same recording as your clip"  # how the identified original's reason begins


@dataclass(frozen=True)
class Identified:
    """A clip's original in the index: `aligned` hashes agreed on one time offset (`runner_up` for the next track)."""

    track_id: int
    aligned: int
    runner_up: int


def _log_spectrogram(y: np.ndarray) -> np.ndarray:
    """(frames, bins) log magnitude of the telephone band; Hann window, no padding."""
    y = np.asarray(y, np.float32)
    if len(y) < N_FFT:
        return np.zeros((0, 0), np.float32)
    frames = sliding_window_view(y, N_FFT)[::HOP] * np.hanning(N_FFT).astype(np.float32)
    lo, hi = int(LOW_HZ * N_FFT / SR), int(np.ceil(HIGH_HZ * N_FFT / SR)) + 1
    return np.log(np.abs(np.fft.rfft(frames, axis=1)[:, lo:hi]) + 1e-6).astype(np.float32)


def peaks(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(frame, bin) of the landmarks of mono 22,050 Hz audio, in time order."""
    s = _log_spectrogram(y)
    if s.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    padded = np.pad(s, ((PEAK_FRAMES, PEAK_FRAMES), (PEAK_BINS, PEAK_BINS)), constant_values=-np.inf)
    local = sliding_window_view(padded, 2 * PEAK_FRAMES + 1, axis=0).max(axis=-1)
    local = sliding_window_view(local, 2 * PEAK_BINS + 1, axis=1).max(axis=-1)
    t, f = np.nonzero((s == local) & (s > s.min()))
    if len(t) == 0:
        return t, f
    # the strongest PEAKS_PER_SECOND of each second
    second = t * HOP // SR
    strength = s[t, f]
    order = np.lexsort((-strength, second))
    t, f, second = t[order], f[order], second[order]
    starts = np.searchsorted(second, second, side="left")
    keep = (np.arange(len(t)) - starts) < PEAKS_PER_SECOND
    t, f = t[keep], f[keep]
    order = np.lexsort((f, t))
    return t[order], f[order]


def hashes(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(hash, anchor frame) of each landmark pair: an anchor peak and each of the next `FAN_OUT` peaks that lie
    1..`MAX_DT` frames after it and within `MAX_DF` bins of it."""
    t, f = peaks(y)
    n = len(t)
    if n < 2:
        return np.zeros(0, np.uint32), np.zeros(0, np.int32)
    window = min(n - 1, PEAKS_PER_SECOND * 3)  # peaks close enough in time to pair with: the next ~3 s of peaks
    anchor = np.repeat(np.arange(n), window)
    target = anchor + np.tile(np.arange(1, window + 1), n)
    inside = target < n
    anchor, target = anchor[inside], target[inside]
    dt, df = t[target] - t[anchor], f[target] - f[anchor]
    ok = (dt >= 1) & (dt <= MAX_DT) & (np.abs(df) <= MAX_DF)
    anchor, target, dt, df = anchor[ok], target[ok], dt[ok], df[ok]
    rank = np.arange(len(anchor)) - np.searchsorted(anchor, anchor, side="left")  # targets come in time order
    first = rank < FAN_OUT
    anchor, target, dt, df = anchor[first], target[first], dt[first], df[first]
    h = (f[anchor].astype(np.uint32) << 14) | ((df + MAX_DF).astype(np.uint32) << 7) | dt.astype(np.uint32)
    return h, t[anchor].astype(np.int32)


def track_fingerprint(path: Path, seconds: float, cache_dir: Path | None) -> tuple[np.ndarray, np.ndarray]:
    """`hashes` of a catalogue track's `windows` (up to `seconds` in all, joined end to end, as the embedding
    index reads the track), cached by file version (array_cache.py)."""

    def build() -> np.ndarray:
        h, t = hashes(np.concatenate(window_audio(path, max_bytes=CATALOGUE_FILE_BYTES, budget=seconds)))
        return np.stack([h.astype(np.int64), t.astype(np.int64)])

    both = cached_array(path, f"{seconds}|{VERSION}", cache_dir, build)
    return both[0].astype(np.uint32), both[1].astype(np.int32)


def identified_first(sounds: list[Recommendation], found: Identified | None, k: int) -> list[Recommendation]:
    """The sounds-alike picks with the clip's identified original first (and not again further down)."""
    if found is None:
        return sounds
    same = Recommendation(found.track_id, 1.0, f"{SAME_RECORDING}: {found.aligned} landmarks line up in time")
    return [same, *[r for r in sounds if r.track_id != found.track_id]][:k]


class FingerprintIndex:
    """Every indexed track's landmark hashes, sorted by hash for lookup; a track's audio is its `windows` joined
    end to end (as the embedding index reads it), so a clip from inside any window keeps one offset."""

    def __init__(self) -> None:
        self.hashes = np.zeros(0, np.uint32)
        self.owners = np.zeros(0, np.int32)
        self.times = np.zeros(0, np.int32)
        self.tracks = np.zeros(0, np.int64)  # every track fingerprinted, those with no landmark (silence) too

    def __len__(self) -> int:
        return len(self.hashes)

    @property
    def track_ids(self) -> set[int]:
        return set(self.tracks.tolist())

    @classmethod
    def of_tracks(cls, tracks: dict[int, tuple[np.ndarray, np.ndarray]]) -> FingerprintIndex:
        """From each track's (hashes, anchor frames) (`hashes` of its audio)."""
        index = cls()
        ids = sorted(tracks)
        index.tracks = np.asarray(ids, np.int64)
        if ids:
            h = np.concatenate([tracks[i][0] for i in ids])
            times = np.concatenate([tracks[i][1] for i in ids])
            owners = np.concatenate([np.full(len(tracks[i][0]), i, np.int32) for i in ids])
            order = np.argsort(h, kind="stable")
            index.hashes, index.owners, index.times = h[order], owners[order], times[order]
        return index

    def add(self, tracks: dict[int, tuple[np.ndarray, np.ndarray]]) -> FingerprintIndex:
        """A new index with these tracks too (the old one is left untouched for readers still using it)."""
        merged = FingerprintIndex.of_tracks(tracks)
        out = FingerprintIndex()
        h = np.concatenate([self.hashes, merged.hashes])
        order = np.argsort(h, kind="stable")
        out.hashes = h[order]
        out.owners = np.concatenate([self.owners, merged.owners])[order]
        out.times = np.concatenate([self.times, merged.times])[order]
        out.tracks = np.union1d(self.tracks, merged.tracks)
        return out

    def aligned_counts(self, y: np.ndarray, exclude_track: int | None = None) -> dict[int, int]:
        """For each track sharing hashes with the clip, the most of them that agree on one time offset (frames,
        counted in pairs of neighbouring offsets: a room can move a peak by a frame)."""
        q, qt = hashes(y)
        if len(q) == 0 or len(self.hashes) == 0:
            return {}
        lo = np.searchsorted(self.hashes, q, side="left")
        hi = np.searchsorted(self.hashes, q, side="right")
        n = hi - lo
        use = (n > 0) & (n <= COMMON_HASH)
        lo, n, qt = lo[use], n[use], qt[use]
        if len(n) == 0:
            return {}
        rows = np.repeat(lo - np.cumsum(n) + n, n) + np.arange(int(n.sum()))  # every stored match of every hash
        owners = self.owners[rows].astype(np.int64)
        offsets = self.times[rows].astype(np.int64) - np.repeat(qt, n).astype(np.int64)
        if exclude_track is not None:
            keep = owners != exclude_track
            owners, offsets = owners[keep], offsets[keep]
        best: dict[int, int] = {}
        for shift in (0, 1):  # offset bins of two frames, in both phases
            keys, counts = np.unique(owners * (1 << 32) + ((offsets + shift) // 2 + (1 << 30)), return_counts=True)
            tracks = keys >> 32  # keys sort by track first: each track's bins are one run
            starts = np.flatnonzero(np.r_[True, tracks[1:] != tracks[:-1]])
            for track, count in zip(tracks[starts].tolist(), np.maximum.reduceat(counts, starts).tolist(), strict=True):
                best[track] = max(best.get(track, 0), count)
        return best

    def identify(self, y: np.ndarray, exclude_track: int | None = None) -> Identified | None:
        """The indexed recording the clip is, or None when no track stands out (`MIN_ALIGNED`, `MARGIN`)."""
        counts = sorted(self.aligned_counts(y, exclude_track).items(), key=lambda kv: (-kv[1], kv[0]))
        if not counts:
            return None
        track, aligned = counts[0]
        runner_up = counts[1][1] if len(counts) > 1 else 0
        if aligned >= MIN_ALIGNED and aligned >= MARGIN * max(runner_up, 1):
            return Identified(track, aligned, runner_up)
        return None

    def save(self, folder: Path) -> None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        np.save(folder / "hashes.npy", self.hashes)
        np.save(folder / "owners.npy", self.owners)
        np.save(folder / "times.npy", self.times)
        np.save(folder / "tracks.npy", self.tracks)
        (folder / "fingerprints.json").write_text(json.dumps({"hashes": len(self), "tracks": len(self.track_ids)}))

    @classmethod
    def load_beside(cls, index_path: Path) -> FingerprintIndex | None:
        """The fingerprints published in an audio index's `FOLDER`, or None for an index published before they
        existed (its clips are then matched by sound alone until setup adds them)."""
        folder = Path(index_path) / FOLDER
        return cls.load(folder) if (folder / "hashes.npy").exists() else None

    @classmethod
    def load(cls, folder: Path) -> FingerprintIndex:
        index = cls()
        index.hashes = np.load(Path(folder) / "hashes.npy", mmap_mode="r")
        index.owners = np.load(Path(folder) / "owners.npy", mmap_mode="r")
        index.times = np.load(Path(folder) / "times.npy", mmap_mode="r")
        index.tracks = np.load(Path(folder) / "tracks.npy")
        return index

"""Calibrating "I am not sure what this is": music against noise and speech, measured on held-out clips.

The tagger's own probabilities separate music from non-music poorly (speech comes out "Hip-Hop, electronic" with
the confidence of an orchestral piece), so a logistic regression on a clip's mean tag probabilities and mean
embedding decides; it is fitted on one half of the clips and its AUROC and threshold are measured on
the other half, split by source (soundtrack, voice, kind of noise), never by clip of the same source.

Music: 30 s from a seeded random point of each track of a label/clip folder (the fetched soundtracks).
Non-music: sentences synthesised by espeak-ng (Debian package) in several voices and speeds, and generated noise
(white, pink, brown, mains hum, clicks) at several levels. `murecom calibrate-audio` writes the fitted weights,
threshold and held-out figures to recommenders/audio/unsure.json, which the service reads.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from recommenders.audio.features import SR, AudioError, decode, duration_of, wav_bytes, window_audio
from recommenders.audio.train import list_clips

UNSURE_FILE = Path(__file__).resolve().parent / "unsure.json"
SENTENCES = [
    "The weather today will be cloudy with a chance of rain in the afternoon.",
    "Please remember to bring your passport to the gate thirty minutes before departure.",
    "Turn left at the second traffic light and the station is on your right.",
    "Our meeting has been moved to Thursday morning at half past nine.",
    "Could you tell me how much this costs, and whether you accept cards?",
    "The committee will publish its final report at the end of the month.",
]
VOICES = ["en", "en+f3", "en-us", "en+m3", "de", "fr", "es", "it"]


def speech_clips() -> list[tuple[str, bytes]]:
    """(group, wav bytes) of synthesised sentences; empty when espeak-ng is not installed."""
    if shutil.which("espeak-ng") is None:
        return []
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for v, voice in enumerate(VOICES):
            for s, text in enumerate(SENTENCES):
                path = Path(tmp) / f"{v}-{s}.wav"
                speed = 130 + 20 * ((v + s) % 4)
                subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(path), text], check=True)
                out.append((f"speech:{voice}", path.read_bytes()))
    return out


def noise_clips(seed: int = 0, seconds: float = 15.0) -> list[tuple[str, bytes]]:
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    t = np.arange(n) / SR
    out = []
    for level in (0.02, 0.1, 0.3):
        white = rng.normal(0, 1, n)
        spectrum = np.fft.rfft(rng.normal(0, 1, n))
        f = np.maximum(np.fft.rfftfreq(n, 1 / SR), 1.0)
        pink = np.fft.irfft(spectrum / np.sqrt(f), n)
        brown = np.fft.irfft(spectrum / f, n)
        hum = np.sin(2 * np.pi * 50 * t) + 0.3 * np.sin(2 * np.pi * 150 * t) + 0.05 * white
        clicks = (rng.random(n) < 0.001) * rng.normal(0, 1, n) + 0.01 * white
        for name, y in (("white", white), ("pink", pink), ("brown", brown), ("hum", hum), ("clicks", clicks)):
            out.append((f"noise:{name}", wav_bytes(level * y / (np.abs(y).max() + 1e-9))))
    return out


def music_clips(folder: Path, seed: int = 0) -> list[tuple[str, bytes]]:
    rng = np.random.default_rng(seed)
    out = []
    for clip in list_clips(folder):
        duration = duration_of(clip.path) or 30.0
        try:
            y = decode(
                clip.path, max_bytes=10**9, max_seconds=30.0, offset=float(rng.uniform(0, max(0, duration - 30)))
            )
        except AudioError:
            continue
        out.append((f"music:{clip.label}", wav_bytes(y)))
    return out


def unsure_features(embeddings: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """What `UnsureModel` reads: a clip's mean tag probabilities and mean embedding (the service has both)."""
    return np.concatenate([probs.mean(axis=0), embeddings.mean(axis=0)]).astype(np.float32)


def clip_features(embedder, data: bytes) -> np.ndarray:
    audio = window_audio(data, max_bytes=10**9, budget=60.0)
    emb, probs = embedder.embed(np.concatenate([embedder.patches(y) for y in audio]))
    return unsure_features(emb, probs)


class UnsureModel:
    """P(music) of a clip's features; below `threshold` the clip is answered with "I am not sure what this is"."""

    def __init__(self, mean: np.ndarray, scale: np.ndarray, coef: np.ndarray, intercept: float, threshold: float):
        self.mean, self.scale, self.coef = mean, scale, coef
        self.intercept, self.threshold = intercept, threshold

    def p_music(self, features: np.ndarray) -> float:
        z = float(((features - self.mean) / self.scale) @ self.coef + self.intercept)
        return float(1.0 / (1.0 + np.exp(-z)))

    @classmethod
    def load(cls, embedder_version: str, path: Path = UNSURE_FILE) -> UnsureModel | None:
        """The calibrated model, or None when none was fitted for this embedder (its features would not fit)."""
        if not path.exists():
            return None
        d = json.loads(path.read_text())
        if d.get("embedder") != embedder_version:
            return None
        return cls(
            np.asarray(d["mean"], np.float32),
            np.asarray(d["scale"], np.float32),
            np.asarray(d["coef"], np.float32),
            float(d["intercept"]),
            float(d["threshold"]),
        )


def calibrate(embedder, folder: Path, out: Path = UNSURE_FILE, seed: int = 0) -> dict[str, Any]:
    """Fit on half of the sources, choose the threshold there (music kept ≥ 97 %), measure on the other half."""
    # lazy: ~130 ms on the bot's start (the service imports this module); only calibrate fits
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    clips = music_clips(folder, seed) + speech_clips() + noise_clips(seed)
    groups = sorted({g for g, _ in clips})
    rng = np.random.default_rng(seed)
    # music: alternate tracks within each soundtrack (the labels are too few to hold one out); non-music: by source
    fit_groups = {g for g in groups if g.startswith("music:") or rng.random() < 0.5}
    feats = np.stack([clip_features(embedder, data) for _, data in clips])
    y = np.array([g.startswith("music:") for g, _ in clips])
    counter: dict[str, int] = {}
    in_fit = []
    for g, _ in clips:
        counter[g] = counter.get(g, 0) + 1
        in_fit.append(g in fit_groups and (not g.startswith("music:") or counter[g] % 2 == 0))
    fit = np.array(in_fit)
    mean, scale = feats[fit].mean(axis=0), feats[fit].std(axis=0) + 1e-6
    lr = LogisticRegression(C=0.1, max_iter=2000, class_weight="balanced").fit((feats[fit] - mean) / scale, y[fit])
    model = UnsureModel(mean, scale, lr.coef_[0].astype(np.float32), float(lr.intercept_[0]), 0.5)
    p = np.array([model.p_music(f) for f in feats])
    music_fit = np.sort(p[fit & y])
    threshold = float(min(0.5, music_fit[max(0, int(0.03 * len(music_fit)) - 1)])) if len(music_fit) else 0.5
    held = ~fit
    report = {
        "clips": {"music": int(y.sum()), "non_music": int((~y).sum())},
        "held_out": {"music": int((held & y).sum()), "non_music": int((held & ~y).sum())},
        "auroc_held_out": float(roc_auc_score(y[held], p[held])),
        "threshold": threshold,
        "held_out_music_kept": float(np.mean(p[held & y] >= threshold)),
        "held_out_non_music_caught": float(np.mean(p[held & ~y] < threshold)),
    }
    out.write_text(
        json.dumps(
            {
                "mean": mean.tolist(),
                "scale": scale.tolist(),
                "coef": model.coef.tolist(),
                "intercept": model.intercept,
                "threshold": threshold,
                "embedder": embedder.version,
                "report": report,
            }
        )
    )
    return report

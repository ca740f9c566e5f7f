"""Training the audio classifier on any folder laid out `label/clip.ext` (GTZAN's own layout).

The split is by track, stratified by label and seeded: no slice of a test or validation track is ever trained on.
Early stopping watches the validation tracks, which are distinct from the test tracks that the reported accuracy
is measured on. Each catalogue track contributes up to `window` seconds (all of it, or its beginning, middle and
end: `features.windows`), cut in half-overlapping slices.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from data.audio_files import audio_files
from recommenders.audio.array_cache import cached_array
from recommenders.audio.features import CATALOGUE_FILE_BYTES, SLICE_HOP, AudioError, logmel_patches, window_audio
from recommenders.audio.model import build_cnn
from recommenders.audio.tf_runtime import import_tensorflow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Clip:
    path: Path
    label: str

    @property
    def key(self) -> str:
        return f"{self.label}/{self.path.name}"


def list_clips(folder: Path) -> list[Clip]:
    """Every audio file one level below a label folder, sorted."""
    clips = [Clip(p, p.parent.name) for p in audio_files(folder)]
    if not clips:
        raise ValueError(f"no audio found in {folder} (expected label/clip.ext)")
    return clips


def split_by_track(clips: list[Clip], *, test: float = 0.2, val: float = 0.15, seed: int = 42) -> dict[str, list[Clip]]:
    """Stratified split of whole tracks into train / val / test (each label needs 3 tracks at least)."""
    rng = np.random.default_rng(seed)
    parts: dict[str, list[Clip]] = {"train": [], "val": [], "test": []}
    for label in sorted({c.label for c in clips}):
        mine = [c for c in clips if c.label == label]
        if len(mine) < 3:
            raise ValueError(f"label {label!r} has {len(mine)} tracks; at least 3 are needed to split by track")
        order = rng.permutation(len(mine))
        n_test = max(1, round(len(mine) * test))
        n_val = max(1, round((len(mine) - n_test) * val))
        parts["test"] += [mine[i] for i in order[:n_test]]
        parts["val"] += [mine[i] for i in order[n_test : n_test + n_val]]
        parts["train"] += [mine[i] for i in order[n_test + n_val :]]
    return parts


def track_slices(
    path: Path,
    window: float,
    cache_dir: Path | None = None,
    patches: Callable[[np.ndarray], np.ndarray] = logmel_patches,
    feature_id: str = "logmel128",
) -> np.ndarray:
    """A catalogue track's model input: its `windows` (up to `window` seconds in all) cut into patches by
    `patches`, cached on disk (array_cache.py) by file version, window and `feature_id` when `cache_dir` is given."""
    return cached_array(
        path,
        f"{window}|{feature_id}|{SLICE_HOP}",
        cache_dir,
        lambda: np.concatenate([patches(y) for y in window_audio(path, max_bytes=CATALOGUE_FILE_BYTES, budget=window)]),
    )


def load_set(clips: list[Clip], labels: list[str], window: float, cache_dir: Path | None):
    xs, ys, owners = [], [], []
    for i, clip in enumerate(clips):
        try:
            x = track_slices(clip.path, window, cache_dir)
        except AudioError as exc:
            log.warning("skipping %s: %s", clip.key, exc)
            continue
        xs.append(x)
        ys.append(np.full(len(x), labels.index(clip.label)))
        owners.append(np.full(len(x), i))
    return np.concatenate(xs), np.concatenate(ys), np.concatenate(owners)


def track_accuracy(probs: np.ndarray, y: np.ndarray, owners: np.ndarray) -> float:
    """Accuracy when each track's label is the argmax of its slices' mean probabilities."""
    hits = []
    for t in np.unique(owners):
        mask = owners == t
        hits.append(int(np.argmax(probs[mask].mean(axis=0)) == y[mask][0]))
    return float(np.mean(hits))


def train_classifier(
    folder: Path,
    out_dir: Path,
    *,
    epochs: int = 40,
    patience: int = 6,
    window: float = 60.0,
    batch_size: int = 64,
    seed: int = 42,
    cache_dir: Path | None = None,
) -> dict[str, Any]:
    """Train, evaluate on the held-out test tracks, and write `model.keras` + `meta.json` into `out_dir`."""
    import_tensorflow()
    # lazy: Keras loads TensorFlow (seconds), so only when a model is built or loaded
    import keras

    t0 = time.perf_counter()
    clips = []
    for clip in list_clips(folder):
        try:
            track_slices(clip.path, window, cache_dir)  # unreadable or silent files are left out before splitting
            clips.append(clip)
        except AudioError as exc:
            log.warning("leaving out %s: %s", clip.key, exc)
    labels = sorted({c.label for c in clips})
    split = split_by_track(clips, seed=seed)
    data = {name: load_set(part, labels, window, cache_dir) for name, part in split.items()}
    prep_s = time.perf_counter() - t0
    model = build_cnn(len(labels), seed=seed)
    (x_tr, y_tr, _), (x_va, y_va, _), (x_te, y_te, o_te) = data["train"], data["val"], data["test"]
    stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience, restore_best_weights=True)
    history = model.fit(
        x_tr, y_tr, validation_data=(x_va, y_va), epochs=epochs, batch_size=batch_size, callbacks=[stop], verbose=0
    )
    probs = model.predict(x_te, verbose=0, batch_size=256)
    metrics = {
        "test_slice_accuracy": float(np.mean(np.argmax(probs, axis=1) == y_te)),
        "test_track_accuracy": track_accuracy(probs, y_te, o_te),
        "majority_baseline": float(max(np.mean(y_te == i) for i in range(len(labels)))),
        "epochs_run": len(history.history["loss"]),
        "best_val_loss": float(min(history.history["val_loss"])),
    }
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save(out_dir / "model.keras")
    meta = {
        "labels": labels,
        "metrics": metrics,
        "params": {"epochs": epochs, "patience": patience, "window": window, "batch_size": batch_size, "seed": seed},
        "split": {name: [c.key for c in part] for name, part in split.items()},
        "slices": {name: int(len(d[0])) for name, d in data.items()},
        "data": str(folder),
        "seconds": {"features": prep_s, "total": time.perf_counter() - t0},
    }
    (out_dir / "meta.json").write_text(json.dumps(meta, indent=2))
    log.info("audio model trained: %s", metrics)
    return meta

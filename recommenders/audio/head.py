"""The product's Conv1D classifier as a head on the pretrained music CNN.

The design's genre classifier convolves over time; here it convolves over musicnn's frame-level mid-end features
(187 frames × 753 channels per 3 s patch, the layer musicnn itself pools for its tags) instead of raw log-mel, so a
head trained on a few labelled soundtracks starts from what musicnn learned on a million songs. The base is frozen
(its frames are computed once per track, then only the small head trains); the head's penultimate layer is the
embedding, as in the log-mel Conv1D. `murecom train-audio FOLDER --on pretrained` trains it; `murecom eval --audio
--conv1d-folds` scores it with the held-out label left out of training, beside the log-mel Conv1D.

On disk a head is a folder with `head.keras` and `meta.json` (labels, metrics, and the base model's file and
identity); `HeadEmbedder` serves it behind the same `AudioEmbedder` interface as the other models.
"""

from __future__ import annotations

import json
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from recommenders.audio.model import EMBEDDING_LAYER
from recommenders.audio.musicnn import mel_patches
from recommenders.audio.pretrained import DEFAULT_PRETRAINED, PretrainedEmbedder
from recommenders.audio.tf_runtime import import_tensorflow

TIME_POOL = 4  # 187 frames → 46: the head sees 65 ms steps, a quarter of the memory per cached patch


class FrameFeatures:
    """musicnn's frame-level mid-end features of patches, time max-pooled by `TIME_POOL`, as float16."""

    def __init__(self, base: PretrainedEmbedder) -> None:
        import_tensorflow()
        import keras
        import tensorflow as tf

        model = base._model
        pooling = next(layer for layer in model.layers if isinstance(layer, keras.layers.GlobalMaxPooling1D))
        frames = keras.layers.MaxPooling1D(TIME_POOL)(pooling.input)
        extractor = keras.Model(model.input, frames)
        spec = tf.TensorSpec((None, *model.input_shape[1:]), tf.float32)
        self._forward = tf.function(lambda x: extractor(x, training=False), input_signature=[spec])
        self.shape = tuple(int(d) for d in extractor.output_shape[1:])
        self._lock = threading.Lock()

    def __call__(self, patches: np.ndarray, batch_size: int = 64) -> np.ndarray:
        out = []
        with self._lock:
            for start in range(0, len(patches), batch_size):
                batch = np.ascontiguousarray(patches[start : start + batch_size], np.float32)
                out.append(self._forward(batch).numpy().astype(np.float16))
        return np.concatenate(out) if out else np.zeros((0, *self.shape), np.float16)


def build_head(frames: int, channels: int, n_labels: int, seed: int = 42) -> Any:
    """Two Conv1D(128, 3, ReLU) + BatchNorm + MaxPool1D(2) blocks over time, GlobalMaxPool1D, Dense(256) (the
    embedding), Dropout(0.5), softmax: the log-mel Conv1D's shape, smaller, as its input is already high-level."""
    import_tensorflow()
    import keras
    from keras import layers

    keras.utils.set_random_seed(seed)
    inputs = keras.Input(shape=(frames, channels), name="musicnn_frames")
    x = inputs
    for _ in range(2):
        x = layers.Conv1D(128, 3, activation="relu", padding="same")(x)
        x = layers.BatchNormalization()(x)
        x = layers.MaxPooling1D(2)(x)
    x = layers.GlobalMaxPooling1D()(x)
    x = layers.Dropout(0.3)(x)
    x = layers.Dense(256, activation="relu", name=EMBEDDING_LAYER)(x)
    x = layers.Dropout(0.5)(x)
    outputs = layers.Dense(n_labels, activation="softmax", name="labels")(x)
    model = keras.Model(inputs, outputs, name="murecom_head_on_musicnn")
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def fit_head(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    n_labels: int,
    *,
    epochs: int = 30,
    patience: int = 5,
    seed: int = 42,
) -> Any:
    """A head trained on frame features, stopped early on the validation tracks' loss."""
    import keras

    model = build_head(x_train.shape[1], x_train.shape[2], n_labels, seed=seed)
    stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience, restore_best_weights=True)
    model.fit(
        x_train.astype(np.float32),
        y_train,
        validation_data=(x_val.astype(np.float32), y_val),
        epochs=epochs,
        batch_size=64,
        callbacks=[stop],
        verbose=0,
    )
    return model


def head_embeddings(model: Any, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(embeddings (n, 256), label probabilities (n, labels)) of frame features."""
    import keras

    both = keras.Model(model.inputs, [model.get_layer(EMBEDDING_LAYER).output, model.output])
    emb, probs = both.predict(frames.astype(np.float32), batch_size=256, verbose=0)
    return np.asarray(emb, np.float32), np.asarray(probs, np.float32)


def save_head(model: Any, out_dir: Path, labels: list[str], base: PretrainedEmbedder, extra: dict[str, Any]) -> None:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save(out_dir / "head.keras")
    meta = {"labels": labels, "base_path": str(base.path), "base": base.version, "time_pool": TIME_POOL, **extra}
    (out_dir / "meta.json").write_text(json.dumps(meta, indent=2))


def is_head(model_dir: Path) -> bool:
    return (Path(model_dir) / "head.keras").exists()


class HeadEmbedder:
    """A trained head on its pretrained base, behind the `AudioEmbedder` interface: patches are the base's log-mel
    patches; `embed` runs the base to its frames, then the head, and returns the head's embedding and labels."""

    feature_id = "mel96"

    def __init__(self, model_dir: Path) -> None:
        import_tensorflow()
        import keras

        self.model_dir = Path(model_dir)
        self.meta: dict[str, Any] = json.loads((self.model_dir / "meta.json").read_text())
        self.labels: list[str] = list(self.meta["labels"])
        base_path = Path(self.meta.get("base_path") or DEFAULT_PRETRAINED)
        self.frames = FrameFeatures(PretrainedEmbedder.load(base_path))
        head = keras.models.load_model(self.model_dir / "head.keras", compile=False)
        self._both = keras.Model(head.inputs, [head.get_layer(EMBEDDING_LAYER).output, head.output])
        self._lock = threading.Lock()

    @classmethod
    @lru_cache(maxsize=4)
    def load(cls, model_dir: Path) -> HeadEmbedder:
        return cls(model_dir)

    @property
    def version(self) -> str:
        import hashlib

        digest = hashlib.sha256((self.model_dir / "head.keras").read_bytes()).hexdigest()[:16]
        return f"head-on-{self.meta['base']}:sha256:{digest}"

    def patches(self, y: np.ndarray) -> np.ndarray:
        return mel_patches(y)

    def embed(self, patches: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        frames = self.frames(patches).astype(np.float32)
        with self._lock:
            emb, probs = self._both.predict(frames, batch_size=256, verbose=0)
        return np.asarray(emb, np.float32), np.asarray(probs, np.float32)


def track_frames(
    clips: list[Any], base: PretrainedEmbedder, frames: FrameFeatures, window: float, cache: Path | None
) -> dict[int, np.ndarray]:
    """Frame features of each readable clip's `window` seconds (the product's windows), by clip position."""
    from recommenders.audio.features import AudioError
    from recommenders.audio.train import track_slices

    out = {}
    for i, clip in enumerate(clips):
        try:
            out[i] = frames(track_slices(clip.path, window, cache, base.patches, base.feature_id))
        except AudioError:
            continue
    return out


def stack(ids: list[int], frames: dict[int, np.ndarray], labels: list[int]) -> tuple[np.ndarray, np.ndarray]:
    x = np.concatenate([frames[i] for i in ids])
    y = np.concatenate([np.full(len(frames[i]), labels[i]) for i in ids])
    return x, y


def train_head(
    folder: Path,
    out_dir: Path,
    *,
    window: float = 60.0,
    cache_dir: Path | None = None,
    epochs: int = 30,
    seed: int = 42,
) -> dict[str, Any]:
    """Train a head on a label/clip folder (split by track: train / validation for early stopping / test), report
    its held-out track accuracy, and save it into `out_dir`."""
    from recommenders.audio.train import list_clips, split_by_track, track_accuracy

    base = PretrainedEmbedder.load()
    extractor = FrameFeatures(base)
    clips = list_clips(folder)
    frames = track_frames(clips, base, extractor, window, cache_dir)
    readable = [clips[i] for i in sorted(frames)]
    names = sorted({c.label for c in readable})
    position = {id(c): i for i, c in enumerate(clips)}
    label_of = [names.index(c.label) if c.label in names else -1 for c in clips]
    split = split_by_track(readable, seed=seed)
    ids = {part: [position[id(c)] for c in chosen] for part, chosen in split.items()}
    (x_tr, y_tr), (x_va, y_va), (x_te, y_te) = (stack(ids[p], frames, label_of) for p in ("train", "val", "test"))
    model = fit_head(x_tr, y_tr, x_va, y_va, len(names), epochs=epochs, seed=seed)
    _, probs = head_embeddings(model, x_te)
    owners = np.concatenate([np.full(len(frames[i]), i) for i in ids["test"]])
    metrics = {
        "test_slice_accuracy": float(np.mean(np.argmax(probs, axis=1) == y_te)),
        "test_track_accuracy": track_accuracy(probs, y_te, owners),
        "majority_baseline": float(max(np.mean(y_te == i) for i in range(len(names)))),
    }
    extra = {
        "metrics": metrics,
        "split": {p: [c.key for c in chosen] for p, chosen in split.items()},
        "data": str(folder),
    }
    save_head(model, out_dir, names, base, extra)
    return {"labels": names, "metrics": metrics, "tracks": {p: len(ids[p]) for p in ids}}

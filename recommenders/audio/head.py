"""The product's Conv1D classifier as a head on the pretrained music CNN.

The design's genre classifier convolves over time; here it convolves over musicnn's frame-level mid-end features
(187 frames × 753 channels per 3 s patch, the layer musicnn itself pools for its tags) instead of raw log-mel, so a
head trained on a few labelled soundtracks starts from what musicnn learned on a million songs. The base is frozen
(its frames are computed once per track, then only the small head trains); the head's penultimate layer is the
embedding, as in the log-mel Conv1D. `murecom train-audio FOLDER --on pretrained` trains it; `murecom eval --audio
--conv1d-folds` scores it with the held-out label left out of training, beside the log-mel Conv1D.

On disk a head is a Conv1D model folder (`model.keras`, `meta.json`) whose meta also names the base model's file
and identity; `HeadEmbedder` serves it behind the same `AudioEmbedder` interface as the other models.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from recommenders.audio.embedder import Embedder
from recommenders.audio.features import AudioError
from recommenders.audio.model import EMBEDDING_LAYER, build_conv1d
from recommenders.audio.musicnn import mel_patches
from recommenders.audio.pretrained import DEFAULT_PRETRAINED, PretrainedEmbedder
from recommenders.audio.tf_runtime import BatchedForward, import_tensorflow
from recommenders.audio.train import list_clips, split_by_track, track_accuracy, track_slices

TIME_POOL = 4  # 187 frames → 46: the head sees 65 ms steps, a quarter of the memory per cached patch


class FrameFeatures:
    """musicnn's frame-level mid-end features of patches, time max-pooled by `TIME_POOL`, as float16."""

    def __init__(self, base: PretrainedEmbedder) -> None:
        import_tensorflow()
        # lazy: Keras loads TensorFlow (seconds), so only when a model is built or loaded
        import keras

        model = base._model
        pooling = next(layer for layer in model.layers if isinstance(layer, keras.layers.GlobalMaxPooling1D))
        extractor = keras.Model(model.input, keras.layers.MaxPooling1D(TIME_POOL)(pooling.input))
        self._forward = BatchedForward(extractor)

    def __call__(self, patches: np.ndarray, batch_size: int = 64) -> np.ndarray:
        return self._forward(patches, batch_size)[0].astype(np.float16)


def build_head(frames: int, channels: int, n_labels: int, seed: int = 42) -> Any:
    """The log-mel Conv1D's shape, smaller (two blocks of 128 filters, no hidden Dense), as its input is already
    high-level."""
    return build_conv1d((frames, channels), n_labels, (128, 128), hidden=False, seed=seed, pooled_dropout=0.3,
                        input_name="musicnn_frames", name="murecom_head_on_musicnn")  # fmt: skip


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
    # lazy: Keras loads TensorFlow (seconds), so only when a model is built or loaded
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
    # lazy: Keras loads TensorFlow (seconds), so only when a model is built or loaded
    import keras

    both = keras.Model(model.inputs, [model.get_layer(EMBEDDING_LAYER).output, model.output])
    emb, probs = both.predict(frames.astype(np.float32), batch_size=256, verbose=0)
    return np.asarray(emb, np.float32), np.asarray(probs, np.float32)


def save_head(model: Any, out_dir: Path, labels: list[str], base: PretrainedEmbedder, extra: dict[str, Any]) -> None:
    """Saved as a Conv1D model folder (`model.keras`, `meta.json`) whose meta names the base it runs on."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save(out_dir / "model.keras")
    meta = {"labels": labels, "base_path": str(base.path), "base": base.version, "time_pool": TIME_POOL, **extra}
    (out_dir / "meta.json").write_text(json.dumps(meta, indent=2))


def is_head(model_dir: Path) -> bool:
    meta = Path(model_dir) / "meta.json"
    return meta.exists() and "base_path" in json.loads(meta.read_text())


def head_base_path(model_dir: Path) -> Path:
    """The pretrained model file the head in `model_dir` runs on."""
    meta = json.loads((Path(model_dir) / "meta.json").read_text())
    return Path(meta.get("base_path") or DEFAULT_PRETRAINED)


class HeadEmbedder(Embedder):
    """A trained head on its pretrained base, behind the `AudioEmbedder` interface: patches are the base's log-mel
    patches; `embed` runs the base to its frames, then the head (as any Conv1D model folder). `base`: the loaded
    base model when the caller has it (`loader.AudioModels` shares one), else the one the head's meta names is
    loaded."""

    feature_id = "mel96"
    whiten: int | None = None  # a head's own space, as its evaluation measured it

    def __init__(self, model_dir: Path, base: PretrainedEmbedder | None = None) -> None:
        super().__init__(model_dir)
        self.frames = FrameFeatures(base if base is not None else PretrainedEmbedder(head_base_path(model_dir)))

    @property
    def version(self) -> str:
        return f"head-on-{self.meta['base']}:{super().version}"

    def patches(self, y: np.ndarray) -> np.ndarray:
        return mel_patches(y)

    def embed(self, slices: np.ndarray, batch_size: int = 256) -> tuple[np.ndarray, np.ndarray]:
        return super().embed(self.frames(slices).astype(np.float32), batch_size)


def track_frames(
    clips: list[Any], base: PretrainedEmbedder, frames: FrameFeatures, window: float, cache: Path | None
) -> dict[int, np.ndarray]:
    """Frame features of each readable clip's `window` seconds (the product's windows), by clip position."""
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
    base = PretrainedEmbedder()
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

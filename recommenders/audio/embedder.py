"""The trained classifier as an embedder: slice → 256-d embedding (penultimate layer) and label probabilities.

Each `Embedder(...)` loads its Keras model (whoever loads repeatedly keeps models in a `loader.AudioModels`); its
traced forward pass (`tf_runtime.BatchedForward`) serialises calls with a lock so the bot's worker threads can share
it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from recommenders.audio.features import logmel_patches
from recommenders.audio.model import EMBEDDING_LAYER
from recommenders.audio.tf_runtime import BatchedForward, import_tensorflow

DEFAULT_MODEL_DIR = Path(__file__).resolve().parent / "default_model"


class AudioEmbedder(Protocol):
    """What the index and the service need from a model: its input for a window of audio, and per patch an
    embedding and label (or tag) probabilities; `whiten`: the whitened size an index of its embeddings searches in
    (`index.AudioIndex`), None for its own space."""

    feature_id: str
    whiten: int | None
    labels: list[str]
    meta: dict[str, Any]

    @property
    def version(self) -> str: ...

    def patches(self, y: np.ndarray) -> np.ndarray: ...

    def embed(self, patches: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...


class Embedder:
    feature_id = "logmel128"
    whiten: int | None = None  # a Conv1D's own 256-d space: its whitening was never measured

    def __init__(self, model_dir: Path) -> None:
        import_tensorflow()
        # lazy: Keras loads TensorFlow (seconds), so only when a model is built or loaded
        import keras

        self.model_dir = Path(model_dir)
        self.meta = json.loads((self.model_dir / "meta.json").read_text())
        self.labels: list[str] = list(self.meta["labels"])
        model = keras.models.load_model(self.model_dir / "model.keras", compile=False)
        self._forward = BatchedForward(
            keras.Model(model.inputs, [model.get_layer(EMBEDDING_LAYER).output, model.output])
        )

    @property
    def version(self) -> str:
        """The model's identity: its recorded version, else a hash of its weights (the shipped model is replaced in
        place when the code ships a new one, so its folder name says nothing)."""
        recorded = self.meta.get("version")
        if recorded:
            return str(recorded)

        return "sha256:" + hashlib.sha256((self.model_dir / "model.keras").read_bytes()).hexdigest()[:16]

    def patches(self, y: np.ndarray) -> np.ndarray:
        """The model's input for one window of mono 22,050 Hz audio (the same for queries and catalogue)."""
        return logmel_patches(y)

    def embed(self, slices: np.ndarray, batch_size: int = 256) -> tuple[np.ndarray, np.ndarray]:
        """(embeddings (n, 256), label probabilities (n, labels)) of the slices."""
        emb, probs = self._forward(slices, batch_size)
        return emb.astype(np.float32), probs.astype(np.float32)

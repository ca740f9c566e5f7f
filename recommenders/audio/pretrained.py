"""The pretrained music CNN (musicnn MSD, converted by `murecom convert-musicnn`) as the audio embedder and tagger.

One model answers both questions a clip raises: its 50 Last.fm tag probabilities ("rock", "80s", "instrumental",
…), the vocabulary of the Yes.com corpus's own tags, and an embedding of each 3 s patch for nearest neighbours
(the pooled mid-end features: max and mean over time of the 753 front/mid-end channels). Each instance loads
the Keras model (whoever loads repeatedly keeps models in a `loader.AudioModels`); calls run under a lock so the
bot's worker threads can share it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from recommenders.audio.musicnn import PRETRAINED_DIR, mel_patches
from recommenders.audio.tf_runtime import BatchedForward, import_tensorflow

DEFAULT_PRETRAINED = PRETRAINED_DIR / "MSD_musicnn.keras"
MTT_PRETRAINED = PRETRAINED_DIR / "MTT_musicnn.keras"  # MagnaTagATune: compared in `murecom eval-audio --variants`
EMBEDDINGS = ("pooled", "penultimate")
#: The whitened size an index of the pooled embedding searches in: MSD pooled whitened to 256 did as well as every
#: choice of `murecom eval-audio --variants` on labels it never saw (×1.35 MFCC on P@5; README, "Evaluation").
WHITEN = 256


class PretrainedEmbedder:
    feature_id = "mel96"
    whiten: int | None = WHITEN

    def __init__(self, path: Path = DEFAULT_PRETRAINED, embedding: str = "pooled") -> None:
        import_tensorflow()
        # lazy: Keras loads TensorFlow (seconds), so only when a model is built or loaded
        import keras

        if embedding not in EMBEDDINGS:
            raise ValueError(f"embedding must be one of {EMBEDDINGS}")
        self.path = Path(path)
        self.meta: dict[str, Any] = json.loads(self.path.with_suffix(".json").read_text())
        self.labels: list[str] = list(self.meta["labels"])
        self.embedding = embedding
        self._model = keras.models.load_model(self.path, compile=False)
        self._forward = BatchedForward(self._model)

    @staticmethod
    def available(path: Path = DEFAULT_PRETRAINED) -> bool:
        return path.exists() and path.with_suffix(".json").exists()

    @property
    def version(self) -> str:
        return f"{self.meta['name']}:{self.embedding}"

    @property
    def description(self) -> str:
        return f"musicnn ({self.meta['name']}, MTG-UPF, ISC licence) tags and {self.embedding} embedding"

    def patches(self, y: np.ndarray) -> np.ndarray:
        """Back-to-back 3 s log-mel patches at 16 kHz of one window of mono 22,050 Hz audio."""
        return mel_patches(y)

    def embed(self, patches: np.ndarray, batch_size: int = 64) -> tuple[np.ndarray, np.ndarray]:
        """(embeddings (n, d), tag probabilities (n, 50)) of the patches."""
        tags, penultimate, pooled = self._forward(patches, batch_size)
        emb = pooled if self.embedding == "pooled" else penultimate
        return np.asarray(emb, np.float32), np.asarray(tags, np.float32)

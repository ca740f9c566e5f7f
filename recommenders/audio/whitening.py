"""PCA-whitening of patch embeddings: the space the audio index searches in (issue 23).

musicnn's pooled features share a few strong directions in every patch (loudness, the model's bias), and the cosine
between two patches is mostly those; whitened, each principal axis weighs the same, so what tells pieces apart is
heard. On music neither the model nor the whitening saw (leave-one-label-out, the whitening fitted on the other
labels), MSD pooled whitened to 256 dimensions lifts P@5 from ×1.11 to ×1.35 MFCC (README, "Evaluation").
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: Patches needed per kept axis before a whitening is fitted: a covariance from fewer is mostly noise in its weak
#: axes, which whitening would then amplify (an index smaller than that searches the model's own space).
MIN_PATCHES_PER_AXIS = 4


@dataclass(frozen=True)
class Whitening:
    """Centred, rotated onto the principal axes and scaled to unit variance, kept to the strongest axes."""

    mean: np.ndarray
    matrix: np.ndarray

    @property
    def dims(self) -> int:
        return int(self.matrix.shape[1])

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return np.asarray((np.asarray(x, np.float32) - self.mean) @ self.matrix, np.float32)

    def save(self, path: Path) -> None:
        np.savez(path, mean=self.mean, matrix=self.matrix)

    @classmethod
    def load(cls, path: Path) -> Whitening:
        with np.load(path) as data:
            return cls(data["mean"], data["matrix"])


def fit_whitening(x: np.ndarray, d: int) -> Whitening:
    """The whitening of the patches `x` (n, dim), kept to its `d` strongest axes."""
    x = np.asarray(x, np.float64)
    mean = x.mean(axis=0)
    values, axes = np.linalg.eigh(np.cov(x - mean, rowvar=False))
    values, axes = values[::-1][:d], axes[:, ::-1][:, :d]
    return Whitening(mean.astype(np.float32), (axes / np.sqrt(np.maximum(values, 0.0) + 1e-6)).astype(np.float32))


def can_whiten(patches: int, d: int) -> bool:
    """Whether `patches` vectors are enough to fit a whitening to `d` axes (`MIN_PATCHES_PER_AXIS`)."""
    return patches >= MIN_PATCHES_PER_AXIS * d

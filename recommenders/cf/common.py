"""Shared pieces of the CF models: fitting from sequences, the sparse neighbour table, the saved-model marker.

Models learn from *sequences*: playlists in play order (or a listener's artists, most played first) with optional
graded weights (Last.fm play counts). `fit(corpus)` streams `Corpus.playlists()`; the evaluation fits the same
models on a held-out split through `fit_sequences`, so both paths run the same code.
"""

from __future__ import annotations

import json
from abc import abstractmethod
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Self

import numpy as np
import scipy.sparse as sp

from recommenders.base import Recommender

if TYPE_CHECKING:
    from data.corpus import Corpus

MARKER = "model.json"


class CFRecommender(Recommender):
    """A recommender fitted on sequences of item ids; `params()` lets callers re-create it untrained."""

    name: ClassVar[str] = "cf"
    #: What a row of the training data is, for reasons ("playlists" or "listeners").
    unit: str = "playlists"

    def fit(self, corpus: Corpus) -> Self:
        return self.fit_sequences(corpus.playlists())

    @abstractmethod
    def fit_sequences(
        self, sequences: Iterable[Sequence[int]], weights: Iterable[Sequence[float]] | None = None
    ) -> Self:
        """Learn from re-iterable `sequences` of item ids (with optional per-entry graded `weights`)."""

    @abstractmethod
    def params(self) -> dict[str, Any]:
        """Constructor arguments; `type(self)(**self.params())` is the same model, untrained."""

    def clone(self) -> Self:
        return type(self)(**self.params())

    @property
    @abstractmethod
    def item_ids(self) -> np.ndarray:
        """Ids of the items the model knows (possible seeds and answers)."""

    def _write_marker(self, path: Path, extra: dict[str, Any] | None = None) -> None:
        (Path(path) / MARKER).write_text(
            json.dumps({"class": self.name, "params": self.params(), "unit": self.unit, **(extra or {})}, indent=2)
        )

    @staticmethod
    def read_marker(path: Path) -> dict[str, Any]:
        marker = Path(path) / MARKER
        if not marker.exists():
            raise FileNotFoundError(f"{path} holds no saved CF model ({MARKER} missing)")
        return json.loads(marker.read_text())


def interaction_matrix(
    sequences: Iterable[Sequence[int]], weights: Iterable[Sequence[float]] | None = None
) -> tuple[sp.csr_matrix, sp.csr_matrix, np.ndarray]:
    """(binary rows × items, graded rows × items, item ids of the columns) from sequences.

    A repeated item in one sequence counts once in the binary matrix; its graded value is the sum of its weights
    (1 per occurrence without weights), so radio repeats and play counts both become a graded signal.
    """
    index: dict[int, int] = {}
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    vals: list[np.ndarray] = []
    weight_iter = iter(weights) if weights is not None else None
    n = 0
    for seq in sequences:
        w = next(weight_iter) if weight_iter is not None else None
        if len(seq) == 0:
            n += 1
            continue
        c = np.fromiter((index.setdefault(int(t), len(index)) for t in seq), dtype=np.int64, count=len(seq))
        cols.append(c)
        rows.append(np.full(len(seq), n, dtype=np.int64))
        vals.append(np.ones(len(seq), np.float32) if w is None else np.asarray(w, dtype=np.float32))
        n += 1
    if not index:
        raise ValueError("no interactions to learn from: the corpus has no playlists")
    r = np.concatenate(rows)
    c = np.concatenate(cols)
    v = np.concatenate(vals)
    graded = sp.csr_matrix((v, (r, c)), shape=(n, len(index)), dtype=np.float32)
    graded.sum_duplicates()
    binary = graded.copy()
    binary.data[:] = 1.0
    item_ids = np.fromiter(index.keys(), dtype=np.int64, count=len(index))
    return binary, graded, item_ids


def top_n_per_row(m: sp.csr_matrix, n: int, *companions: sp.csr_matrix) -> tuple[sp.csr_matrix, ...]:
    """Keep the `n` largest entries of every row, sorted best first within the row (vectorised, no Python loop).

    `companions` share `m`'s sparsity pattern (e.g. co-occurrence counts) and are cut at the same positions.
    """
    m = m.tocsr()
    m.sort_indices()
    counts = np.diff(m.indptr)
    row = np.repeat(np.arange(m.shape[0]), counts)
    order = np.lexsort((m.indices, -m.data, row))
    rank = np.arange(len(order)) - np.repeat(m.indptr[:-1], counts)
    keep = order[rank < n]
    new_counts = np.minimum(counts, n)
    indptr = np.concatenate([[0], np.cumsum(new_counts)]).astype(np.int64)
    out = [sp.csr_matrix((m.data[keep], m.indices[keep], indptr), shape=m.shape)]
    for comp in companions:
        comp = comp.tocsr()
        comp.sort_indices()
        if comp.nnz != m.nnz or not np.array_equal(comp.indices, m.indices):
            raise ValueError("companion matrix must share the sparsity pattern")
        out.append(sp.csr_matrix((comp.data[keep], comp.indices[keep], indptr), shape=comp.shape))
    return tuple(out)


def top_k_dense(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k largest scores, best first (ties broken by index for determinism)."""
    k = min(k, len(scores))
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    part = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
    return part[np.lexsort((part, -scores[part]))]


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n != 1 else f"1 {word.rstrip('s')}"

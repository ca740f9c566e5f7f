"""Sparse item-kNN over the playlist × track matrix: the scalable CF model (and the reasons' source of evidence).

Similarity of tracks i, j from the playlists that hold them:
- "cosine": |P_i ∩ P_j| / (sqrt(|P_i| |P_j|) + shrink) on binary (or log-play-count) vectors, where a playlist's
  weight is down-scaled by its length (`length_norm`), since a 200-song playlist is weaker evidence than a 10-song one;
- "bm25": the BM25 weighting of the track rows (as in `implicit`), then a dot product.
It is computed in blocks of rows (`W_blockᵀ W`) and only the top `neighbours` per track are kept, so memory grows
with tracks × neighbours, not tracks²: the path to 1M playlists × 2M tracks on one machine (see bench/cf_scaling.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import ClassVar, Self

import numpy as np
import scipy.sparse as sp

from recommenders.cf.neighbours import NeighbourRecommender, build_table

WEIGHTINGS = ("cosine", "bm25")


class ItemKNN(NeighbourRecommender):
    """Item-based nearest neighbours on the sparse interaction matrix."""

    name: ClassVar[str] = "itemknn"

    def __init__(
        self,
        weighting: str = "cosine",
        neighbours: int = 200,
        shrink: float = 2.0,
        length_norm: float = 0.5,
        alpha: float = 0.7,
        k1: float = 1.2,
        b: float = 0.75,
        block: int = 2048,
        max_block_nnz: int = 20_000_000,
    ) -> None:
        super().__init__()
        if weighting not in WEIGHTINGS:
            raise ValueError(f"weighting must be one of {WEIGHTINGS}, not {weighting!r}")
        if neighbours < 1:
            raise ValueError("neighbours must be >= 1")
        self.weighting = weighting
        self.neighbours = int(neighbours)
        self.shrink = float(shrink)
        self.length_norm = float(length_norm)
        self.alpha = float(alpha)
        self.k1 = float(k1)
        self.b = float(b)
        self.block = int(block)
        self.max_block_nnz = int(max_block_nnz)

    def fit_sequences(
        self, sequences: Iterable[Sequence[int]], weights: Iterable[Sequence[float]] | None = None
    ) -> Self:
        binary, values, item_ids = self._interactions(sequences, weights)
        self.fit_matrix(binary, values, item_ids)
        return self

    def _weighted(self, binary: sp.csr_matrix, values: sp.csr_matrix) -> sp.csr_matrix:
        """Rows × items matrix whose column dot products are the raw similarities."""
        lengths = np.asarray(binary.sum(axis=1)).ravel()
        if self.weighting == "bm25":
            # implicit's bm25_weight on the item × row matrix: idf over rows, length normalisation per item.
            n_items = binary.shape[1]
            idf = np.log(n_items) - np.log1p(lengths)
            item_len = np.asarray(binary.sum(axis=0)).ravel()
            coo = values.tocoo()
            norm = (1.0 - self.b) + self.b * item_len / max(item_len.mean(), 1e-9)
            data = coo.data * (self.k1 + 1.0) / (self.k1 * norm[coo.col] + coo.data) * idf[coo.row]
            return sp.csr_matrix((data.astype(np.float32), (coo.row, coo.col)), shape=values.shape)
        row_w = 1.0 / np.power(np.maximum(lengths, 1.0), self.length_norm / 2.0)
        return sp.diags(row_w.astype(np.float32)) @ values

    def fit_matrix(self, binary: sp.csr_matrix, values: sp.csr_matrix, item_ids: np.ndarray) -> Self:
        """Fit from a rows × items matrix (binary membership and graded values of the same pattern)."""
        w = self._weighted(binary, values).tocsr()
        w.eliminate_zeros()
        wt = w.T.tocsr()
        norms = np.sqrt(np.asarray(w.multiply(w).sum(axis=0)).ravel())

        def block_scores(start: int, stop: int) -> sp.csr_matrix:
            s = (wt[start:stop] @ w).tocsr()
            if self.weighting == "cosine":
                s = _cosine(s, norms[start:stop], norms, self.alpha, self.shrink)
            return s

        sim, cooc = build_table(
            binary, block_scores, self.neighbours, block=self.block, max_block_nnz=self.max_block_nnz
        )
        self._set_table(sim, cooc, item_ids)
        return self


def _cosine(
    s: sp.csr_matrix, row_norms: np.ndarray, col_norms: np.ndarray, alpha: float, shrink: float
) -> sp.csr_matrix:
    """Asymmetric cosine: dot / (|i|^(2α) |j|^(2(1-α)) + shrink); α = 0.5 is the plain cosine."""
    counts = np.diff(s.indptr)
    r = np.repeat(np.arange(s.shape[0]), counts)
    denom = np.power(row_norms[r], 2 * alpha) * np.power(col_norms[s.indices], 2 * (1 - alpha)) + shrink
    out = s.copy()
    out.data = (s.data / np.maximum(denom, 1e-12)).astype(np.float32)
    return out

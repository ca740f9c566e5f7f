"""A fitted item→item neighbour table (top-N similar items per item, with co-occurrence counts) and its queries.

Item-kNN and the Surprise KNNBaseline model both end as this table: similarities in a CSR matrix with each row
sorted best first, and, at the same positions, how many playlists (or listeners) hold both items — the evidence a
reply quotes ("appears with it in 37 playlists"). Queries are a row slice (one seed) or a sparse row sum (many).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from pathlib import Path
from typing import ClassVar, Self

import numpy as np
import scipy.sparse as sp

from recommenders.base import NotInModel, Recommendation
from recommenders.cf.common import CFRecommender, plural, top_k_dense


class NeighbourRecommender(CFRecommender):
    """Base of models whose fitted state is a neighbour table; subclasses implement `fit_sequences`."""

    name: ClassVar[str] = "neighbours"

    def __init__(self) -> None:
        self._sim: sp.csr_matrix | None = None
        self._cooc: sp.csr_matrix | None = None
        self._items: np.ndarray = np.zeros(0, dtype=np.int64)
        self._index: dict[int, int] = {}

    # --- fitted state -----------------------------------------------------------------------------------------
    def _set_table(self, sim: sp.csr_matrix, cooc: sp.csr_matrix, item_ids: np.ndarray) -> None:
        sim = sp.csr_matrix(sim, dtype=np.float32)
        cooc = sp.csr_matrix(cooc, dtype=np.int32)
        sim.sort_indices()
        cooc.sort_indices()
        if sim.nnz != cooc.nnz or not np.array_equal(sim.indices, cooc.indices):
            raise ValueError("similarity and co-occurrence tables must have the same entries")
        self._sim, self._cooc = sim, cooc
        self._items = np.asarray(item_ids, dtype=np.int64)
        self._index = {int(t): i for i, t in enumerate(self._items)}

    @property
    def item_ids(self) -> np.ndarray:
        return self._items

    def __contains__(self, track_id: object) -> bool:
        return isinstance(track_id, int | np.integer) and int(track_id) in self._index

    def _require(self) -> tuple[sp.csr_matrix, sp.csr_matrix]:
        if self._sim is None or self._cooc is None:
            raise RuntimeError(f"the {self.name} model is not fitted")
        return self._sim, self._cooc

    def neighbour_count(self) -> int:
        return 0 if self._sim is None else int(self._sim.nnz)

    # --- queries ----------------------------------------------------------------------------------------------
    def _reason(self, count: int) -> str:
        return f"appears with it in {plural(count, self.unit)}"

    def similar(self, track_id: int, k: int = 10, *, exclude: Collection[int] = ()) -> list[Recommendation]:
        sim, cooc = self._require()
        i = self._index.get(int(track_id))
        if i is None:
            raise NotInModel(int(track_id), self.name)
        start, end = sim.indptr[i], sim.indptr[i + 1]
        banned = set(exclude)
        out: list[Recommendation] = []
        cols, vals, counts = sim.indices[start:end], sim.data[start:end], cooc.data[start:end]
        order = np.lexsort((cols, -vals))  # rows are stored in column order: rank by score, ties by column
        for j, s, c in zip(cols[order], vals[order], counts[order], strict=True):
            tid = int(self._items[j])
            if tid in banned or tid == int(track_id):
                continue
            out.append(Recommendation(tid, float(s), self._reason(int(c))))
            if len(out) >= k:
                break
        return out

    def similar_to_many(
        self,
        seeds: Sequence[int],
        k: int = 10,
        *,
        weights: Sequence[float] | None = None,
        exclude: Collection[int] = (),
    ) -> list[Recommendation]:
        """Sum of the seeds' neighbour rows (weighted), best first; unknown seeds are skipped."""
        sim, cooc = self._require()
        weights = list(weights) if weights is not None else [1.0] * len(seeds)
        known = [(self._index[int(s)], w) for s, w in zip(seeds, weights, strict=True) if int(s) in self._index]
        if not known:
            raise NotInModel(int(seeds[0]) if len(seeds) else -1, self.name)
        rows = np.asarray([i for i, _ in known])
        w = np.asarray([w for _, w in known], dtype=np.float32)
        if self.unit == "listeners":  # play counts span 1..100k: a log keeps one obsession from drowning the rest
            w = np.log1p(np.maximum(w, 0.0))
        scores = np.asarray(sp.csr_matrix(w).dot(sim[rows]).todense()).ravel()
        hits = np.asarray((cooc[rows] > 0).sum(axis=0)).ravel()
        evidence = np.asarray(cooc[rows].sum(axis=0)).ravel()
        banned = {self._index[int(t)] for t in set(exclude) | {int(s) for s in seeds} if int(t) in self._index}
        if banned:
            scores[list(banned)] = -np.inf
        order = top_k_dense(scores, k)
        out = []
        for j in order:
            if not np.isfinite(scores[j]) or scores[j] <= 0:
                break
            n_seeds, n_units = int(hits[j]), int(evidence[j])
            if len(known) == 1:
                reason = self._reason(n_units)
            else:
                reason = f"appears with {n_seeds} of your tracks in {plural(n_units, self.unit)}"
            out.append(Recommendation(int(self._items[j]), float(scores[j]), reason))
        return out

    # --- persistence ------------------------------------------------------------------------------------------
    def save(self, path: Path) -> None:
        sim, cooc = self._require()
        path = Path(path)
        sp.save_npz(path / "similarity.npz", sim, compressed=False)
        sp.save_npz(path / "cooccurrence.npz", cooc, compressed=False)
        np.save(path / "items.npy", self._items)
        self._write_marker(path, {"n_items": len(self._items), "n_neighbours": int(sim.nnz)})

    @classmethod
    def load(cls, path: Path) -> Self:
        path = Path(path)
        marker = cls.read_marker(path)
        if marker["class"] != cls.name:
            raise ValueError(f"{path} holds a {marker['class']} model, not {cls.name}")
        model = cls(**marker["params"])
        model.unit = marker.get("unit", model.unit)
        model._set_table(
            sp.load_npz(path / "similarity.npz"),
            sp.load_npz(path / "cooccurrence.npz"),
            np.load(path / "items.npy"),
        )
        return model

"""Implicit-feedback matrix factorisation (ALS, the `implicit` library) with an optional ANN index for `similar`.

Scales to 1M playlists × 2M tracks on one machine: training cost is linear in the interactions (× factors²), the
model is two factor matrices, and `similar` is a cosine search over the item factors — exact (one matrix-vector
product) or approximate with a usearch HNSW index when the catalogue is large (bench/cf_scaling.py measures both
and the ANN's recall against exact). Playlist continuation solves the ALS user equation for the seeds directly
(the same linear system implicit uses for `recalculate_user`), so a new playlist needs no retraining.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import scipy.sparse as sp

from recommenders.base import NotInModel, Recommendation
from recommenders.cf.common import CFRecommender, interaction_matrix, top_k_dense


class ALSRecommender(CFRecommender):
    """Alternating least squares on (BM25-weighted) playlist × track confidences."""

    name: ClassVar[str] = "als"

    def __init__(
        self,
        factors: int = 128,
        regularization: float = 0.05,
        alpha: float = 10.0,
        iterations: int = 15,
        bm25: bool = False,
        use_ann: bool = False,
        seed: int = 42,
        threads: int = 0,
    ) -> None:
        self.factors = int(factors)
        self.regularization = float(regularization)
        self.alpha = float(alpha)
        self.iterations = int(iterations)
        self.bm25 = bool(bm25)
        self.use_ann = bool(use_ann)
        self.seed = int(seed)
        self.threads = int(threads)
        self._items = np.zeros(0, dtype=np.int64)
        self._factors = np.zeros((0, self.factors), dtype=np.float32)
        self._unit = np.zeros((0, self.factors), dtype=np.float32)
        self._index: dict[int, int] = {}
        self._ann = None

    def params(self) -> dict[str, Any]:
        return {
            "factors": self.factors,
            "regularization": self.regularization,
            "alpha": self.alpha,
            "iterations": self.iterations,
            "bm25": self.bm25,
            "use_ann": self.use_ann,
            "seed": self.seed,
            "threads": self.threads,
        }

    @property
    def item_ids(self) -> np.ndarray:
        return self._items

    @property
    def item_factors(self) -> np.ndarray:
        return self._factors

    def __contains__(self, track_id: object) -> bool:
        return isinstance(track_id, int | np.integer) and int(track_id) in self._index

    # --- training ---------------------------------------------------------------------------------------------
    def fit_sequences(
        self, sequences: Iterable[Sequence[int]], weights: Iterable[Sequence[float]] | None = None
    ) -> Self:
        binary, graded, item_ids = interaction_matrix(sequences, weights)
        if weights is not None:
            self.unit = "listeners"
            graded.data = np.log1p(graded.data)
            return self.fit_matrix(graded, item_ids)
        return self.fit_matrix(binary, item_ids)

    def fit_matrix(self, user_items: sp.csr_matrix, item_ids: np.ndarray) -> Self:
        """Fit on a rows × items matrix of implicit feedback."""
        from implicit.cpu.als import AlternatingLeastSquares
        from implicit.nearest_neighbours import bm25_weight
        from threadpoolctl import threadpool_limits

        m = sp.csr_matrix(user_items, dtype=np.float32)
        if self.bm25:
            m = sp.csr_matrix(bm25_weight(m, K1=100, B=0.8), dtype=np.float32)
        # implicit warns (and is slower) when BLAS runs its own threads inside its parallel loops
        with threadpool_limits(1, "blas"):
            model = AlternatingLeastSquares(
                factors=self.factors,
                regularization=self.regularization,
                alpha=self.alpha,
                iterations=self.iterations,
                random_state=self.seed,
                num_threads=self.threads,
            )
            model.fit(m, show_progress=False)
        self._set_factors(np.asarray(model.item_factors, dtype=np.float32), item_ids)
        return self

    def _set_factors(self, factors: np.ndarray, item_ids: np.ndarray) -> None:
        self._factors = factors
        self._unit = factors / np.maximum(np.linalg.norm(factors, axis=1, keepdims=True), 1e-12)
        self._items = np.asarray(item_ids, dtype=np.int64)
        self._index = {int(t): i for i, t in enumerate(self._items)}
        self._ann = self.build_ann() if self.use_ann else None

    def build_ann(self, connectivity: int = 16, expansion_search: int = 128):
        """A usearch HNSW index (cosine) over the item factors; keys are row numbers."""
        from usearch.index import Index

        index = Index(
            ndim=self.factors, metric="cos", dtype="f32", connectivity=connectivity, expansion_search=expansion_search
        )
        if len(self._unit):
            index.add(np.arange(len(self._unit), dtype=np.uint64), self._unit, threads=max(self.threads, 1))
        return index

    # --- queries ----------------------------------------------------------------------------------------------
    def _recs(self, rows: np.ndarray, scores: np.ndarray, reason: str) -> list[Recommendation]:
        return [
            Recommendation(int(self._items[j]), float(s), f"{reason} (score {s:.2f})")
            for j, s in zip(rows, scores, strict=True)
        ]

    def similar_exact(self, track_id: int, k: int = 10, *, exclude: Collection[int] = ()) -> list[Recommendation]:
        i = self._index.get(int(track_id))
        if i is None:
            raise NotInModel(int(track_id), self.name)
        scores = self._unit @ self._unit[i]
        banned = [self._index[t] for t in {*exclude, int(track_id)} if t in self._index]
        scores[banned] = -np.inf
        top = top_k_dense(scores, k)
        top = top[np.isfinite(scores[top])]
        return self._recs(top, scores[top], "liked by the same playlists")

    def similar(self, track_id: int, k: int = 10, *, exclude: Collection[int] = ()) -> list[Recommendation]:
        if self._ann is None:
            return self.similar_exact(track_id, k, exclude=exclude)
        i = self._index.get(int(track_id))
        if i is None:
            raise NotInModel(int(track_id), self.name)
        banned = {self._index[t] for t in {*exclude, int(track_id)} if t in self._index}
        matches = self._ann.search(self._unit[i], k + len(banned))
        rows = [(int(key), 1.0 - float(d)) for key, d in zip(matches.keys, matches.distances, strict=True)]
        rows = [(j, s) for j, s in rows if j not in banned][:k]
        return self._recs(
            np.asarray([j for j, _ in rows], dtype=np.int64),
            np.asarray([s for _, s in rows]),
            "liked by the same playlists",
        )

    def user_vector(self, seeds: Sequence[int], weights: Sequence[float] | None = None) -> np.ndarray:
        """The ALS user factor of a new row holding `seeds` (implicit's user equation, solved exactly)."""
        weights = list(weights) if weights is not None else [1.0] * len(seeds)
        known = [(self._index[int(s)], w) for s, w in zip(seeds, weights, strict=True) if int(s) in self._index]
        if not known:
            raise NotInModel(int(seeds[0]) if len(seeds) else -1, self.name)
        rows = np.asarray([i for i, _ in known])
        w = np.asarray([w for _, w in known], dtype=np.float64)
        if self.unit == "listeners":
            w = np.log1p(np.maximum(w, 0.0))
        y = self._factors[rows].astype(np.float64)
        conf = self.alpha * w
        if not hasattr(self, "_yty") or self._yty.shape[0] != self.factors:
            self._yty = self._factors.T.astype(np.float64) @ self._factors.astype(np.float64)
        a = self._yty + self.regularization * np.eye(self.factors) + (y * (conf - 1.0)[:, None]).T @ y
        b = (y * conf[:, None]).sum(axis=0)
        return np.linalg.solve(a, b).astype(np.float32)

    def similar_to_many(
        self,
        seeds: Sequence[int],
        k: int = 10,
        *,
        weights: Sequence[float] | None = None,
        exclude: Collection[int] = (),
    ) -> list[Recommendation]:
        scores = self._factors @ self.user_vector(seeds, weights)
        banned = [self._index[int(t)] for t in {*exclude, *map(int, seeds)} if int(t) in self._index]
        scores[banned] = -np.inf
        top = top_k_dense(scores, k)
        top = top[np.isfinite(scores[top])]
        return self._recs(top, scores[top], "fits the taste of your songs")

    # --- persistence ------------------------------------------------------------------------------------------
    def save(self, path: Path) -> None:
        if not len(self._items):
            raise RuntimeError("the als model is not fitted")
        np.save(Path(path) / "items.npy", self._items)
        np.save(Path(path) / "item_factors.npy", self._factors)
        if self._ann is not None:
            self._ann.save(str(Path(path) / "items.usearch"))
        self._write_marker(path, {"n_items": len(self._items)})

    @classmethod
    def load(cls, path: Path) -> Self:
        marker = cls.read_marker(path)
        model = cls(**{**marker["params"], "use_ann": False})
        model.unit = marker.get("unit", model.unit)
        model._set_factors(np.load(Path(path) / "item_factors.npy"), np.load(Path(path) / "items.npy"))
        model.use_ann = bool(marker["params"].get("use_ann"))
        ann_file = Path(path) / "items.usearch"
        if model.use_ann:
            if ann_file.exists():
                from usearch.index import Index

                model._ann = Index.restore(str(ann_file))
            else:
                model._ann = model.build_ann()
        return model

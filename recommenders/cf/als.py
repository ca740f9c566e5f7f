"""Implicit-feedback matrix factorisation (ALS, the `implicit` library) with an optional ANN index for `similar`.

Scales to 1M playlists × 2M tracks on one machine: training cost is linear in the interactions (× factors²), the
model is two factor matrices, and `similar` is a cosine search over the item factors — exact (one matrix-vector
product) or approximate with a usearch HNSW index when the catalogue is large (bench/cf_scaling.py measures both
and the ANN's recall against exact). Playlist continuation solves the ALS user equation for the seeds directly
(the same linear system implicit uses for `recalculate_user`), so a new playlist needs no retraining.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any, ClassVar, Self

import numpy as np
import scipy.sparse as sp

from recommenders.base import NotInModel, Recommendation
from recommenders.cf.common import CFRecommender, State


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
        super().__init__()
        self.factors = int(factors)
        self.regularization = float(regularization)
        self.alpha = float(alpha)
        self.iterations = int(iterations)
        self.bm25 = bool(bm25)
        self.use_ann = bool(use_ann)
        self.seed = int(seed)
        self.threads = int(threads)
        self._factors = np.zeros((0, self.factors), dtype=np.float32)
        self._unit = np.zeros((0, self.factors), dtype=np.float32)
        self._yty: np.ndarray | None = None
        self._ann: Any = None

    @property
    def item_factors(self) -> np.ndarray:
        return self._factors

    # --- training ---------------------------------------------------------------------------------------------
    def fit_sequences(
        self, sequences: Iterable[Sequence[int]], weights: Iterable[Sequence[float]] | None = None
    ) -> Self:
        _binary, values, item_ids = self._interactions(sequences, weights)
        return self.fit_matrix(values, item_ids)

    def fit_matrix(self, user_items: sp.csr_matrix, item_ids: np.ndarray) -> Self:
        """Fit on a rows × items matrix of implicit feedback."""
        # lazy: implicit (0.7 s to import) is needed only to fit, never to load or serve a saved model
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
        self._set_items(item_ids)
        self._restore({"item_factors": np.asarray(model.item_factors, dtype=np.float32)})
        return self

    def _state(self) -> State:
        return {"item_factors": self._factors}

    def _restore(self, state: Mapping[str, Any]) -> None:
        factors = np.asarray(state["item_factors"], dtype=np.float32)
        self._factors = factors
        self._unit = factors / np.maximum(np.linalg.norm(factors, axis=1, keepdims=True), 1e-12)
        self._yty = None
        self._ann = self.build_ann() if self.use_ann else None

    def build_ann(self, connectivity: int = 16, expansion_search: int = 128) -> Any:
        """A usearch HNSW index (cosine) over the item factors; keys are row numbers (built, not saved)."""
        from usearch.index import Index  # lazy: only the optional ANN index (use_ann) needs usearch

        index = Index(
            ndim=self.factors, metric="cos", dtype="f32", connectivity=connectivity, expansion_search=expansion_search
        )
        if len(self._unit):
            index.add(np.arange(len(self._unit), dtype=np.uint64), self._unit, threads=1)
        return index

    # --- queries ----------------------------------------------------------------------------------------------
    def scores(self, rows: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """One seed: cosine of the item factors; several: the seeds' solved user vector against every item."""
        if len(rows) == 1:
            return self._unit @ self._unit[rows[0]]
        return self._factors @ self.user_vector_rows(rows, weights)

    def reasons(self, rows: np.ndarray, weights: np.ndarray, picks: np.ndarray, scores: np.ndarray) -> list[str]:
        text = "liked by the same playlists" if len(rows) == 1 else "fits the taste of your songs"
        return [f"{text} (score {s:.2f})" for s in scores]

    def similar_exact(self, track_id: int, k: int = 10, *, exclude: Collection[int] = ()) -> list[Recommendation]:
        """The exact cosine search (what `similar` does without an ANN index)."""
        return CFRecommender.similar(self, track_id, k, exclude=exclude)

    def similar(self, track_id: int, k: int = 10, *, exclude: Collection[int] = ()) -> list[Recommendation]:
        if self._ann is None:
            return self.similar_exact(track_id, k, exclude=exclude)
        i = self._index.get(int(track_id))
        if i is None:
            raise NotInModel(int(track_id), self.name)
        banned = {self._index[t] for t in {*exclude, int(track_id)} if t in self._index}
        matches = self._ann.search(self._unit[i], k + len(banned))
        found = [(int(key), 1.0 - float(d)) for key, d in zip(matches.keys, matches.distances, strict=True)]
        found = [(j, s) for j, s in found if j not in banned][:k]
        scores = np.full(len(self._items), -np.inf)
        for j, s in found:
            scores[j] = s
        return self._top(np.asarray([i]), np.ones(1, dtype=np.float32), scores, k, ())

    def user_vector(self, seeds: Sequence[int], weights: Sequence[float] | None = None) -> np.ndarray:
        """The ALS user factor of a new row holding `seeds` (implicit's user equation, solved exactly)."""
        return self.user_vector_rows(*self._seed_rows(seeds, weights))

    def user_vector_rows(self, rows: np.ndarray, weights: np.ndarray) -> np.ndarray:
        y = self._factors[rows].astype(np.float64)
        conf = self.alpha * weights.astype(np.float64)
        if self._yty is None:
            self._yty = self._factors.T.astype(np.float64) @ self._factors.astype(np.float64)
        a = self._yty + self.regularization * np.eye(self.factors) + (y * (conf - 1.0)[:, None]).T @ y
        b = (y * conf[:, None]).sum(axis=0)
        return np.linalg.solve(a, b).astype(np.float32)

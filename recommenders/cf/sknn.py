"""Session-based kNN (SKNN; Ludewig & Jannach 2018, "Evaluation of session-based recommendation algorithms").

For the seeds (a session, or one song), find the `neighbours` training playlists most similar to them — cosine of
binary vectors, |s ∩ p| / sqrt(|s|·|p|) — and score each song by the summed similarity of the neighbours that hold
it. With one seed the neighbours are the playlists holding it, shorter ones weighing more: a song that follows
the seed in many tight playlists ranks first. The fitted state is the playlist × song matrix itself.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar, Self

import numpy as np
import scipy.sparse as sp

from recommenders.cf.common import CFRecommender, State, plural, top_k_dense

#: Neighbour searches a model remembers (see `SessionKNN._nearest`).
RECENT_QUERIES = 16


class SessionKNN(CFRecommender):
    """Score songs by the similarity-weighted votes of the nearest training playlists."""

    name: ClassVar[str] = "sknn"
    positive_only: ClassVar[bool] = True

    def __init__(self, neighbours: int = 100) -> None:
        super().__init__()
        if neighbours < 1:
            raise ValueError("neighbours must be >= 1")
        self.neighbours = int(neighbours)
        self._x = sp.csr_matrix((0, 0), dtype=np.float32)
        self._xt = sp.csr_matrix((0, 0), dtype=np.float32)
        self._lengths = np.zeros(0)
        self._recent: dict[tuple[bytes, bytes], tuple[np.ndarray, np.ndarray]] = {}
        self._recent_lock = threading.Lock()

    def fit_sequences(
        self, sequences: Iterable[Sequence[int]], weights: Iterable[Sequence[float]] | None = None
    ) -> Self:
        binary, _values, item_ids = self._interactions(sequences, weights)
        self._set_items(item_ids)
        self._restore({"playlists": binary})
        return self

    def _nearest(self, rows: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(playlist rows, similarities) of the nearest training playlists to the seeds.

        A query asks twice (its scores, then the reasons of its picks); the last few answers are kept, because a
        popular seed is held by a third of a million playlists at the MPD's size and the search is most of it."""
        key = (rows.tobytes(), weights.tobytes())
        with self._recent_lock:
            hit = self._recent.get(key)
        if hit is not None:
            return hit
        if len(rows) == 1:  # one seed: the playlists holding it, overlap = its weight
            lo, hi = self._xt.indptr[rows[0]], self._xt.indptr[rows[0] + 1]
            cand = np.asarray(self._xt.indices[lo:hi])
            w = float(weights[0])
            sims = np.full(len(cand), w) / np.sqrt(self._lengths[cand] * max(w, 1e-12))
        else:
            overlap = sp.csr_matrix(weights[None, :]) @ self._xt[rows]
            cand = overlap.indices
            sims = overlap.data / np.sqrt(self._lengths[cand] * max(float(weights.sum()), 1e-12))
        top = top_k_dense(sims, self.neighbours)
        found = (cand[top], sims[top])
        with self._recent_lock:
            self._recent[key] = found
            while len(self._recent) > RECENT_QUERIES:
                self._recent.pop(next(iter(self._recent)))
        return found

    def scores(self, rows: np.ndarray, weights: np.ndarray) -> sp.csr_matrix:
        near, sims = self._nearest(rows, weights)
        return sp.csr_matrix(sims[None, :].astype(np.float32)) @ self._x[near]

    def reasons(self, rows: np.ndarray, weights: np.ndarray, picks: np.ndarray, scores: np.ndarray) -> list[str]:
        near, _ = self._nearest(rows, weights)
        votes = np.asarray(self._x[near][:, picks].sum(axis=0)).ravel()
        if len(rows) > 1:
            return [f"in {plural(int(v), self.unit)} like yours" for v in votes]
        held_by = int(self._xt.indptr[rows[0] + 1] - self._xt.indptr[rows[0]])
        if held_by <= len(near):  # every playlist holding the seed is a neighbour
            return [f"appears with it in {plural(int(v), self.unit)}" for v in votes]
        return [f"appears with it in {int(v)} of its {len(near)} closest {self.unit}" for v in votes]

    def _state(self) -> State:
        # the song × playlist transpose is saved too: at a million playlists building it is seconds of cold start
        return {"playlists": self._x, "by_song": self._xt}

    def _restore(self, state: Mapping[str, Any]) -> None:
        with self._recent_lock:
            self._recent.clear()
        self._x = sp.csr_matrix(state["playlists"], dtype=np.float32)
        by_song = state.get("by_song")
        self._xt = sp.csr_matrix(by_song, dtype=np.float32) if by_song is not None else self._x.T.tocsr()
        self._lengths = np.maximum(np.diff(self._x.indptr).astype(np.float64), 1.0)

"""Baselines every model must beat in the evaluation table: most popular items, and random items."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar, Self

import numpy as np

from recommenders.cf.common import CFRecommender, State, plural


class PopularityRecommender(CFRecommender):
    """The most frequent items, whatever the seed."""

    name: ClassVar[str] = "popularity"

    def __init__(self) -> None:
        super().__init__()
        self._counts = np.zeros(0, dtype=np.int64)

    def fit_sequences(
        self, sequences: Iterable[Sequence[int]], weights: Iterable[Sequence[float]] | None = None
    ) -> Self:
        binary, _values, item_ids = self._interactions(sequences, weights)
        self._set_items(item_ids)
        self._counts = np.asarray(binary.sum(axis=0)).ravel().astype(np.int64)
        return self

    @property
    def counts(self) -> np.ndarray:
        """How many rows (playlists / listeners) hold each item, in `item_ids` order."""
        return self._counts

    def scores(self, rows: np.ndarray, weights: np.ndarray) -> np.ndarray:
        return self._counts.astype(np.float64)

    def reasons(self, rows: np.ndarray, weights: np.ndarray, picks: np.ndarray, scores: np.ndarray) -> list[str]:
        return [f"popular: in {plural(int(self._counts[j]), self.unit)}" for j in picks]

    def _state(self) -> State:
        return {"counts": self._counts}

    def _restore(self, state: Mapping[str, Any]) -> None:
        self._counts = np.asarray(state["counts"], dtype=np.int64)


class RandomRecommender(PopularityRecommender):
    """Uniformly random items (seeded by the seeds, so a query gives the same answer twice)."""

    name: ClassVar[str] = "random"

    def __init__(self, seed: int = 42) -> None:
        super().__init__()
        self.seed = int(seed)

    def scores(self, rows: np.ndarray, weights: np.ndarray) -> np.ndarray:
        seeds = [int(self._items[r]) % (2**32) for r in rows[:16]]
        return np.random.default_rng([self.seed, *seeds]).random(len(self._items))

    def reasons(self, rows: np.ndarray, weights: np.ndarray, picks: np.ndarray, scores: np.ndarray) -> list[str]:
        return ["random pick"] * len(picks)

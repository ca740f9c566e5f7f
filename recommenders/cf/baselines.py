"""Baselines every model must beat in the evaluation table: most popular items, and random items."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np

from recommenders.base import NotInModel, Recommendation
from recommenders.cf.common import CFRecommender, interaction_matrix, plural


class _ItemListModel(CFRecommender):
    def __init__(self) -> None:
        self._items = np.zeros(0, dtype=np.int64)
        self._counts = np.zeros(0, dtype=np.int64)
        self._known: set[int] = set()

    @property
    def item_ids(self) -> np.ndarray:
        return self._items

    def __contains__(self, track_id: object) -> bool:
        return isinstance(track_id, int | np.integer) and int(track_id) in self._known

    def fit_sequences(
        self, sequences: Iterable[Sequence[int]], weights: Iterable[Sequence[float]] | None = None
    ) -> Self:
        binary, _graded, item_ids = interaction_matrix(sequences, weights)
        counts = np.asarray(binary.sum(axis=0)).ravel().astype(np.int64)
        order = np.lexsort((item_ids, -counts))
        self._items, self._counts = item_ids[order], counts[order]
        self._known = {int(t) for t in self._items}
        if weights is not None:
            self.unit = "listeners"
        return self

    def _ranked(self, seeds: Sequence[int]) -> np.ndarray:
        raise NotImplementedError

    def similar(self, track_id: int, k: int = 10, *, exclude: Collection[int] = ()) -> list[Recommendation]:
        if track_id not in self:
            raise NotInModel(int(track_id), self.name)
        return self.similar_to_many([track_id], k, exclude=exclude)

    def similar_to_many(
        self,
        seeds: Sequence[int],
        k: int = 10,
        *,
        weights: Sequence[float] | None = None,
        exclude: Collection[int] = (),
    ) -> list[Recommendation]:
        banned = set(exclude) | {int(s) for s in seeds}
        out = []
        for pos in self._ranked(seeds):
            tid = int(self._items[pos])
            if tid in banned:
                continue
            out.append(self._pick(pos, len(out)))
            if len(out) >= k:
                break
        return out

    def _pick(self, pos: int, rank: int) -> Recommendation:
        raise NotImplementedError

    def save(self, path: Path) -> None:
        np.save(Path(path) / "items.npy", self._items)
        np.save(Path(path) / "counts.npy", self._counts)
        self._write_marker(path)

    @classmethod
    def load(cls, path: Path) -> Self:
        marker = cls.read_marker(path)
        model = cls(**marker["params"])
        model.unit = marker.get("unit", model.unit)
        model._items = np.load(Path(path) / "items.npy")
        model._counts = np.load(Path(path) / "counts.npy")
        model._known = {int(t) for t in model._items}
        return model


class PopularityRecommender(_ItemListModel):
    """The most frequent items, whatever the seed."""

    name: ClassVar[str] = "popularity"

    def params(self) -> dict[str, Any]:
        return {}

    def _ranked(self, seeds: Sequence[int]) -> np.ndarray:
        return np.arange(len(self._items))

    def _pick(self, pos: int, rank: int) -> Recommendation:
        n = int(self._counts[pos])
        return Recommendation(int(self._items[pos]), float(n), f"popular: in {plural(n, self.unit)}")


class RandomRecommender(_ItemListModel):
    """Uniformly random items (seeded by the seeds, so a query gives the same answer twice)."""

    name: ClassVar[str] = "random"

    def __init__(self, seed: int = 42) -> None:
        super().__init__()
        self.seed = int(seed)

    def params(self) -> dict[str, Any]:
        return {"seed": self.seed}

    def _ranked(self, seeds: Sequence[int]) -> np.ndarray:
        rng = np.random.default_rng([self.seed, *(int(s) % (2**32) for s in seeds[:16])])
        return rng.permutation(len(self._items))

    def _pick(self, pos: int, rank: int) -> Recommendation:
        return Recommendation(int(self._items[pos]), 1.0 / (rank + 1), "random pick")

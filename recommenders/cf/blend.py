"""A blend of CF models, and a re-ranking wrapper for variety.

`Blend` fuses the ranked lists of its parts (each fitted on the same data): each part's scores divided by its
best score (the default: it won on held-out Yes.com), or reciprocal-rank fusion (ignores the score scales).
Each pick keeps the reason of the part that ranked it highest, so the reply still says *why*
("appears with it in 37 playlists" or "close in playlist embedding").

`Reranked` wraps any recommender with `recommenders.cf.rerank.rerank` (artist cap, MMR, no seed artist); it is a
query-time option, so it is not saved, and the evaluation reports its cost in accuracy next to its gain in variety.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np

from recommenders.base import NotInModel, Recommendation, Recommender
from recommenders.cf.common import CFRecommender
from recommenders.cf.rerank import rerank

FUSIONS = ("rrf", "score")
DEFAULT_PARTS: tuple[dict[str, Any], ...] = (
    {"class": "itemknn", "params": {}, "weight": 1.0},
    {"class": "als", "params": {}, "weight": 1.0},
)


class Blend(CFRecommender):
    """Weighted fusion of several CF models' lists."""

    name: ClassVar[str] = "blend"

    def __init__(self, parts: Sequence[Mapping[str, Any]] = DEFAULT_PARTS, fusion: str = "score", rrf_k: int = 30):
        from recommenders.cf.registry import model_classes

        if fusion not in FUSIONS:
            raise ValueError(f"fusion must be one of {FUSIONS}")
        if not parts:
            raise ValueError("a blend needs at least one part")
        classes = model_classes()
        self.parts = [
            {"class": p["class"], "params": dict(p.get("params", {})), "weight": float(p.get("weight", 1.0))}
            for p in parts
        ]
        for p in self.parts:
            if p["class"] not in classes or p["class"] == self.name:
                raise ValueError(f"unknown blend part {p['class']!r}")
        self.fusion = fusion
        self.rrf_k = int(rrf_k)
        self.models: list[CFRecommender] = [classes[p["class"]](**p["params"]) for p in self.parts]

    def params(self) -> dict[str, Any]:
        return {"parts": self.parts, "fusion": self.fusion, "rrf_k": self.rrf_k}

    @property
    def item_ids(self) -> np.ndarray:
        return np.unique(np.concatenate([m.item_ids for m in self.models]))

    def __contains__(self, track_id: object) -> bool:
        return any(track_id in m for m in self.models)

    def fit_sequences(
        self, sequences: Iterable[Sequence[int]], weights: Iterable[Sequence[float]] | None = None
    ) -> Self:
        if weights is not None:
            self.unit = "listeners"
        for m in self.models:
            m.fit_sequences(sequences, weights)
        return self

    def _fuse(self, lists: list[tuple[float, list[Recommendation]]], k: int) -> list[Recommendation]:
        total: dict[int, float] = defaultdict(float)
        best: dict[int, tuple[float, str]] = {}
        for weight, recs in lists:
            top = max((r.score for r in recs), default=0.0)
            for rank, r in enumerate(recs):
                if self.fusion == "rrf":
                    contrib = weight / (self.rrf_k + rank + 1)
                else:
                    contrib = weight * (r.score / top if top > 0 else 0.0)
                total[r.track_id] += contrib
                if r.track_id not in best or contrib > best[r.track_id][0]:
                    best[r.track_id] = (contrib, r.reason)
        ranked = sorted(total.items(), key=lambda kv: (-kv[1], kv[0]))[:k]
        return [Recommendation(t, s, best[t][1]) for t, s in ranked]

    def similar(self, track_id: int, k: int = 10, *, exclude: Collection[int] = ()) -> list[Recommendation]:
        lists = []
        for p, m in zip(self.parts, self.models, strict=True):
            if track_id in m:
                lists.append((p["weight"], m.similar(track_id, max(2 * k, 50), exclude=exclude)))
        if not lists:
            raise NotInModel(int(track_id), self.name)
        return self._fuse(lists, k)

    def similar_to_many(
        self,
        seeds: Sequence[int],
        k: int = 10,
        *,
        weights: Sequence[float] | None = None,
        exclude: Collection[int] = (),
    ) -> list[Recommendation]:
        lists = []
        for p, m in zip(self.parts, self.models, strict=True):
            try:
                lists.append((p["weight"], m.similar_to_many(seeds, max(2 * k, 50), weights=weights, exclude=exclude)))
            except NotInModel:
                continue
        if not lists:
            raise NotInModel(int(seeds[0]) if len(seeds) else -1, self.name)
        return self._fuse(lists, k)

    def save(self, path: Path) -> None:
        for i, m in enumerate(self.models):
            sub = Path(path) / f"part{i}"
            sub.mkdir()
            m.save(sub)
        self._write_marker(path)

    @classmethod
    def load(cls, path: Path) -> Self:
        from recommenders.cf.registry import model_classes

        marker = cls.read_marker(path)
        blend = cls(**marker["params"])
        blend.unit = marker.get("unit", blend.unit)
        classes = model_classes()
        blend.models = [classes[p["class"]].load(Path(path) / f"part{i}") for i, p in enumerate(blend.parts)]
        return blend


class Reranked(Recommender):
    """Query-time re-ranking of another recommender's lists (artist cap / MMR / no seed artist)."""

    name: ClassVar[str] = "reranked"

    def __init__(
        self,
        inner: Recommender,
        track_artists: Mapping[int, tuple[int, ...]],
        *,
        max_per_artist: int = 0,
        mmr_lambda: float | None = None,
        exclude_seed_artist: bool = False,
        fan_out: int = 3,
    ) -> None:
        self.inner = inner
        self.track_artists = track_artists
        self.options = {
            "max_per_artist": max_per_artist,
            "mmr_lambda": mmr_lambda,
            "exclude_seed_artist": exclude_seed_artist,
        }
        self.fan_out = fan_out

    def fit(self, corpus) -> Self:
        self.inner.fit(corpus)
        return self

    def __contains__(self, track_id: object) -> bool:
        return track_id in self.inner

    def _seed_artists(self, seeds: Iterable[int]) -> set[int]:
        return {a for s in seeds for a in self.track_artists.get(int(s), ())}

    def similar(self, track_id: int, k: int = 10, *, exclude: Collection[int] = ()) -> list[Recommendation]:
        recs = self.inner.similar(track_id, k * self.fan_out, exclude=exclude)
        return rerank(recs, self.track_artists, k=k, seed_artists=self._seed_artists([track_id]), **self.options)

    def similar_to_many(
        self,
        seeds: Sequence[int],
        k: int = 10,
        *,
        weights: Sequence[float] | None = None,
        exclude: Collection[int] = (),
    ) -> list[Recommendation]:
        recs = self.inner.similar_to_many(seeds, k * self.fan_out, weights=weights, exclude=exclude)
        return rerank(recs, self.track_artists, k=k, seed_artists=self._seed_artists(seeds), **self.options)

    def save(self, path: Path) -> None:
        raise NotImplementedError("re-ranking is a query-time option: save the inner model")

    @classmethod
    def load(cls, path: Path) -> Self:
        raise NotImplementedError("re-ranking is a query-time option: load the inner model")

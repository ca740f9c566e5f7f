"""Re-ranking for variety: an artist cap, leaving out the seed's own artist, and MMR diversity.

`Reranked` wraps any recommender with `rerank`; it is a query-time option, so it is not saved, and the evaluation
reports its cost in accuracy next to its gain in variety.

The original author worried about filter bubbles: a pure similarity list often repeats one artist. These options
trade a little accuracy for variety (the evaluation table shows both sides: NDCG and intra-list diversity).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Self

from recommenders.base import Recommendation, Recommender


def rerank(
    recs: Sequence[Recommendation],
    track_artists: Mapping[int, tuple[int, ...]],
    *,
    k: int = 10,
    seed_artists: Collection[int] = (),
    exclude_seed_artist: bool = False,
    max_per_artist: int = 0,
    mmr_lambda: float | None = None,
    similarity: Callable[[int, int], float] | None = None,
) -> list[Recommendation]:
    """Pick `k` of `recs` (best first) under the constraints.

    - `exclude_seed_artist`: drop picks sharing an artist with the seed(s);
    - `max_per_artist` > 0: at most that many picks per (primary) artist;
    - `mmr_lambda` in [0, 1]: maximal marginal relevance, score = λ·relevance − (1−λ)·max similarity to the
      picks so far; `similarity(a, b)` defaults to "same primary artist" (1.0) or not (0.0).
    Scores are kept as the model gave them; the order is the re-ranked one.
    """
    seed_set = set(seed_artists)

    def primary(t: int) -> int:
        a = track_artists.get(t)
        return a[0] if a else -t

    pool = [r for r in recs if not (exclude_seed_artist and seed_set.intersection(track_artists.get(r.track_id, ())))]
    per_artist: Counter[int] = Counter()
    chosen: list[Recommendation] = []
    if mmr_lambda is None:
        for r in pool:
            a = primary(r.track_id)
            if max_per_artist > 0 and per_artist[a] >= max_per_artist:
                continue
            per_artist[a] += 1
            chosen.append(r)
            if len(chosen) >= k:
                break
        return chosen
    if not 0.0 <= mmr_lambda <= 1.0:
        raise ValueError("mmr_lambda must be within [0, 1]")
    sim = similarity or (lambda a, b: 1.0 if primary(a) == primary(b) else 0.0)
    top = max((r.score for r in pool), default=1.0) or 1.0
    remaining = list(pool)
    redundancy = [0.0] * len(remaining)  # max similarity to the picks so far, updated once per pick
    while remaining and len(chosen) < k:
        best_i, best_v = -1, float("-inf")
        for i, r in enumerate(remaining):
            if max_per_artist > 0 and per_artist[primary(r.track_id)] >= max_per_artist:
                continue
            v = mmr_lambda * r.score / top - (1.0 - mmr_lambda) * redundancy[i]
            if v > best_v:
                best_i, best_v = i, v
        if best_i < 0:
            break
        r = remaining.pop(best_i)
        redundancy.pop(best_i)
        per_artist[primary(r.track_id)] += 1
        chosen.append(r)
        redundancy = [max(red, sim(c.track_id, r.track_id)) for red, c in zip(redundancy, remaining, strict=True)]
    return chosen


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
        self.max_per_artist = max_per_artist
        self.mmr_lambda = mmr_lambda
        self.exclude_seed_artist = exclude_seed_artist
        self.fan_out = fan_out

    def _rerank(self, recs: list[Recommendation], k: int, seeds: Iterable[int]) -> list[Recommendation]:
        return rerank(
            recs,
            self.track_artists,
            k=k,
            seed_artists={a for s in seeds for a in self.track_artists.get(int(s), ())},
            exclude_seed_artist=self.exclude_seed_artist,
            max_per_artist=self.max_per_artist,
            mmr_lambda=self.mmr_lambda,
        )

    def fit(self, corpus: Any) -> Self:
        self.inner.fit(corpus)
        return self

    def __contains__(self, track_id: object) -> bool:
        return track_id in self.inner

    def similar(self, track_id: int, k: int = 10, *, exclude: Collection[int] = ()) -> list[Recommendation]:
        recs = self.inner.similar(track_id, k * self.fan_out, exclude=exclude)
        return self._rerank(recs, k, [track_id])

    def similar_to_many(
        self,
        seeds: Sequence[int],
        k: int = 10,
        *,
        weights: Sequence[float] | None = None,
        exclude: Collection[int] = (),
    ) -> list[Recommendation]:
        recs = self.inner.similar_to_many(seeds, k * self.fan_out, weights=weights, exclude=exclude)
        return self._rerank(recs, k, seeds)

    def save(self, path: Path) -> None:
        raise NotImplementedError("re-ranking is a query-time option: save the inner model")

    @classmethod
    def load(cls, path: Path) -> Self:
        raise NotImplementedError("re-ranking is a query-time option: load the inner model")

"""Re-ranking for variety: an artist cap, leaving out the seed's own artist, and MMR diversity.

The original author worried about filter bubbles: a pure similarity list often repeats one artist. These options
trade a little accuracy for variety (the evaluation table shows both sides: NDCG and intra-list diversity).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence

from recommenders.base import Recommendation


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

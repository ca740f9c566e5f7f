"""Choosing the next track for a group listening session: blend everyone's taste, fairly, and say why.

Each member's seeds (added songs and liked picks) give them a ranked list from the recommender, normalised to
[0, 1]. The member served least so far (ties: the one served longest ago, then join order) is the target of the
next pick — a round-robin that never ignores anyone for more than one turn of the group. The pick maximises
    0.6 · target's score + 0.4 · least-misery score (the lowest score over all members) − 0.3 · skip similarity,
so it is first of all for the target, but among good options for them prefers one nobody else minds, and steers
away from what the group skipped. Played, skipped and seeded tracks are never picked again.

A tag station (radio on "80s rock") is a member of its own whose taste is the tag: its candidates are the tracks
that best represent the tags (`recommenders.tags.TagIndex`) mixed with CF neighbours of what the station played,
weighted by how well they carry the tags — so the station is neither just the tag's hits nor drifting away from it.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np

from data.sessions import Member, SessionState
from recommenders.base import NotInModel, Recommendation, Recommender
from recommenders.cf.fallback import WithFallback
from recommenders.tags import TagIndex

TARGET_WEIGHT = 0.6
MISERY_WEIGHT = 0.4
SKIP_WEIGHT = 0.3
CANDIDATES = 100
STATION = Member("station", "the station")


@dataclass(frozen=True)
class GroupPick:
    track_id: int
    score: float
    served: Member
    also_fits: tuple[Member, ...]
    reason: str


def _normalised(recs) -> dict[int, float]:
    if not recs:
        return {}
    top = max(r.score for r in recs) or 1.0
    return {r.track_id: max(0.0, r.score / top) for r in recs}


def member_seeds(state: SessionState) -> dict[str, list[int]]:
    """Seed tracks per member: songs they added and picks they liked, in order."""
    seeds: dict[str, list[int]] = {m.user_id: [] for m in state.members}
    for e in state.events:
        if e.kind in ("seed", "like") and e.user_id in seeds and e.track_id not in seeds[e.user_id]:
            seeds[e.user_id].append(e.track_id)
    return seeds


def _banned(state: SessionState, seeds: dict[str, list[int]]) -> set[int]:
    skipped = {e.track_id for e in state.events if e.kind == "skip"}
    return {e.track_id for e in state.played} | skipped | {t for ts in seeds.values() for t in ts}


def _closest_seed(model: Recommender, seeds: Sequence[int], track_id: int) -> int | None:
    """The member's seed the pick is most similar to (for the reason line)."""
    best: tuple[float, int] | None = None
    for seed in seeds:
        try:
            recs = _deep_list(model, [seed], ())
        except NotInModel:
            continue
        score = next((r.score for r in recs if r.track_id == track_id), None)
        if score is not None and (best is None or score > best[0]):
            best = (score, seed)
    return best[1] if best else None


#: Each member's scores reach this deep into the catalogue, so every candidate is scored for every member (a
#: candidate outside a member's own top list still gets their real, lower score instead of 0).
POOL = 1000
STRATEGIES = ("fair", "average", "least_misery", "most_pleasure", "round_robin")
#: The product's strategy: first for the member whose turn it is, then for whoever minds least.
DEFAULT_STRATEGY = "fair"


@dataclass(frozen=True)
class GroupScores:
    """Every candidate scored for every member, each member's scores normalised to [0, 1] by their best."""

    candidates: np.ndarray
    scores: np.ndarray
    skip: np.ndarray


def _deep_list(model: Recommender, seeds: Sequence[int], banned: Collection[int]) -> list[Recommendation]:
    """A member's scores `POOL` deep: the CF model's own list (a fallback chain pads only for unknown seeds)."""
    if isinstance(model, WithFallback):
        return model.similar_to_many(seeds, POOL, exclude=banned, pad=False)
    return model.similar_to_many(seeds, POOL, exclude=banned)


def score_group(
    model: Recommender, seeds: Sequence[Sequence[int]], banned: Collection[int], skipped: Sequence[int] = ()
) -> GroupScores:
    """Candidates are the union of the members' top lists; each member scores all of them."""
    per_member: list[dict[int, float]] = []
    pool: dict[int, None] = {}
    for member_seeds_ in seeds:
        known = [t for t in member_seeds_ if t in model]
        recs = _deep_list(model, known, banned) if known else []
        per_member.append(_normalised(recs))
        for r in recs[:CANDIDATES]:
            pool.setdefault(r.track_id, None)
    candidates = np.fromiter(pool, dtype=np.int64, count=len(pool))
    scores = np.array([[m.get(int(t), 0.0) for t in candidates] for m in per_member], dtype=np.float64)
    skip = np.zeros(len(candidates))
    known_skips = [t for t in skipped if t in model]
    if known_skips and len(candidates):
        sim = _normalised(_deep_list(model, known_skips, banned))
        skip = np.array([sim.get(int(t), 0.0) for t in candidates])
    return GroupScores(candidates, scores.reshape(len(per_member), len(candidates)), skip)


def choose(strategy: str, group: GroupScores, target: int) -> int:
    """Column of the pick under `strategy` (`target` is the row whose turn it is); ties go to the lower track id."""
    s = group.scores
    if strategy == "fair":
        value = TARGET_WEIGHT * s[target] + MISERY_WEIGHT * s.min(axis=0) - SKIP_WEIGHT * group.skip
    elif strategy == "average":
        value = s.mean(axis=0) - SKIP_WEIGHT * group.skip
    elif strategy == "least_misery":
        value = s.min(axis=0) + 1e-3 * s.mean(axis=0) - SKIP_WEIGHT * group.skip
    elif strategy == "most_pleasure":
        value = s.max(axis=0) - SKIP_WEIGHT * group.skip
    elif strategy == "round_robin":
        value = s[target] - SKIP_WEIGHT * group.skip
    else:
        raise ValueError(f"unknown strategy {strategy!r}; known: {', '.join(STRATEGIES)}")
    order = np.lexsort((group.candidates, -value))
    return int(order[0])


def next_target(served: Sequence[int], last_served: Sequence[int]) -> int:
    """The member whose turn it is: served least, then served longest ago (-1 = never), then joined first."""
    return min(range(len(served)), key=lambda i: (served[i], last_served[i], i))


def pick_next(
    state: SessionState,
    model: Recommender,
    *,
    strategy: str = DEFAULT_STRATEGY,
    names: dict[int, str] | None = None,
    tags: TagIndex | None = None,
) -> GroupPick | None:
    """The next track for the group, or None when no member has a seed the model knows.

    `names` (track id → "title — artist") and `tags` only make the reason richer: "for Ann: close to Hotel
    California — The Eagles; Bob likes classic rock too".
    """
    seeds = member_seeds(state)
    eligible = [m for m in state.members if any(t in model for t in seeds[m.user_id])]
    if not eligible:
        return None
    played = state.played
    skipped = [e.track_id for e in state.events if e.kind == "skip"]
    served = Counter(e.served_user_id for e in played)
    last = {e.served_user_id: i for i, e in enumerate(played)}
    row = next_target([served[m.user_id] for m in eligible], [last.get(m.user_id, -1) for m in eligible])
    target = eligible[row]
    group = score_group(model, [seeds[m.user_id] for m in eligible], _banned(state, seeds), skipped)
    if not len(group.candidates) or not group.scores[row].any():
        return None
    col = choose(strategy, group, row)
    pick = int(group.candidates[col])
    value = TARGET_WEIGHT * group.scores[row, col] + MISERY_WEIGHT * group.scores[:, col].min()
    also = tuple(m for i, m in enumerate(eligible) if i != row and group.scores[i, col] > 0)
    reason = f"for {target.name}"
    closest = _closest_seed(model, [t for t in seeds[target.user_id] if t in model], pick)
    if closest is not None and names and closest in names:
        reason += f": close to {names[closest]}"
    notes = []
    pick_tags = tags.tags_of(pick) if tags is not None else []
    for m in also:
        member_tags = {t for s in seeds[m.user_id] for t in (tags.tags_of(s) if tags is not None else [])}
        shared = next((t for t in pick_tags if t in member_tags), None)
        notes.append(f"{m.name} likes {shared} too" if shared else f"also fits {m.name}")
    if notes:
        reason += "; " + ", ".join(notes)
    return GroupPick(pick, round(float(value), 4), target, also, reason)


def pick_station(
    state: SessionState, model: Recommender | None, tags: TagIndex, station_tags: Sequence[str]
) -> GroupPick | None:
    """The next pick of a tag station: alternately the next most representative track of the tags, and the best CF
    neighbour of what the station played (and what listeners liked) that carries the tags."""
    seeds = member_seeds(state)
    banned = _banned(state, seeds)
    label = ", ".join(station_tags)
    listened = [e.track_id for e in state.played][-5:] + [t for ts in seeds.values() for t in ts]
    station_plays = sum(1 for e in state.played if e.served_user_id == STATION.user_id)
    if model is not None and station_plays % 2 == 1:
        known = [t for t in listened if t in model]
        if known:
            recs = model.similar_to_many(known, CANDIDATES, exclude=banned)
            fit = tags.match([r.track_id for r in recs], station_tags)
            cf = _normalised(recs)
            ranked = sorted(
                ((cf[r.track_id] * f, r.track_id) for r, f in zip(recs, fit, strict=True) if f > 0), reverse=True
            )
            if ranked:
                score, track_id = ranked[0]
                return GroupPick(track_id, round(score, 4), STATION, (), f"{label} station: goes with what it played")
    representative = tags.representative(station_tags, k=1, exclude=banned)
    if not representative:
        return None
    track_id, score = representative[0]
    return GroupPick(track_id, round(score, 4), STATION, (), f"{label} station: tagged {label}")


def taste_match(state: SessionState, model: Recommender) -> dict[tuple[str, str], float]:
    """How well each pair of members' tastes match, in [0, 1]: the cosine of their recommendation lists' scores
    (two members whose seeds lead to the same neighbourhood match; disjoint neighbourhoods score 0)."""
    seeds = member_seeds(state)
    vectors: dict[str, dict[int, float]] = {}
    for m in state.members:
        known = [t for t in seeds[m.user_id] if t in model]
        if known:
            vectors[m.user_id] = _normalised(model.similar_to_many(known, CANDIDATES))
            for t in known:  # a member's own songs are part of their taste
                vectors[m.user_id][t] = 1.0
    out = {}
    ids = [m.user_id for m in state.members if m.user_id in vectors]
    for i, a in enumerate(ids):
        for b in ids[i + 1 :]:
            va, vb = vectors[a], vectors[b]
            dot = sum(v * vb.get(t, 0.0) for t, v in va.items())
            norm = math.sqrt(sum(v * v for v in va.values())) * math.sqrt(sum(v * v for v in vb.values()))
            out[(a, b)] = dot / norm if norm else 0.0
    return out

"""Choosing the next track for a group listening session: blend everyone's taste, fairly.

Each member's seeds (added songs and liked picks) give them a ranked list from the recommender, normalised to
[0, 1]. The member served least so far (ties: the one served longest ago, then join order) is the target of the
next pick — a round-robin that never ignores anyone for more than one turn of the group. The pick maximises
    0.6 · target's score + 0.4 · least-misery score (the lowest score over all members) − 0.3 · skip similarity,
so it is first of all for the target, but among good options for them prefers one nobody else minds, and steers
away from what the group skipped. Played, skipped and seeded tracks are never picked again.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from data.sessions import Member, SessionState
from recommenders.base import Recommender

TARGET_WEIGHT = 0.6
MISERY_WEIGHT = 0.4
SKIP_WEIGHT = 0.3
CANDIDATES = 100


@dataclass(frozen=True)
class GroupPick:
    track_id: int
    score: float
    served: Member
    also_fits: tuple[Member, ...]


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


def pick_next(state: SessionState, model: Recommender) -> GroupPick | None:
    """The next track for the group, or None when no member has a seed the model knows."""
    seeds = member_seeds(state)
    eligible = [m for m in state.members if any(t in model for t in seeds[m.user_id])]
    if not eligible:
        return None
    played = [e for e in state.events if e.kind == "played"]
    skipped = {e.track_id for e in state.events if e.kind == "skip"}
    banned = {e.track_id for e in played} | skipped | {t for ts in seeds.values() for t in ts}
    served = Counter(e.served_user_id for e in played)
    last_served = {e.served_user_id: i for i, e in enumerate(played)}
    order = {m.user_id: i for i, m in enumerate(state.members)}
    target = min(eligible, key=lambda m: (served[m.user_id], last_served.get(m.user_id, -1), order[m.user_id]))

    scores: dict[str, dict[int, float]] = {}
    for m in eligible:
        known = [t for t in seeds[m.user_id] if t in model]
        scores[m.user_id] = _normalised(model.similar_to_many(known, CANDIDATES, exclude=banned))
    skip_sim: dict[int, float] = {}
    known_skips = [t for t in skipped if t in model]
    if known_skips:
        skip_sim = _normalised(model.similar_to_many(known_skips, CANDIDATES, exclude=banned))

    best: tuple[float, int] | None = None
    for track_id, own in scores[target.user_id].items():
        misery = min(scores[m.user_id].get(track_id, 0.0) for m in eligible)
        value = TARGET_WEIGHT * own + MISERY_WEIGHT * misery - SKIP_WEIGHT * skip_sim.get(track_id, 0.0)
        if best is None or value > best[0] or (value == best[0] and track_id < best[1]):
            best = (value, track_id)
    if best is None:
        return None
    also = tuple(m for m in eligible if m != target and scores[m.user_id].get(best[1], 0.0) > 0)
    return GroupPick(best[1], round(best[0], 4), target, also)

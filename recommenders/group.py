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
from collections.abc import Sequence
from dataclasses import dataclass

from data.sessions import Member, SessionState
from recommenders.base import NotInModel, Recommender
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
            recs = model.similar(seed, 300)
        except NotInModel:
            continue
        score = next((r.score for r in recs if r.track_id == track_id), None)
        if score is not None and (best is None or score > best[0]):
            best = (score, seed)
    return best[1] if best else None


def pick_next(
    state: SessionState,
    model: Recommender,
    *,
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
    skipped = {e.track_id for e in state.events if e.kind == "skip"}
    banned = _banned(state, seeds)
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
    pick = best[1]
    also = tuple(m for m in eligible if m != target and scores[m.user_id].get(pick, 0.0) > 0)
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
    return GroupPick(pick, round(best[0], 4), target, also, reason)


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

"""Answering a request: candidates from every source that fits it, fused by weighted reciprocal rank fusion, the
constraints enforced, each pick with its reason ("like Hotel California · tagged driving, chill").

Sources (`candidate_lists`), each a ranked list:
- "cf": the CF model from the named songs (one song: the `/similar` model; several: the session model, as
  `/session` blends seeds), inside the fallback chain so every corpus song has neighbours;
- "cf+tags": the same CF list re-ranked by how well each song fits the request's tags (only songs that fit);
- "tags": the songs that best represent the tags (`TagIndex.representative`, "more 80s" weighing 80s double);
- "artists": the named artists' own songs, then those of related artists (the fallback chain's artist similarity);
- "popular": the most played songs, only when no other source has anything to say.
Fusion: score = Σ weight_source / (`rrf_k` + rank), the weights and `rrf_k` chosen on the validation requests of
`murecom eval --ask` (`DEFAULT_WEIGHTS`); songs carrying a "less" tag have their score halved. Constraints are
filters, never weights: an excluded tag, artist or song, a named seed and (after "something else") every song
already shown never appear.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from recommenders.ask.parse import Request
from recommenders.base import NotInModel, Recommendation, Recommender
from recommenders.cf.fallback import WithFallback
from recommenders.tags import TagIndex

#: How deep each source's list is read.
DEPTH = 200
#: How deep the fallback chain is read for a song the CF model does not know.
CHAIN_DEPTH = 50
#: Picks when the request does not say how many.
DEFAULT_COUNT = 10
#: Fusion weights per source and the RRF constant, chosen on validation requests (`murecom eval --ask`).
DEFAULT_WEIGHTS: dict[str, float] = {"cf": 1.0, "cf+tags": 1.0, "tags": 1.0, "artists": 1.0, "popular": 0.05, "k": 60}
#: Weight of a tag asked for "more" of, against 1 for a tag simply named.
MORE_WEIGHT = 2.0
LESS_FACTOR = 0.5


@dataclass
class Query:
    """The effective request of a conversation so far (what the answer is computed from); JSON-serialisable, kept
    per chat and user (`recommenders.ask.state`)."""

    seeds: list[tuple[int, str]] = field(default_factory=list)  # (track id, title)
    artists: list[tuple[int, str]] = field(default_factory=list)  # (artist id, name)
    tags: dict[str, float] = field(default_factory=dict)
    less_tags: list[str] = field(default_factory=list)
    exclude_tags: list[str] = field(default_factory=list)
    exclude_artists: list[tuple[int, str]] = field(default_factory=list)
    exclude_tracks: list[int] = field(default_factory=list)
    count: int = DEFAULT_COUNT
    shown: list[int] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return not (self.seeds or self.artists or self.tags)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Query:
        return cls(
            seeds=[(int(a), str(b)) for a, b in data.get("seeds", [])],
            artists=[(int(a), str(b)) for a, b in data.get("artists", [])],
            tags={str(k): float(v) for k, v in data.get("tags", {}).items()},
            less_tags=[str(t) for t in data.get("less_tags", [])],
            exclude_tags=[str(t) for t in data.get("exclude_tags", [])],
            exclude_artists=[(int(a), str(b)) for a, b in data.get("exclude_artists", [])],
            exclude_tracks=[int(t) for t in data.get("exclude_tracks", [])],
            count=int(data.get("count", DEFAULT_COUNT)),
            shown=[int(t) for t in data.get("shown", [])],
        )


@dataclass(frozen=True)
class Pick:
    track_id: int
    score: float
    reason: str


@dataclass(frozen=True)
class Sources:
    """What an answer reads: the CF models (one seed, several seeds) in the fallback chain, and the tag index."""

    cf: Recommender | None
    session: Recommender | None
    chain: WithFallback | None
    tags: TagIndex | None


def is_refinement(request: Request) -> bool:
    """Whether a turn refines the previous one ("no eagles, more 80s", "something else", "more like the second
    one") rather than starting afresh (it names a new song or artist and nothing about the last list)."""
    about_last = request.refs or request.exclude_refs or request.something_else
    return bool(about_last or request.more_tags or request.less_tags or not (request.songs or request.artists))


def merge(previous: Query | None, request: Request) -> tuple[Query, list[str]]:
    """The effective query after `request`, given the conversation's `previous` one; and notes to say back."""
    notes: list[str] = []
    refine = previous is not None and is_refinement(request)
    q = Query.from_json(previous.to_json()) if refine and previous is not None else Query()
    if (request.refs or request.exclude_refs) and not refine:
        notes.append("There is no earlier list here to refer to; ask for something first.")
    for ref in request.refs:
        track = _shown(previous, ref) if refine else None
        if track is not None:
            q.seeds = [track]
        elif refine:
            notes.append(f"The last list has no pick {ref}.")
    for ref in request.exclude_refs:
        track = _shown(previous, ref) if refine else None
        if track is not None and track[0] not in q.exclude_tracks:
            q.exclude_tracks.append(track[0])
    if request.songs:
        q.seeds = [(s.track_id, s.title) for s in request.songs] if not refine else [
            *q.seeds, *((s.track_id, s.title) for s in request.songs)
        ]  # fmt: skip
    for a in request.artists:
        if all(a.artist_id != x for x, _ in q.artists):
            q.artists.append((a.artist_id, a.name))
        q.exclude_artists = [x for x in q.exclude_artists if x[0] != a.artist_id]
    for tag in request.tags:
        q.tags.setdefault(tag, 1.0)
    for tag in request.more_tags:
        q.tags[tag] = MORE_WEIGHT
    for tag in [*request.tags, *request.more_tags]:
        if tag in q.less_tags:
            q.less_tags.remove(tag)
        if tag in q.exclude_tags and tag not in request.exclude_tags:
            q.exclude_tags.remove(tag)
    for tag in request.less_tags:
        q.tags.pop(tag, None)
        if tag not in q.less_tags:
            q.less_tags.append(tag)
    for tag in request.exclude_tags:
        if tag not in request.tags and tag not in request.more_tags:
            q.tags.pop(tag, None)
        if tag not in q.exclude_tags:
            q.exclude_tags.append(tag)
    for a in request.exclude_artists:
        if all(a.artist_id != x for x, _ in q.exclude_artists):
            q.exclude_artists.append((a.artist_id, a.name))
        q.artists = [x for x in q.artists if x[0] != a.artist_id]
    for s in request.exclude_songs:
        if s.track_id not in q.exclude_tracks:
            q.exclude_tracks.append(s.track_id)
    if request.something_else and refine:
        q.exclude_tracks.extend(t for t in q.shown if t not in q.exclude_tracks)
    if request.count:
        q.count = request.count
    return q, notes


def _shown(previous: Query | None, ref: int) -> tuple[int, str] | None:
    """(track id, "") of pick `ref` (1-based, -1 the last) of the previous list, or None."""
    if previous is None or not previous.shown:
        return None
    i = len(previous.shown) - 1 if ref == -1 else ref - 1
    return (previous.shown[i], "") if 0 <= i < len(previous.shown) else None


def candidate_lists(q: Query, src: Sources, depth: int = DEPTH) -> dict[str, list[tuple[int, str]]]:
    """Each source's ranked (track id, reason) list for the query (see the module docstring)."""
    lists: dict[str, list[tuple[int, str]]] = {}
    seeds = [t for t, _ in q.seeds]
    wanted = [t for t, w in q.tags.items() if w > 0]
    if seeds:
        model = src.cf if len(seeds) == 1 else (src.session or src.cf)
        if model is not None:
            recs = cf_list(model, seeds, depth)
            titles = {t: title for t, title in q.seeds}
            like = "like " + " & ".join(title for title in list(titles.values())[:2] if title)
            lists["cf"] = [(r.track_id, like if like != "like " else r.reason) for r in recs]
            if wanted and src.tags is not None and recs:
                fit = src.tags.match([r.track_id for r in recs], q.tags)
                order = sorted((i for i in range(len(recs)) if fit[i] > 0), key=lambda i: (-fit[i], i))
                lists["cf+tags"] = [lists["cf"][i] for i in order]
    if wanted and src.tags is not None:
        rep = src.tags.representative(wanted, k=depth, weights=q.tags)
        lists["tags"] = [(t, "") for t, _ in rep]
    if q.artists and src.chain is not None:
        lists["artists"] = _artist_list(q, src.chain, depth)
    if not lists and src.chain is not None:
        lists["popular"] = [(int(t), "popular") for t in src.chain.popular[:depth]]
    return lists


def cf_list(model: Recommender, seeds: Sequence[int], depth: int) -> list[Recommendation]:
    """The CF model's list for the seeds; the fallback chain only for seeds the CF model does not know, and then
    only `CHAIN_DEPTH` deep (padding a CF list 200 deep from the chain walks its tag step over thousands of songs:
    a third of a second, for songs ranked below every CF neighbour anyway)."""
    one = len(seeds) == 1
    if isinstance(model, WithFallback):
        try:
            recs = model.inner.similar(seeds[0], depth) if one else model.inner.similar_to_many(seeds, depth)
        except NotInModel:
            recs = []
        if recs:
            return recs
        depth = CHAIN_DEPTH
    try:
        return model.similar(seeds[0], depth) if one else model.similar_to_many(seeds, depth)
    except NotInModel:
        return []


def _artist_list(q: Query, chain: WithFallback, depth: int) -> list[tuple[int, str]]:
    """The named artists' songs (most played first, interleaved), then their related artists' top songs."""
    out: list[tuple[int, str]] = []
    own = [(list(chain.by_artist.get(a, ())), f"by {name}") for a, name in q.artists]
    for i in range(max((len(s) for s, _ in own), default=0)):
        out.extend((int(s[i]), why) for s, why in own if i < len(s))
    for a in chain.related_artists({a for a, _ in q.artists})[:20]:
        name = chain.artist_names.get(a, "")
        out.extend(
            (int(t), f"related to {q.artists[0][1]}" + (f": {name}" if name else ""))
            for t in chain.by_artist.get(a, ())[:5]
        )
    return out[:depth]


def fuse(lists: Mapping[str, Sequence[tuple[int, str]]], weights: Mapping[str, float]) -> list[tuple[int, float]]:
    """Weighted reciprocal rank fusion: Σ weight / (k + rank) over the lists holding a song, best first."""
    k = float(weights.get("k", 60))
    score: dict[int, float] = {}
    for name, items in lists.items():
        w = float(weights.get(name, 1.0))
        if w <= 0:
            continue
        for rank, (t, _) in enumerate(items):
            score[t] = score.get(t, 0.0) + w / (k + rank + 1)
    return sorted(score.items(), key=lambda kv: (-kv[1], kv[0]))


class Answerer:
    """Turns an effective query into picks with reasons, constraints enforced."""

    def __init__(self, sources: Sources, weights: Mapping[str, float] | None = None) -> None:
        self.src = sources
        self.weights = dict(weights or DEFAULT_WEIGHTS)

    def answer(
        self, q: Query, k: int | None = None, lists: Mapping[str, Sequence[tuple[int, str]]] | None = None
    ) -> list[Pick]:
        """The top `k` (default `q.count`) picks for `q`; `lists` are precomputed `candidate_lists` (evaluation)."""
        k = k or q.count
        lists = lists if lists is not None else candidate_lists(q, self.src)
        fused = fuse(lists, self.weights)
        reasons: dict[int, list[str]] = {}
        for items in lists.values():
            for t, why in items:
                if why and why not in reasons.setdefault(t, []) and len(reasons[t]) < 1:
                    reasons[t].append(why)
        if q.less_tags:
            fused = sorted(((t, s * (LESS_FACTOR if self._has_tag(t, q.less_tags) else 1.0)) for t, s in fused),
                           key=lambda kv: (-kv[1], kv[0]))  # fmt: skip
        picks: list[Pick] = []
        for t, s in fused:
            if self.allowed(t, q):
                picks.append(Pick(t, round(s, 5), self._reason(t, q, reasons.get(t, []))))
                if len(picks) >= k:
                    break
        return picks

    def track_tags(self, track_id: int) -> frozenset[str]:
        if self.src.tags is not None:
            return frozenset(self.src.tags.tags_of(track_id))
        return self.src.chain.track_tags.get(track_id) if self.src.chain is not None else frozenset()

    def track_artists(self, track_id: int) -> set[int]:
        chain = self.src.chain
        return {int(a) for a in chain.track_artists.get(track_id, ())} if chain is not None else set()

    def _has_tag(self, track_id: int, tags: Sequence[str]) -> bool:
        return bool(self.track_tags(track_id) & set(tags))

    def allowed(self, track_id: int, q: Query) -> bool:
        """Whether a song may be picked: not a seed, not excluded by song, artist or tag, not shown before after
        "something else" (those are in `exclude_tracks`)."""
        if track_id in q.exclude_tracks or any(track_id == s for s, _ in q.seeds):
            return False
        if q.exclude_artists and self.track_artists(track_id) & {a for a, _ in q.exclude_artists}:
            return False
        return not (q.exclude_tags and self._has_tag(track_id, q.exclude_tags))

    def _reason(self, track_id: int, q: Query, why: list[str]) -> str:
        tagged = [t for t in q.tags if t in self.track_tags(track_id)]
        parts = list(why)
        if tagged:
            parts.append("tagged " + ", ".join(tagged[:3]))
        return " · ".join(parts) or "fits what you asked"

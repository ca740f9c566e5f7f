"""Tags bridge sound and playlists: a clip's tag probabilities → catalogue tracks whose Last.fm tags fit.

The pretrained tagger speaks the Last.fm vocabulary (rock, 80s, instrumental, …) that the Yes.com corpus's tracks
are tagged with, so a clip reaches the whole catalogue, not only the few tracks that have audio. The bridge reads
the corpus's one tf-idf tag index (`recommenders.tags.TagIndex`, which also serves tag stations) for each track's
tags restricted to the tagger's vocabulary and their idf (a tag every other track has says little; one few tracks
have says much).

The fit has two parts. The track's own tags: an F-measure over the clip's whole tag distribution, not a cosine
(a cosine divides by the track's own length in full, so a track tagged only "electronic" fitted a mostly-electronic
clip perfectly and led nearly every electronic clip's picks, issue 23): *coverage* is the share of the clip's
idf-weighted tag mass that the track carries, *support* how strongly the clip holds the track's tags, and the fit is
their weighted harmonic mean (`BETA` > 1 weighs coverage more). And the songs the track is played with in the
corpus's playlists (session 10): the cosine of the clip's tags with theirs, weighing `CONTEXT` of the whole. What
the playlists know (which music goes with which) finds the songs people play together: on held-out Yes.com
playlists the two parts fit better than the own tags alone. Popularity lifts the fit (`POPULARITY_WEIGHT`).

Variety across clips: the picks are drawn from the `POOL` best (or those within `BAND` of the best), each with a
Gumbel key at temperature `SPREAD` (probability ∝ score^(1/SPREAD)), seeded by the clip's tag distribution so that
a clip always gets the same answer while two clips that differ a little do not get one list; maximal marginal
relevance over the tracks' profiles (own and played-with tags, `VARIETY`) can keep a list from being one tag set.
The draw is held to the tracks carrying the clip's first tag (`FIRST_TAG`: its most probable tag that the catalogue
knows, usually the one its answer names first): the played-with part then chooses among songs that are what the
clip sounds like, instead of leaving it (session 11, on validation: as much fit and variety, 0.91 of the picks on
the clip's first tag instead of 0.77).
`CONTEXT`, `POPULARITY_WEIGHT`, `SPREAD` (and the rest) are chosen on validation data only (`murecom eval-tags
--sweep`, `recommenders/audio/tag_eval.py: choose`). The reason names the clip's tags the track carries and, when
they are few, those the songs it is played with carry ("played with ambient, electronic songs").
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable, Iterable

import numpy as np
import scipy.sparse as sp

from recommenders.base import Recommendation
from recommenders.tags import TagIndex

CONTEXT = 0.75  # share of the fit from the tags of the songs a track is played with (chosen: eval-tags --sweep)
#: The songs a track is played with are its tags' context plus this many songs of the catalogue's average profile:
#: a track played with few songs (or with songs of one tag) gets no sharp context, so no perfect fit from it.
CONTEXT_PRIOR_SONGS = 10.0
POPULARITY_WEIGHT = 0.6  # score = fit × (1 − w + w · log-popularity share)
BETA: float | None = 1.0  # own tags' fit: F-measure weight of coverage over support (None: today's cosine)
VARIETY = 0.0  # MMR: next pick maximises key/best − VARIETY · (highest profile cosine to a pick made)
SPREAD = 0.15  # temperature of the seeded draw among near-best tracks (0: the best fits, in order)
BAND = 0.0  # the draw and MMR choose among tracks scoring at least this share of the best (0: the POOL best)
POOL = 200  # at most this many near-best tracks are re-ranked (a few ms)
#: The picks carry the clip's most probable tag the catalogue knows (`first_tag_column`) when enough tracks do: the
#: others rank after every one that does (their key × `OFF_FIRST_TAG`), so a rare first tag still gets a full answer.
FIRST_TAG = True
OFF_FIRST_TAG = 1e-3
TAGGED_REASON = "tagged alike"  # how each pick's reason begins
PLAYED_WITH = "played with"  # "tagged alike: jazz; played with instrumental, chillout songs"
SHOWN_PER_CHAT = 250  # a chat's last fifty answers' tagged-alike picks are not shown again (`ShownPicks`)
SHOWN_CHATS = 10_000  # chats remembered, the least recently active forgotten first


def _seed(tag_probs: np.ndarray) -> int:
    """The same clip (its tag distribution to 4 decimals) always draws the same keys."""
    digest = hashlib.sha256(np.round(np.asarray(tag_probs, np.float32), 4).tobytes()).digest()
    return int.from_bytes(digest[:8], "little")


class ShownPicks:
    """The tagged-alike picks each chat was shown lately, so that the next clip sent in a chat gets other songs.

    Clips of one soundtrack, or of one kind of music, have nearly the same tag distribution, and the best fits to
    one distribution are one list: a user who sends three clips saw the same songs three times (issue 23). Each
    chat's last `per_chat` picks are left out of its next answers (the sounds-alike picks are not: they answer
    "which recordings is this like", where the same answer is the right one). Picks are made and recorded in one
    step (`choose`), so two clips sent at once in one chat do not both read the chat before either is recorded.
    Kept in memory, bounded by `chats`; safe to share between threads."""

    def __init__(self, per_chat: int = SHOWN_PER_CHAT, chats: int = SHOWN_CHATS) -> None:
        self.per_chat, self.chats = per_chat, chats
        self._shown: OrderedDict[Hashable, deque[int]] = OrderedDict()
        self._lock = threading.Lock()

    def choose(self, chat: Hashable, pick: Callable[[frozenset[int]], list[Recommendation]]) -> list[Recommendation]:
        """`pick(what the chat was shown lately)`, its picks recorded for the chat before another clip of any chat
        reads them (the bridge's pick takes about a millisecond, so the lock is held that long)."""
        with self._lock:
            picks = pick(frozenset(self._shown.get(chat, ())))
            shown = self._shown.pop(chat, None) or deque(maxlen=self.per_chat)
            shown.extend(r.track_id for r in picks)
            self._shown[chat] = shown
            while len(self._shown) > self.chats:
                self._shown.popitem(last=False)
        return picks


def _unit_rows(m: np.ndarray) -> np.ndarray:
    return (m / np.maximum(np.linalg.norm(m, axis=1, keepdims=True), 1e-12)).astype(np.float32)


class _OwnTags:
    """Tracks × the tagger's known tags: idf where the track carries the tag."""

    def __init__(self, weights: np.ndarray) -> None:
        self.weights = weights.astype(np.float32)
        self.sums = self.weights.sum(axis=1)
        self.carries = (self.weights > 0).astype(np.float32)
        self.unit = _unit_rows(self.weights)

    def fit(self, p: np.ndarray, q: np.ndarray, beta: float | None) -> np.ndarray:
        """F-measure of *coverage* (the share of the clip's idf-weighted tag mass `q` the track carries) and
        *support* (how strongly the clip's probabilities `p` hold the track's tags); `beta` None: cosine."""
        if beta is None:
            return self.unit @ (q / np.linalg.norm(q))
        coverage = self.carries @ (q / q.sum())
        support = (self.weights @ (p / p.max())) / np.maximum(self.sums, 1e-12)
        b2 = beta**2
        return (1 + b2) * support * coverage / np.maximum(b2 * support + coverage, 1e-12)


class TagBridge:
    def __init__(
        self,
        index: TagIndex,
        vocabulary: list[str],
        *,
        context: float = CONTEXT,
        beta: float | None = BETA,
        variety: float = VARIETY,
        spread: float = SPREAD,
        popularity_weight: float = POPULARITY_WEIGHT,
        band: float = BAND,
        first_tag: bool = FIRST_TAG,
    ) -> None:
        """`beta` None: the own tags' fit is today's cosine (kept for the evaluation's comparison); `context` 0:
        the songs a track is played with are not read; `first_tag`: the picks carry the clip's first tag."""
        self.vocabulary = list(vocabulary)
        self.first_tag = bool(first_tag)
        self.beta, self.variety, self.spread, self.band = beta, float(variety), float(spread), float(band)
        self.context = float(context)
        columns = [index.column(t) for t in self.vocabulary]
        self._known = np.array([j for j, c in enumerate(columns) if c is not None], np.int64)
        sub = sp.csr_matrix(index.weighted[:, [c for c in columns if c is not None]])
        keep = np.flatnonzero(np.diff(sub.indptr) > 0)  # tracks with at least one of the tagger's tags
        sub = sp.csr_matrix(sub[keep], dtype=np.float32)
        weights = sub.toarray()
        self.own = _OwnTags(weights)
        self.around: np.ndarray | None = None  # unit rows: the tags of the songs each track is played with
        self._around_named: np.ndarray | None = None  # the same without the prior, for the reasons
        if self.context > 0 and index.plays.shape[0]:
            plays = sp.csr_matrix(index.plays[:, keep])  # playlists × these tracks
            times = np.asarray(plays.sum(axis=0)).ravel()[:, None]  # playlists holding each track
            together = np.asarray(plays.T @ (plays @ weights)) - times * weights  # every song sharing a playlist
            prior = CONTEXT_PRIOR_SONGS * weights.mean(axis=0)  # … plus a few songs of the catalogue's average
            self.around, self._around_named = _unit_rows(together + prior), _unit_rows(together)
        unit = self.own.unit
        if self.around is not None:
            unit = (1 - self.context) * unit + self.context * self.around
        self.profile = _unit_rows(unit)  # what MMR compares picks by
        self.track_ids = index.track_ids[keep]
        self.idf = np.zeros(len(self.vocabulary), np.float32)
        self.idf[self._known] = index.idf[[c for c in columns if c is not None]]
        share = index.popularity_share[keep]
        self.lift = (1.0 - popularity_weight + popularity_weight * share).astype(np.float32)

    def __len__(self) -> int:
        return len(self.track_ids)

    def fit(self, tag_probs: np.ndarray) -> np.ndarray:
        """Per track (in `track_ids` order): how well it fits the clip's tag probabilities, 0..1 — its own tags'
        fit, and (`context` of the whole) the cosine with the tags of the songs it is played with."""
        p = np.maximum(np.asarray(tag_probs, np.float32)[self._known], 0.0)
        if p.max() <= 0:
            return np.zeros(len(self), np.float32)
        q = p * self.idf[self._known]
        own = self.own.fit(p, q, self.beta)
        if self.around is None:
            return own
        return (1.0 - self.context) * own + self.context * (self.around @ (q / np.linalg.norm(q)))

    def scores(self, tag_probs: np.ndarray) -> np.ndarray:
        """Per track: fit × popularity lift (the ranking before the draw and variety)."""
        return self.fit(tag_probs) * self.lift

    def first_tag_column(self, tag_probs: np.ndarray) -> int | None:
        """The clip's most probable tag the catalogue knows (the rarest among equals), as a column of `own`."""
        p = np.asarray(tag_probs, np.float32)[self._known]
        if not len(p) or p.max() <= 0:
            return None
        ties = np.flatnonzero(p == p.max())
        return int(ties[np.argmax(self.idf[self._known][ties])])

    def rank(self, tag_probs: np.ndarray, k: int, banned: set[int]) -> list[tuple[int, float]]:
        """(row, score) of the k picks, in pick order (see the module docstring)."""
        scores = self.scores(tag_probs)
        keys = scores
        first = self.first_tag_column(tag_probs) if self.first_tag else None
        if first is not None:
            keys = scores * np.where(self.own.carries[:, first] > 0, 1.0, OFF_FIRST_TAG).astype(np.float32)
        size = min(len(keys), POOL + len(banned))
        top = np.argpartition(-keys, size - 1)[:size] if size < len(keys) else np.arange(len(keys))
        top = top[np.argsort(-keys[top], kind="stable")]
        pool = np.array([i for i in top if keys[i] > 0 and int(self.track_ids[i]) not in banned], np.int64)
        if not len(pool):
            return []
        rel = keys[pool] / keys[pool[0]]
        if self.spread <= 0 and self.variety <= 0:
            return [(int(i), float(scores[i])) for i in pool[:k]]
        within = max(k, int(np.sum(rel >= self.band)))
        pool, rel = pool[:within], rel[:within]
        key = rel
        if self.spread > 0:
            gumbel = np.random.default_rng(_seed(tag_probs)).gumbel(size=len(pool))
            key = np.exp(np.log(np.maximum(rel, 1e-12)) + self.spread * gumbel)
            key = key / key.max()
        sim = self.profile[pool] @ self.profile[pool].T if self.variety > 0 else None
        picked: list[int] = []
        closest = np.zeros(len(pool), np.float32)
        free = np.ones(len(pool), bool)
        while len(picked) < min(k, len(pool)):
            j = int(np.argmax(np.where(free, key - self.variety * closest, -np.inf)))
            picked.append(j)
            free[j] = False
            if sim is not None:
                closest = np.maximum(closest, sim[j])
        return [(int(pool[j]), float(scores[pool[j]])) for j in picked]

    def recommend(self, tag_probs: np.ndarray, k: int = 10, exclude: Iterable[int] = ()) -> list[Recommendation]:
        """Tracks whose tags fit the clip's tag probabilities (one per vocabulary tag), in pick order."""
        if not len(self) or k <= 0:
            return []
        p = np.asarray(tag_probs, np.float32)
        q = (p * self.idf)[self._known]
        first = self.first_tag_column(p) if self.first_tag else None
        return [
            Recommendation(int(self.track_ids[i]), round(score, 4), self._reason(i, q, first))
            for i, score in self.rank(p, k, set(exclude))
        ]

    def _reason(self, row: int, q: np.ndarray, first: int | None = None) -> str:
        """The clip's tags the track carries that weigh most — led by the clip's first tag when the picks are held to
        it (a common tag such as rock weighs little, but it is why the track was picked); when fewer than three, the
        clip's tags that the songs it is played with carry ("played with ambient, electronic songs"): the reason
        says which part fitted."""
        lead = [self.vocabulary[self._known[first]]] if first is not None and self.own.carries[row, first] else []
        own = lead + self._top_tags(self.own.unit[row] * q, 3 - len(lead), lead)
        parts = [", ".join(own)] if own else []
        if self._around_named is not None and len(own) < 3:
            more = self._top_tags(self._around_named[row] * q, 3 - len(own), own)
            if more:
                parts.append(f"{PLAYED_WITH} {', '.join(more)} songs")
        if not parts:  # the clip holds none of its tags: say what the track is tagged, not nothing
            parts.append(", ".join(self._top_tags(self.own.unit[row], 3, ())))
        return f"{TAGGED_REASON}: " + "; ".join(parts)

    def _top_tags(self, contribution: np.ndarray, n: int, skip: Iterable[str]) -> list[str]:
        skipped = set(skip)
        names = (self.vocabulary[self._known[j]] for j in np.argsort(-contribution) if contribution[j] > 0)
        return [t for t in names if t not in skipped][:n]

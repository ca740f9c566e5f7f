"""Tags bridge sound and playlists: a clip's tag probabilities → catalogue tracks whose Last.fm tags fit.

The pretrained tagger speaks the Last.fm vocabulary (rock, 80s, instrumental, …) that the Yes.com corpus's tracks
are tagged with, so a clip reaches the whole catalogue, not only the few tracks that have audio. The bridge reads
the corpus's one tf-idf tag index (`recommenders.tags.TagIndex`, which also serves tag stations) for each track's
tags restricted to the tagger's vocabulary and their idf (a tag every other track has says little; one few tracks
have says much).

The fit is an F-measure over the clip's whole tag distribution, not a cosine: a cosine divides by the track's own
length in full, so a track tagged only "electronic" fitted a mostly-electronic clip perfectly and led the
tagged-alike picks of nearly every electronic clip (issue 23). Here *coverage* is the share of the clip's
idf-weighted tag mass that the track carries (one tag covers little of a clip that is also ambient and chillout),
and *support* is how strongly the clip holds the track's tags, idf-weighted (a track that carries every tag of the
vocabulary is not supported by a clip that holds a few); the fit is their weighted harmonic mean (`BETA` > 1
weighs coverage more). Popularity lifts the fit gently (among equally fitting tracks, the ones people play).

Variety, within a list and across clips: the picks are drawn from the tracks within `BAND` of the best fit,
each with a Gumbel key at temperature `SPREAD` (probability ∝ fit^(1/SPREAD)), seeded by the clip's tag
distribution so that a clip always gets the same answer while two clips that differ a little do not get one list;
then maximal marginal relevance over the tracks' tag profiles (`VARIETY`) keeps five picks from being one tag set.
`BETA`, `VARIETY` and `SPREAD` are chosen on held-out Yes.com playlists (`murecom eval-tags`,
`recommenders/audio/tag_eval.py`). The reason names the tags that contributed most.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict, deque
from collections.abc import Hashable, Iterable

import numpy as np
import scipy.sparse as sp

from recommenders.base import Recommendation
from recommenders.tags import TagIndex

POPULARITY_WEIGHT = 0.2  # score = fit × (1 − w + w · log-popularity share): fit first, popularity breaks ties
BETA = 1.0  # F-measure weight of coverage over support (tuned on validation: murecom eval-tags)
VARIETY = 0.5  # MMR: next pick maximises key/best − VARIETY · (highest tag-profile cosine to a pick made)
SPREAD = 0.0  # temperature of the seeded draw among near-best tracks (0: the best fits, in order)
BAND = 0.85  # the draw and MMR choose among tracks scoring at least this share of the best
POOL = 200  # at most this many near-best tracks are re-ranked (a few ms)
TAGGED_REASON = "tagged alike"  # how each pick's reason begins
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
    "which recordings is this like", where the same answer is the right one). Kept in memory, bounded by
    `chats`; safe to share between threads."""

    def __init__(self, per_chat: int = SHOWN_PER_CHAT, chats: int = SHOWN_CHATS) -> None:
        self.per_chat, self.chats = per_chat, chats
        self._shown: OrderedDict[Hashable, deque[int]] = OrderedDict()
        self._lock = threading.Lock()

    def of(self, chat: Hashable) -> frozenset[int]:
        """The picks `chat` was shown lately (none for a chat not seen)."""
        with self._lock:
            return frozenset(self._shown.get(chat, ()))

    def add(self, chat: Hashable, track_ids: Iterable[int]) -> None:
        with self._lock:
            shown = self._shown.pop(chat, None) or deque(maxlen=self.per_chat)
            shown.extend(track_ids)
            self._shown[chat] = shown
            while len(self._shown) > self.chats:
                self._shown.popitem(last=False)


class TagBridge:
    def __init__(
        self,
        index: TagIndex,
        vocabulary: list[str],
        *,
        beta: float | None = BETA,
        variety: float = VARIETY,
        spread: float = SPREAD,
        popularity_weight: float = POPULARITY_WEIGHT,
        band: float = BAND,
    ) -> None:
        """`beta` None scores by today's former cosine (kept for the evaluation's comparison)."""
        self.vocabulary = list(vocabulary)
        self.beta, self.variety, self.spread, self.band = beta, float(variety), float(spread), float(band)
        columns = [index.column(t) for t in self.vocabulary]
        self._known = np.array([j for j, c in enumerate(columns) if c is not None], np.int64)
        sub = sp.csr_matrix(index.weighted[:, [c for c in columns if c is not None]])
        keep = np.flatnonzero(np.diff(sub.indptr) > 0)  # tracks with at least one of the tagger's tags
        sub = sp.csr_matrix(sub[keep], dtype=np.float32)
        norms = np.sqrt(np.asarray(sub.multiply(sub).sum(axis=1)).ravel())
        self.matrix = sp.csr_matrix(sub.multiply(1.0 / np.maximum(norms, 1e-12)[:, None]), dtype=np.float32)
        self.carries = sp.csr_matrix((sub > 0).astype(np.float32))  # tracks × known vocabulary tags, 0/1
        self.weighted = sub  # idf where the track carries the tag
        self._weight_sum = np.asarray(sub.sum(axis=1)).ravel()
        self.track_ids = index.track_ids[keep]
        self.idf = np.zeros(len(self.vocabulary), np.float32)
        self.idf[self._known] = index.idf[[c for c in columns if c is not None]]
        share = index.popularity_share[keep]
        self.lift = (1.0 - popularity_weight + popularity_weight * share).astype(np.float32)

    def __len__(self) -> int:
        return len(self.track_ids)

    def fit(self, tag_probs: np.ndarray) -> np.ndarray:
        """Per track (in `track_ids` order): how well its tags fit the clip's tag probabilities, 0..1."""
        p = np.maximum(np.asarray(tag_probs, np.float32)[self._known], 0.0)
        if p.max() <= 0:
            return np.zeros(len(self), np.float32)
        q = p * self.idf[self._known]
        if self.beta is None:  # the former scoring: cosine of idf-weighted vectors
            return np.asarray(self.matrix @ (q / np.linalg.norm(q))).ravel()
        coverage = np.asarray(self.carries @ (q / q.sum())).ravel()
        support = np.asarray(self.weighted @ (p / p.max())).ravel() / np.maximum(self._weight_sum, 1e-12)
        b2 = self.beta**2
        return (1 + b2) * support * coverage / np.maximum(b2 * support + coverage, 1e-12)

    def scores(self, tag_probs: np.ndarray) -> np.ndarray:
        """Per track: fit × popularity lift (the ranking before the draw and variety)."""
        return self.fit(tag_probs) * self.lift

    def rank(self, tag_probs: np.ndarray, k: int, banned: set[int]) -> list[tuple[int, float]]:
        """(row, score) of the k picks, in pick order (see the module docstring)."""
        scores = self.scores(tag_probs)
        size = min(len(scores), POOL + len(banned))
        top = np.argpartition(-scores, size - 1)[:size] if size < len(scores) else np.arange(len(scores))
        top = top[np.argsort(-scores[top], kind="stable")]
        pool = np.array([i for i in top if scores[i] > 0 and int(self.track_ids[i]) not in banned], np.int64)
        if not len(pool):
            return []
        rel = scores[pool] / scores[pool[0]]
        if self.spread <= 0 and self.variety <= 0:
            return [(int(i), float(scores[i])) for i in pool[:k]]
        within = max(k, int(np.sum(rel >= self.band)))
        pool, rel = pool[:within], rel[:within]
        key = rel
        if self.spread > 0:
            gumbel = np.random.default_rng(_seed(tag_probs)).gumbel(size=len(pool))
            key = np.exp(np.log(np.maximum(rel, 1e-12)) + self.spread * gumbel)
            key = key / key.max()
        sim = np.asarray((self.matrix[pool] @ self.matrix[pool].T).todense()) if self.variety > 0 else None
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
        out: list[Recommendation] = []
        for i, score in self.rank(p, k, set(exclude)):
            contrib = self.matrix[i].toarray().ravel() * q
            top = [self.vocabulary[self._known[j]] for j in np.argsort(-contrib)[:3] if contrib[j] > 0]
            out.append(Recommendation(int(self.track_ids[i]), round(score, 4), f"{TAGGED_REASON}: " + ", ".join(top)))
        return out

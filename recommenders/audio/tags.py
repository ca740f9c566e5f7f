"""Tags bridge sound and playlists: a clip's tag probabilities → catalogue tracks whose Last.fm tags fit.

The pretrained tagger speaks the Last.fm vocabulary (rock, 80s, instrumental, …) that the Yes.com corpus's tracks
are tagged with, so a clip reaches the whole catalogue, not only the few tracks that have audio. The bridge reads
the corpus's one tf-idf tag index (`recommenders.tags.TagIndex`, which also serves tag stations): each catalogue
track is its tf-idf vector restricted to the tagger's vocabulary (a tag every other track has says little; one few
tracks have says much); the clip is its tag probabilities weighted by the same idf; the match is their cosine,
lifted gently by popularity (among equally fitting tracks, the ones people play), and the reason names the tags
that contributed most.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import scipy.sparse as sp

from recommenders.base import Recommendation
from recommenders.tags import TagIndex

POPULARITY_WEIGHT = 0.2  # score = cosine × (1 − w + w · log-popularity share): fit first, popularity breaks ties


class TagBridge:
    def __init__(self, index: TagIndex, vocabulary: list[str]) -> None:
        self.vocabulary = list(vocabulary)
        columns = [index.column(t) for t in self.vocabulary]
        self._known = np.array([j for j, c in enumerate(columns) if c is not None], np.int64)
        sub = sp.csr_matrix(index.weighted[:, [c for c in columns if c is not None]])
        keep = np.flatnonzero(np.diff(sub.indptr) > 0)  # tracks with at least one of the tagger's tags
        sub = sp.csr_matrix(sub[keep])
        norms = np.sqrt(np.asarray(sub.multiply(sub).sum(axis=1)).ravel())
        self.matrix = sp.csr_matrix(sub.multiply(1.0 / np.maximum(norms, 1e-12)[:, None]), dtype=np.float32)
        self.track_ids = index.track_ids[keep]
        self.idf = np.zeros(len(self.vocabulary), np.float32)
        self.idf[self._known] = index.idf[[c for c in columns if c is not None]]
        share = index.popularity_share[keep]
        self.lift = (1.0 - POPULARITY_WEIGHT + POPULARITY_WEIGHT * share).astype(np.float32)

    def __len__(self) -> int:
        return len(self.track_ids)

    def recommend(self, tag_probs: np.ndarray, k: int = 10, exclude: Iterable[int] = ()) -> list[Recommendation]:
        """Tracks whose tags fit the clip's tag probabilities (one per vocabulary tag), best first."""
        if not len(self):
            return []
        q = (np.asarray(tag_probs, np.float32) * self.idf)[self._known]
        q /= np.linalg.norm(q) + 1e-12
        fit = np.asarray(self.matrix @ q).ravel()
        scores = fit * self.lift
        banned = set(exclude)
        out: list[Recommendation] = []
        for i in np.argsort(-scores, kind="stable"):
            track = int(self.track_ids[i])
            if track in banned or fit[i] <= 0:
                continue
            contrib = self.matrix[int(i)].toarray().ravel() * q
            top = [self.vocabulary[self._known[j]] for j in np.argsort(-contrib)[:3] if contrib[j] > 0]
            out.append(Recommendation(track, round(float(scores[i]), 4), "tagged alike: " + ", ".join(top)))
            if len(out) == k:
                break
        return out

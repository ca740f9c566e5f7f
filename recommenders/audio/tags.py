"""Tags bridge sound and playlists: a clip's tag probabilities → catalogue tracks whose Last.fm tags fit.

The pretrained tagger speaks the Last.fm vocabulary (rock, 80s, instrumental, …) that the Yes.com corpus's tracks
are tagged with, so a clip reaches the whole catalogue, not only the few tracks that have audio. Each catalogue
track is a tf-idf vector over the tagger's vocabulary (a tag every other track has says little; one few tracks
have says much); the clip is its tag probabilities weighted by the same idf; the match is their cosine, lifted
gently by popularity (how many playlists hold the track: among equally fitting tracks, the ones people play), and
the reason names the tags that contributed most.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from recommenders.base import Recommendation

POPULARITY_WEIGHT = 0.2  # score = cosine × (1 − w + w · log-popularity share): fit first, popularity breaks ties
MIN_TAGS = 1


class TagBridge:
    def __init__(
        self,
        vocabulary: list[str],
        track_tags: Mapping[int, Iterable[str]],
        popularity: Mapping[int, float] | None = None,
    ) -> None:
        self.vocabulary = list(vocabulary)
        column = {t.lower(): j for j, t in enumerate(self.vocabulary)}
        rows: list[tuple[int, list[int]]] = []
        for track, tags in track_tags.items():
            cols = sorted({column[t.lower()] for t in tags if t.lower() in column})
            if len(cols) >= MIN_TAGS:
                rows.append((int(track), cols))
        self.track_ids = np.array([t for t, _ in rows], np.int64)
        m = np.zeros((len(rows), len(self.vocabulary)), np.float32)
        for i, (_, cols) in enumerate(rows):
            m[i, cols] = 1.0
        df = m.sum(axis=0)
        self.idf = np.where(df > 0, np.log((1 + len(rows)) / (1 + df)) + 1.0, 0.0).astype(np.float32)
        m *= self.idf
        self.matrix = m / (np.linalg.norm(m, axis=1, keepdims=True) + 1e-12)
        pop = np.array([float((popularity or {}).get(int(t), 0.0)) for t in self.track_ids], np.float32)
        share = np.log1p(pop) / max(1e-9, float(np.log1p(pop.max()))) if len(pop) else pop
        self.lift = (1.0 - POPULARITY_WEIGHT + POPULARITY_WEIGHT * share).astype(np.float32)

    def __len__(self) -> int:
        return len(self.track_ids)

    @classmethod
    def from_corpus(cls, corpus, vocabulary: list[str]) -> TagBridge:
        """Track tags of the corpus (Yes.com's Last.fm tags) and playlist counts as popularity."""
        playlists = corpus.playlist_matrix()
        counts = np.asarray(playlists.matrix.sum(axis=0)).ravel()
        popularity = {int(t): float(c) for t, c in zip(playlists.item_ids, counts, strict=True)}
        return cls(vocabulary, corpus.track_tags(), popularity)

    def recommend(self, tag_probs: np.ndarray, k: int = 10, exclude: Iterable[int] = ()) -> list[Recommendation]:
        """Tracks whose tags fit the clip's tag probabilities (one per vocabulary tag), best first."""
        if not len(self):
            return []
        q = np.asarray(tag_probs, np.float32) * self.idf
        q /= np.linalg.norm(q) + 1e-12
        fit = self.matrix @ q
        scores = fit * self.lift
        banned = set(exclude)
        out: list[Recommendation] = []
        for i in np.argsort(-scores, kind="stable"):
            track = int(self.track_ids[i])
            if track in banned or fit[i] <= 0:
                continue
            contrib = self.matrix[i] * q
            top = [self.vocabulary[j] for j in np.argsort(-contrib)[:3] if contrib[j] > 0]
            out.append(Recommendation(track, round(float(scores[i]), 4), "tagged alike: " + ", ".join(top)))
            if len(out) == k:
                break
        return out

"""The corpus's Last.fm tags as a tf-idf index: what a tag means in text, and which tracks represent it.

People name genres and moods the way Last.fm users tagged songs ("80s rock", "chill", "new wave"). `TagIndex` reads
the tag vocabulary and each track's tags from the corpus (through `data.corpus.Corpus`), weights them by tf-idf so
that a track where "new wave" is one of three tags represents the tag better than one where it is one of forty, and
answers: which known tags a text names (`parse`), the closest known tags to a text that names none (`closest`), and
the tracks that best represent a set of tags (`representative`), with popularity only as a mild tie-breaker so a
station is not just the tag's hits.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from rapidfuzz import fuzz, process

from data.corpus import Corpus

_SPACES = re.compile(r"[\s_\-]+")


def normalise_tag(text: str) -> str:
    return _SPACES.sub(" ", text.casefold()).strip()


def _plays(playlists: Iterable[Sequence[int]], row: Mapping[int, int], n_tracks: int) -> sp.csr_matrix:
    """Playlists × the index's tracks, 1 where the playlist holds the track (untagged tracks are left out)."""
    held = Corpus.matrix_from_playlists(list(p) for p in playlists)
    cols = np.array([row.get(int(t), -1) for t in held.item_ids], np.int64)
    mine = np.flatnonzero(cols >= 0)
    onto = sp.csr_matrix((np.ones(len(mine), np.float32), (mine, cols[mine])), (len(cols), n_tracks))
    return sp.csr_matrix(held.matrix @ onto)


@dataclass(frozen=True)
class TagMatch:
    """Tags a text names, and what of the text is left over."""

    tags: tuple[str, ...]
    rest: str


class TagIndex:
    """Tracks × tags, tf-idf weighted, rows L2-normalised."""

    def __init__(
        self,
        track_tags: dict[int, frozenset[str]],
        popularity: dict[int, int],
        playlists: Iterable[Sequence[int]] = (),
    ) -> None:
        """`playlists` (track ids per playlist; the training ones in an evaluation) give `plays`: which tracks are
        played together, for the tag bridge's context profiles (`recommenders.audio.tags`)."""
        names = sorted({normalise_tag(t) for tags in track_tags.values() for t in tags})
        self.tags: list[str] = names
        self._tag_col = {t: i for i, t in enumerate(names)}
        self.track_ids = np.array(sorted(track_tags), dtype=np.int64)
        self._row = {int(t): i for i, t in enumerate(self.track_ids)}
        rows, cols = [], []
        for r, tid in enumerate(self.track_ids):
            for tag in {normalise_tag(t) for t in track_tags[int(tid)]}:
                rows.append(r)
                cols.append(self._tag_col[tag])
        data = np.ones(len(rows), dtype=np.float32)
        binary = sp.csr_matrix((data, (rows, cols)), shape=(len(self.track_ids), len(names)), dtype=np.float32)
        df = np.asarray(binary.sum(axis=0)).ravel()
        idf = np.log((1 + len(self.track_ids)) / (1 + df)) + 1.0
        weighted = binary.multiply(idf[None, :]).tocsr()
        self.idf = idf.astype(np.float32)
        self.weighted = weighted  # tracks × tags tf-idf, rows not normalised (TagBridge takes a column subset)
        norms = np.sqrt(np.asarray(weighted.multiply(weighted).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        self._matrix = sp.csr_matrix(weighted.multiply(1.0 / norms[:, None]))
        self._matrix_csc = self._matrix.tocsc()
        self.document_frequency = {t: int(df[i]) for i, t in enumerate(names)}
        pop = np.array([popularity.get(int(t), 0) for t in self.track_ids], dtype=np.float64)
        self._pop = np.log1p(pop) / max(1.0, float(np.log1p(pop.max()))) if len(pop) else pop
        self.plays = _plays(playlists, self._row, len(self.track_ids))

    @classmethod
    def from_corpus(cls, corpus: Corpus) -> TagIndex:
        track_tags = corpus.track_tags()
        infos = corpus.track_info(track_tags)
        return cls(track_tags, {t: i.popularity for t, i in infos.items()}, corpus.tagged_playlists())

    @property
    def popularity_share(self) -> np.ndarray:
        """Per track (in `track_ids` order): log-popularity as a share of the most popular track's, 0..1."""
        return self._pop

    def column(self, tag: str) -> int | None:
        """The tag's column in `weighted` and `idf`, or None when no corpus track carries it."""
        return self._tag_col.get(normalise_tag(tag))

    def __contains__(self, tag: object) -> bool:
        return isinstance(tag, str) and normalise_tag(tag) in self._tag_col

    def parse(self, text: str) -> TagMatch:
        """The known tags `text` names, longest first ("80s rock" is one tag, "80s" and "rock" two), and the rest."""
        words = normalise_tag(text).split(" ")
        found: list[str] = []
        rest: list[str] = []
        i = 0
        while i < len(words):
            for j in range(min(len(words), i + 6), i, -1):
                candidate = " ".join(words[i:j])
                if candidate in self._tag_col:
                    found.append(candidate)
                    i = j
                    break
            else:
                rest.append(words[i])
                i += 1
        return TagMatch(tuple(dict.fromkeys(found)), " ".join(w for w in rest if w))

    def closest(self, text: str, k: int = 5) -> list[str]:
        """Known tags closest to `text` (typos, "chillwave" → "chill", "chillout"), the more used first on ties."""
        query = normalise_tag(text)
        if not query:
            return []
        hits = process.extract(query, self.tags, scorer=fuzz.WRatio, limit=k * 3)
        ranked = sorted(hits, key=lambda h: (-round(h[1]), -self.document_frequency[h[0]], h[0]))
        return [name for name, score, _ in ranked if score >= 60][:k]

    def tags_of(self, track_id: int) -> list[str]:
        """The track's tags, most specific (highest tf-idf) first."""
        row = self._row.get(int(track_id))
        if row is None:
            return []
        start, end = self._matrix.indptr[row], self._matrix.indptr[row + 1]
        cols, vals = self._matrix.indices[start:end], self._matrix.data[start:end]
        return [self.tags[c] for c in cols[np.argsort(-vals, kind="stable")]]

    def match(self, track_ids: Sequence[int], tags: Iterable[str]) -> np.ndarray:
        """How well each track fits the tags: cosine of its tag vector with theirs (0 for untagged tracks)."""
        query = self._query(tags)
        out = np.zeros(len(track_ids), dtype=np.float64)
        if query is None or not len(track_ids):
            return out
        rows = np.array([self._row.get(int(t), -1) for t in track_ids], dtype=np.int64)
        known = rows >= 0
        if known.any():  # one sparse product for all the tracks (an ask answer scores hundreds of candidates)
            out[known] = np.asarray(self._matrix[rows[known]] @ query).ravel()
        return out

    def representative(
        self, tags: Iterable[str], k: int = 50, exclude: Iterable[int] = (), weights: Mapping[str, float] | None = None
    ) -> list[tuple[int, float]]:
        """(track id, score) of the tracks that best represent `tags`: tf-idf cosine, popularity a 10 % nudge.
        `weights` (tag → weight, default 1 each) lets a request ask for more of one tag ("more 80s")."""
        query = self._query(tags, weights)
        if query is None:
            return []
        scores = np.asarray(self._matrix_csc @ query).ravel()
        scores = scores * (0.9 + 0.1 * self._pop)
        banned = {self._row[int(t)] for t in exclude if int(t) in self._row}
        order = np.argsort(-scores, kind="stable")
        out: list[tuple[int, float]] = []
        for i in order:
            if scores[i] <= 0 or len(out) >= k:
                break
            if int(i) not in banned:
                out.append((int(self.track_ids[i]), float(scores[i])))
        return out

    def _query(self, tags: Iterable[str], weights: Mapping[str, float] | None = None) -> np.ndarray | None:
        cols = {self._tag_col[n]: (weights or {}).get(t, 1.0) for t in tags if (n := normalise_tag(t)) in self._tag_col}
        if not cols:
            return None
        vec = np.zeros(len(self.tags), dtype=np.float64)
        for c, w in cols.items():
            vec[c] = w
        return vec / float(np.linalg.norm(vec)) if np.linalg.norm(vec) > 0 else None

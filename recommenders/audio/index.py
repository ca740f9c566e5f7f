"""Nearest neighbours over the slice embeddings of the catalogue, with votes per track.

Each catalogue track is the set of its slices' embeddings. A query clip's slices each look up their `per_slice`
nearest catalogue slices (cosine); each neighbour votes for its track with its similarity. A track's votes from
one query slice are its `per_track` best similarities divided by min(its slice count, `per_track`), so a long
track cannot outvote an exact copy of a short one just by owning more slices (with the default of 1 this is the
best-matching slice of each track); a track's score is the mean of that over the query slices (1.0: every query
slice found an identical slice of the track), and its reason counts the query slices that matched it. The query
track's own slices are removed by track id — all of them, wherever they rank — rather than by dropping "the
first neighbour" as the reference implementation did (which dropped the wrong slice whenever another track's
slice was closer, and kept the query's other slices).
The exact search is one matrix product of the (unit) query slices with the (unit) catalogue slices and a partial
sort: the catalogue is normalised once at build time, so nothing is re-normalised per query (scikit-learn's cosine
NearestNeighbors did that, twice the time of the product itself); past `ann_threshold` slices a usearch HNSW
index answers behind the same interface.
An index built with `whiten=d` searches the PCA-whitened space of its own catalogue (whitening.py), fitted at build
time on every catalogue patch and applied to each query: the model's vectors are kept beside the searched ones, so
a grown index refits its whitening on the whole grown catalogue.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from recommenders.audio.whitening import Whitening, can_whiten, fit_whitening
from recommenders.base import Recommendation

PER_TRACK = 1
#: Neighbours each query slice looks up. In the whitened space an excerpt of an indexed track finds its own track's
#: slices first, and 20 neighbours per slice left a clip of a long indexed song with 3 tracks sounding alike instead
#: of 5; with 50 every demonstration clip gets its 5, and label P@5 on unseen labels is unchanged (0.804 → 0.801,
#: MAP 0.72 → 0.73; README, "Evaluation").
PER_SLICE = 50


def _normalise(x: np.ndarray) -> np.ndarray:
    return (x / (np.linalg.norm(x, axis=1, keepdims=True) + 1e-12)).astype(np.float32)


class AudioIndex:
    """`whiten`: the whitened size to search in (None: the model's own space); an index with fewer patches than
    `whitening.can_whiten` asks for searches the model's space until it grows enough."""

    def __init__(self, ann_threshold: int = 200_000, whiten: int | None = None) -> None:
        self.ann_threshold = ann_threshold
        self.whiten = whiten
        self.whitening: Whitening | None = None
        self.raw: np.ndarray | None = None  # the model's vectors, kept only when whitening (a grown index refits)
        self.embeddings = np.zeros((0, 256), np.float32)  # the searched vectors, unit length
        self.owners = np.zeros(0, np.int64)
        self._nn: tuple[str, Any] | None = None
        self._counts: dict[int, int] = {}

    def __len__(self) -> int:
        return len(self.embeddings)

    @property
    def track_ids(self) -> set[int]:
        return set(np.unique(self.owners).tolist())

    def fit(self, embeddings: np.ndarray, owners: np.ndarray) -> AudioIndex:
        raw = np.asarray(embeddings, np.float32)
        if self.whiten is not None:
            self.raw = raw
            self.whitening = fit_whitening(raw, self.whiten) if can_whiten(len(raw), self.whiten) else None
        self.embeddings = _normalise(self._space(raw))
        self.owners = np.asarray(owners, np.int64)
        self._build()
        return self

    def _space(self, x: np.ndarray) -> np.ndarray:
        """Vectors of the model in the space this index searches."""
        return self.whitening(x) if self.whitening is not None else np.asarray(x, np.float32)

    def add(self, embeddings: np.ndarray, owners: np.ndarray) -> AudioIndex:
        """A new index with more tracks (the old one is left untouched for readers still using it)."""
        if self.whiten is not None:
            assert self.raw is not None, "a whitening index keeps the model's vectors"
            have = self.raw
        else:
            have = self.embeddings  # unit vectors of the model's space: the new ones are normalised the same way
        return AudioIndex(self.ann_threshold, self.whiten).fit(
            np.concatenate([have, np.asarray(embeddings, np.float32)]),
            np.concatenate([self.owners, np.asarray(owners, np.int64)]),
        )

    def _build(self) -> None:
        tracks, counts = np.unique(self.owners, return_counts=True)
        self._counts = dict(zip(tracks.tolist(), counts.tolist(), strict=True))
        if len(self.embeddings) == 0:
            self._nn = None
        elif len(self.embeddings) > self.ann_threshold:
            # lazy: only past ann_threshold vectors; ~60 ms on every bot start otherwise
            from usearch.index import Index

            index = Index(
                ndim=self.embeddings.shape[1], metric="cos", dtype="f32", expansion_add=128, expansion_search=256
            )
            index.add(np.arange(len(self.embeddings)), self.embeddings)
            self._nn = ("usearch", index)
        else:
            self._nn = ("exact", None)

    def _neighbours(self, queries: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        """(slice indices, cosine similarities), each (queries, n)."""
        assert self._nn is not None
        kind, nn = self._nn
        if kind == "exact":
            sims = queries @ self.embeddings.T
            if n < sims.shape[1]:
                top = np.argpartition(-sims, n - 1, axis=1)[:, :n]
            else:
                top = np.broadcast_to(np.arange(sims.shape[1]), sims.shape).copy()
            top_sims = np.take_along_axis(sims, top, axis=1)
            order = np.argsort(-top_sims, axis=1, kind="stable")
            return np.take_along_axis(top, order, axis=1).astype(np.int64), np.take_along_axis(top_sims, order, axis=1)
        matches = nn.search(queries, n)
        return matches.keys.astype(np.int64), 1.0 - matches.distances

    def query(
        self,
        embeddings: np.ndarray,
        k: int = 10,
        *,
        exclude_track: int | None = None,
        per_slice: int = PER_SLICE,
        per_track: int = PER_TRACK,
    ) -> list[Recommendation]:
        if self._nn is None:
            return []
        queries = _normalise(self._space(np.asarray(embeddings, np.float32)))
        own = int(np.sum(self.owners == exclude_track)) if exclude_track is not None else 0
        n = min(len(self.embeddings), per_slice + own)
        idx, sim = self._neighbours(queries, n)
        votes: dict[int, float] = defaultdict(float)
        matched: dict[int, int] = defaultdict(int)
        for row_idx, row_sim in zip(idx, sim, strict=True):
            taken = 0
            mine: dict[int, list[float]] = defaultdict(list)
            for i, s in zip(row_idx, row_sim, strict=True):
                track = int(self.owners[i])
                if track == exclude_track:
                    continue
                mine[track].append(max(0.0, float(s)))
                taken += 1
                if taken == per_slice:
                    break
            for track, sims in mine.items():
                # neighbours come best first: the track's `per_track` best slices, over as many as it could offer
                votes[track] += sum(sims[:per_track]) / min(self._counts[track], per_track)
                matched[track] += 1
        ranked = sorted(votes.items(), key=lambda kv: (-kv[1], kv[0]))[:k]
        n_q = len(queries)
        return [
            Recommendation(t, round(v / n_q, 4), f"sounds alike: {matched[t]} close matches over {n_q} slices")
            for t, v in ranked
        ]

    def save(self, path: Path) -> None:
        """Uncompressed arrays: loading maps them instead of inflating a zip (a second of cold start per 100 MB)."""
        np.save(Path(path) / "embeddings.npy", np.ascontiguousarray(self.embeddings, np.float32))
        np.save(Path(path) / "owners.npy", np.asarray(self.owners, np.int64))
        if self.raw is not None:
            np.save(Path(path) / "raw.npy", np.ascontiguousarray(self.raw, np.float32))
        if self.whitening is not None:
            self.whitening.save(Path(path) / "whitening.npz")
        (Path(path) / "index.json").write_text(json.dumps(self.describe()))

    def describe(self) -> dict[str, Any]:
        """What a published index records of itself (its `index.json`)."""
        whitened = self.whitening.dims if self.whitening is not None else None
        return {"slices": len(self), "tracks": len(self.track_ids), "whiten": self.whiten, "whitened": whitened}

    @classmethod
    def load(cls, path: Path) -> AudioIndex:
        described = json.loads((Path(path) / "index.json").read_text()) if (Path(path) / "index.json").exists() else {}
        index = cls(whiten=described.get("whiten"))
        if (Path(path) / "whitening.npz").exists():
            index.whitening = Whitening.load(Path(path) / "whitening.npz")
        if (Path(path) / "raw.npy").exists():
            index.raw = np.load(Path(path) / "raw.npy", mmap_mode="r")
        if (Path(path) / "index.npz").exists():  # indexes published before arrays were stored uncompressed
            data = np.load(Path(path) / "index.npz")
            index.embeddings, index.owners = data["embeddings"], data["owners"]
        else:
            index.embeddings = np.load(Path(path) / "embeddings.npy", mmap_mode="r")
            index.owners = np.load(Path(path) / "owners.npy")
        index._build()
        return index

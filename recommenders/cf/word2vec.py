"""Word2Vec over playlists: songs are words, playlists are sentences in play order ("close in playlist embedding").

Two bugs of the reference implementation are guarded here:
- its corpus was a one-shot iterator, so gensim's vocabulary pass consumed it and training saw zero sentences (the
  vectors stayed random). `fit_sequences` refuses one-shot iterators and checks that training saw every sentence;
- it sorted results by artist; here results are ranked by cosine, best first.
Hyperparameters come from the evaluation on held-out Yes.com playlists (bench/cf_tune_word2vec.py): skip-gram, a
small window, many epochs and a *negative* `ns_exponent` (sampling rare songs more as negatives), as published work
on word2vec for recommendation found for music. Fixed `seed` + `workers=1` is bit-for-bit reproducible (gensim's
per-word init hash is replaced by a stable CRC, since Python's `hash` of str changes between processes).
"""

from __future__ import annotations

import zlib
from collections.abc import Collection, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np

from recommenders.base import NotInModel, Recommendation
from recommenders.cf.common import CFRecommender, top_k_dense


def stable_hash(text: str) -> int:
    """Process-independent hash for gensim's per-word random init (Python's str hash is salted per process)."""
    return zlib.crc32(text.encode("utf-8"))


class _Tokens:
    """Re-iterable view of sequences of ids as gensim sentences (lists of str), counting what was read."""

    def __init__(self, sequences: Iterable[Sequence[int]]) -> None:
        self._sequences = sequences
        self.passes = 0

    def __iter__(self) -> Iterator[list[str]]:
        self.passes += 1
        for seq in self._sequences:
            yield [str(int(t)) for t in seq]


class Word2VecRecommender(CFRecommender):
    """Skip-gram (or CBOW) song embeddings; similarity is the cosine of normalised vectors."""

    name: ClassVar[str] = "word2vec"

    def __init__(
        self,
        vector_size: int = 128,
        window: int = 3,
        negative: int = 10,
        ns_exponent: float = -0.5,
        sample: float = 1e-3,
        epochs: int = 10,
        sg: int = 1,
        min_count: int = 1,
        alpha: float = 0.025,
        seed: int = 42,
        workers: int = 2,
    ) -> None:
        self.vector_size = int(vector_size)
        self.window = int(window)
        self.negative = int(negative)
        self.ns_exponent = float(ns_exponent)
        self.sample = float(sample)
        self.epochs = int(epochs)
        self.sg = int(sg)
        self.min_count = int(min_count)
        self.alpha = float(alpha)
        self.seed = int(seed)
        self.workers = int(workers)
        self._items = np.zeros(0, dtype=np.int64)
        self._vectors = np.zeros((0, self.vector_size), dtype=np.float32)
        self._index: dict[int, int] = {}
        self.trained_sentences = 0

    def params(self) -> dict[str, Any]:
        return {
            "vector_size": self.vector_size,
            "window": self.window,
            "negative": self.negative,
            "ns_exponent": self.ns_exponent,
            "sample": self.sample,
            "epochs": self.epochs,
            "sg": self.sg,
            "min_count": self.min_count,
            "alpha": self.alpha,
            "seed": self.seed,
            "workers": self.workers,
        }

    @property
    def item_ids(self) -> np.ndarray:
        return self._items

    @property
    def vectors(self) -> np.ndarray:
        """Unit-length song vectors, row i for `item_ids[i]`."""
        return self._vectors

    def __contains__(self, track_id: object) -> bool:
        return isinstance(track_id, int | np.integer) and int(track_id) in self._index

    # --- training ---------------------------------------------------------------------------------------------
    def build(self, sequences: Iterable[Sequence[int]]):
        """A gensim Word2Vec with its vocabulary built from `sequences` and random (untrained) vectors."""
        if iter(sequences) is sequences:
            raise TypeError(
                "Word2Vec needs a re-iterable corpus (a list or Corpus.playlists()), not a one-shot iterator: "
                "gensim reads it once for the vocabulary and again for every epoch"
            )
        from gensim.models import Word2Vec

        model = Word2Vec(
            vector_size=self.vector_size,
            window=self.window,
            negative=self.negative,
            ns_exponent=self.ns_exponent,
            sample=self.sample,
            epochs=self.epochs,
            sg=self.sg,
            min_count=self.min_count,
            alpha=self.alpha,
            seed=self.seed,
            workers=self.workers,
            hashfxn=stable_hash,
        )
        tokens = _Tokens(sequences)
        model.build_vocab(tokens)
        if model.corpus_count == 0:
            raise ValueError("no playlists to train Word2Vec on")
        return model

    def train(self, model, sequences: Iterable[Sequence[int]]) -> Self:
        """Train a `build` result on the same sequences and keep its normalised vectors."""
        tokens = _Tokens(sequences)
        model.train(tokens, total_examples=model.corpus_count, epochs=model.epochs)
        if tokens.passes != model.epochs:
            raise RuntimeError(f"training read the corpus {tokens.passes} times for {model.epochs} epochs")
        self.trained_sentences = model.corpus_count
        kv = model.wv
        self._items = np.asarray([int(w) for w in kv.index_to_key], dtype=np.int64)
        vecs = np.asarray(kv.vectors, dtype=np.float32)
        self._vectors = vecs / np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)
        self._index = {int(t): i for i, t in enumerate(self._items)}
        return self

    def fit_sequences(
        self, sequences: Iterable[Sequence[int]], weights: Iterable[Sequence[float]] | None = None
    ) -> Self:
        if weights is not None:
            self.unit = "listeners"
        return self.train(self.build(sequences), sequences)

    # --- queries ----------------------------------------------------------------------------------------------
    def _rank(self, query: np.ndarray, k: int, banned: set[int], reason: str) -> list[Recommendation]:
        scores = self._vectors @ query
        for t in banned:
            i = self._index.get(t)
            if i is not None:
                scores[i] = -np.inf
        out = []
        for j in top_k_dense(scores, k):
            if not np.isfinite(scores[j]):
                break
            out.append(Recommendation(int(self._items[j]), float(scores[j]), f"{reason} (cosine {scores[j]:.2f})"))
        return out

    def similar(self, track_id: int, k: int = 10, *, exclude: Collection[int] = ()) -> list[Recommendation]:
        i = self._index.get(int(track_id))
        if i is None:
            raise NotInModel(int(track_id), self.name)
        return self._rank(self._vectors[i], k, set(exclude) | {int(track_id)}, "close in playlist embedding")

    def similar_to_many(
        self,
        seeds: Sequence[int],
        k: int = 10,
        *,
        weights: Sequence[float] | None = None,
        exclude: Collection[int] = (),
    ) -> list[Recommendation]:
        """Rank by cosine to the (weighted) mean of the known seeds' vectors."""
        weights = list(weights) if weights is not None else [1.0] * len(seeds)
        known = [(self._index[int(s)], w) for s, w in zip(seeds, weights, strict=True) if int(s) in self._index]
        if not known:
            raise NotInModel(int(seeds[0]) if len(seeds) else -1, self.name)
        w = np.asarray([w for _, w in known], dtype=np.float32)
        if self.unit == "listeners":
            w = np.log1p(w)
        query = (w[:, None] * self._vectors[[i for i, _ in known]]).sum(axis=0)
        query /= max(float(np.linalg.norm(query)), 1e-12)
        banned = set(exclude) | {int(s) for s in seeds}
        return self._rank(query, k, banned, "close to your songs in playlist embedding")

    # --- persistence ------------------------------------------------------------------------------------------
    def save(self, path: Path) -> None:
        if not len(self._items):
            raise RuntimeError("the word2vec model is not fitted")
        np.save(Path(path) / "items.npy", self._items)
        np.save(Path(path) / "vectors.npy", self._vectors)
        self._write_marker(path, {"n_items": len(self._items), "trained_sentences": self.trained_sentences})

    @classmethod
    def load(cls, path: Path) -> Self:
        marker = cls.read_marker(path)
        model = cls(**marker["params"])
        model.unit = marker.get("unit", model.unit)
        model.trained_sentences = int(marker.get("trained_sentences", 0))
        model._items = np.load(Path(path) / "items.npy")
        model._vectors = np.load(Path(path) / "vectors.npy")
        model._index = {int(t): i for i, t in enumerate(model._items)}
        return model

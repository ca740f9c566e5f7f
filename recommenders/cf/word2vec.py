"""Word2Vec over playlists: songs are words, playlists are sentences in play order ("close in playlist embedding").

Two bugs of the reference implementation are guarded here:
- its corpus was a one-shot iterator, so gensim's vocabulary pass consumed it and training saw zero sentences (the
  vectors stayed random). `fit_sequences` refuses one-shot iterators and checks that training saw every sentence;
- it sorted results by artist; here results are ranked by cosine, best first.
Hyperparameters come from held-out Yes.com playlists (bench/cf_tune.py; now read on validation only): skip-gram, a
small window, many epochs and a *negative* `ns_exponent` (sampling rare songs more as negatives), as published work
on word2vec for recommendation found for music. Fixed `seed` + `workers=1` is bit-for-bit reproducible (gensim's
per-word init hash is replaced by a stable CRC, since Python's `hash` of str changes between processes).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, ClassVar, Self

import numpy as np

from recommenders.cf.common import CFRecommender, State


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
        super().__init__()
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
        self._vectors = np.zeros((0, self.vector_size), dtype=np.float32)
        self.trained_sentences = 0

    @property
    def vectors(self) -> np.ndarray:
        """Unit-length song vectors, row i for `item_ids[i]`."""
        return self._vectors

    # --- training ---------------------------------------------------------------------------------------------
    def build(self, sequences: Iterable[Sequence[int]]):
        """A gensim Word2Vec with its vocabulary built from `sequences` and random (untrained) vectors."""
        if iter(sequences) is sequences:
            raise TypeError(
                "Word2Vec needs a re-iterable corpus (a list or Corpus.playlists()), not a one-shot iterator: "
                "gensim reads it once for the vocabulary and again for every epoch"
            )
        from gensim.models import Word2Vec  # lazy: gensim takes 1.6 s to import and only fitting needs it

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
        self._set_items(np.asarray([int(w) for w in kv.index_to_key], dtype=np.int64))
        vecs = np.asarray(kv.vectors, dtype=np.float32)
        self._vectors = vecs / np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)
        return self

    def fit_sequences(
        self, sequences: Iterable[Sequence[int]], weights: Iterable[Sequence[float]] | None = None
    ) -> Self:
        if weights is not None:
            self.unit = "listeners"
        return self.train(self.build(sequences), sequences)

    # --- queries ----------------------------------------------------------------------------------------------
    def scores(self, rows: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """Cosine to the seed's vector, or to the (weighted) mean of the seeds' vectors."""
        query = (weights[:, None] * self._vectors[rows]).sum(axis=0)
        query /= max(float(np.linalg.norm(query)), 1e-12)
        return self._vectors @ query

    def reasons(self, rows: np.ndarray, weights: np.ndarray, picks: np.ndarray, scores: np.ndarray) -> list[str]:
        text = "close in playlist embedding" if len(rows) == 1 else "close to your songs in playlist embedding"
        return [f"{text} (cosine {s:.2f})" for s in scores]

    # --- persistence ------------------------------------------------------------------------------------------
    def _state(self) -> State:
        return {"vectors": self._vectors}

    def _restore(self, state: Mapping[str, Any]) -> None:
        self._vectors = np.asarray(state["vectors"], dtype=np.float32)
        self.trained_sentences = int(state["marker"].get("trained_sentences", 0))

    def _extra_marker(self) -> dict[str, Any]:
        return {"trained_sentences": self.trained_sentences}

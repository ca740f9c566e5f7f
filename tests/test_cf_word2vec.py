"""Word2Vec over real Yes.com playlists: the stream is really trained on, results ranked by score, reproducible."""

from __future__ import annotations

import numpy as np
import pytest

from recommenders.base import NotInModel
from recommenders.cf.models import load_recommender
from recommenders.cf.word2vec import Word2VecRecommender


@pytest.fixture(scope="module")
def some_playlists(yes_corpus) -> list[list[int]]:
    return [list(p) for p in yes_corpus.playlists()][:6000]


def test_training_on_the_corpus_stream_moves_the_vectors(yes_corpus) -> None:
    rec = Word2VecRecommender(epochs=2, vector_size=32, workers=1)
    stream = yes_corpus.playlists()  # the re-iterable DB stream itself, as `fit(corpus)` uses it
    model = rec.build(stream)
    assert model.corpus_count == 18_139
    before = model.wv.vectors.copy()
    rec.train(model, stream)
    moved = np.linalg.norm(model.wv.vectors - before, axis=1)
    assert rec.trained_sentences == 18_139
    assert np.median(moved) > 0.05 * np.median(np.linalg.norm(before, axis=1))
    assert (moved > 0).mean() > 0.99


def test_one_shot_iterator_is_refused(some_playlists) -> None:
    with pytest.raises(TypeError, match="re-iterable"):
        Word2VecRecommender(epochs=1).fit_sequences(iter(some_playlists))


def test_sorted_by_score_neighbours_cooccur(some_playlists) -> None:
    rec = Word2VecRecommender(epochs=5, vector_size=32, workers=1).fit_sequences(some_playlists)
    counts: dict[int, int] = {}
    for p in some_playlists:
        for t in set(p):
            counts[t] = counts.get(t, 0) + 1
    seed = max(counts, key=counts.get)
    recs = rec.similar(seed, 25)
    scores = [r.score for r in recs]
    assert scores == sorted(scores, reverse=True) and len(recs) == 25
    assert seed not in {r.track_id for r in recs}
    assert all(r.reason.startswith("close in playlist embedding (cosine ") for r in recs)
    # learned, not random: most of the top neighbours share a playlist with the seed
    holders = [set(p) for p in some_playlists if seed in p]
    shared = sum(any(r.track_id in h for h in holders) for r in recs[:10])
    assert shared >= 7
    with pytest.raises(NotInModel):
        rec.similar(-5)


def test_determinism_and_round_trip(some_playlists, tmp_path) -> None:
    a = Word2VecRecommender(epochs=2, vector_size=24, workers=1, seed=3).fit_sequences(some_playlists)
    b = Word2VecRecommender(epochs=2, vector_size=24, workers=1, seed=3).fit_sequences(some_playlists)
    c = Word2VecRecommender(epochs=2, vector_size=24, workers=1, seed=4).fit_sequences(some_playlists)
    assert np.array_equal(a.vectors, b.vectors)
    assert not np.allclose(a.vectors, c.vectors)
    a.save(tmp_path)
    loaded = load_recommender(tmp_path)
    assert isinstance(loaded, Word2VecRecommender) and loaded.params() == a.params()
    seed = int(a.item_ids[0])
    assert loaded.similar(seed, 10) == a.similar(seed, 10)
    seeds = [int(t) for t in a.item_ids[:5]]
    assert loaded.similar_to_many(seeds, 10) == a.similar_to_many(seeds, 10)

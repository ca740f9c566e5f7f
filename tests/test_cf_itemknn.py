"""Sparse item-kNN on the real Yes.com playlists: ranking, reasons, persistence, and beating popularity."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from recommenders.cf.baselines import PopularityRecommender, RandomRecommender
from recommenders.cf.itemknn import ItemKNN
from recommenders.evaluation import evaluate_recommender, playlist_split


@pytest.fixture(scope="module")
def split(yes_corpus):
    return playlist_split(yes_corpus, n_test=400, seed=7)


@pytest.fixture(scope="module")
def knn(yes_corpus) -> ItemKNN:
    return ItemKNN().fit(yes_corpus)


@pytest.fixture(scope="module")
def playlists(yes_corpus) -> list[list[int]]:
    return [list(p) for p in yes_corpus.playlists()]


def _most_common_track(playlists) -> int:
    return Counter(t for p in playlists for t in set(p)).most_common(1)[0][0]


def test_results_sorted_by_score_and_reasons_quote_true_counts(knn, playlists) -> None:
    seed = _most_common_track(playlists)
    recs = knn.similar(seed, 20)
    assert len(recs) == 20
    scores = [r.score for r in recs]
    assert scores == sorted(scores, reverse=True)
    assert seed not in {r.track_id for r in recs}
    holders = [set(p) for p in playlists if seed in p]
    for r in recs[:5]:
        together = sum(r.track_id in p for p in holders)
        assert r.reason == f"appears with it in {together} playlists" or (
            together == 1 and r.reason == "appears with it in 1 playlist"
        )


def test_block_size_does_not_change_the_table(split) -> None:
    a = split.fit(ItemKNN(block=10_000))
    b = split.fit(ItemKNN(block=97))
    some = [int(t) for t in a.item_ids[:200]]
    for t in some:
        assert [r.track_id for r in a.similar(t, 10)] == [r.track_id for r in b.similar(t, 10)]
        assert np.allclose([r.score for r in a.similar(t, 10)], [r.score for r in b.similar(t, 10)], rtol=1e-5)


def test_beats_popularity_and_random(split) -> None:
    knn = evaluate_recommender(split.fit(ItemKNN()), split)
    pop = evaluate_recommender(split.fit(PopularityRecommender()), split)
    rnd = evaluate_recommender(split.fit(RandomRecommender()), split)
    for metric in ("r_precision", "ndcg@100", "recall@100", "hr@10_next"):
        assert knn[metric] > 2 * pop[metric] > rnd[metric], metric
    assert knn["clicks"] < pop["clicks"]
    assert knn["coverage@10"] > 20 * pop["coverage@10"]

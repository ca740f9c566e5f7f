"""ALS (implicit) on real Yes.com playlists: exact vs ANN similar, the seeds' user equation, persistence."""

from __future__ import annotations

import numpy as np
import pytest

from recommenders.base import NotInModel
from recommenders.cf.als import ALSRecommender
from recommenders.cf.baselines import PopularityRecommender
from recommenders.cf.models import load_recommender
from recommenders.evaluation import evaluate_recommender, playlist_split


@pytest.fixture(scope="module")
def split(yes_corpus):
    return playlist_split(yes_corpus, n_test=400, seed=3)


@pytest.fixture(scope="module")
def als(split) -> ALSRecommender:
    return split.fit(ALSRecommender(factors=48, iterations=8, use_ann=True, threads=1))


def test_sorted_unknown_and_deterministic(als, split) -> None:
    seed = int(als.item_ids[0])
    recs = als.similar_exact(seed, 20)
    assert [r.score for r in recs] == sorted((r.score for r in recs), reverse=True)
    assert seed not in {r.track_id for r in recs}
    with pytest.raises(NotInModel):
        als.similar(-1)
    with pytest.raises(NotInModel):
        als.similar_to_many([-1, -2])
    again = split.fit(ALSRecommender(factors=48, iterations=8, threads=1))
    assert np.allclose(again.item_factors, als.item_factors, atol=1e-5)


def test_ann_agrees_with_exact(als) -> None:
    rng = np.random.default_rng(0)
    seeds = rng.choice(als.item_ids, size=200, replace=False)
    overlap = []
    for s in seeds:
        exact = {r.track_id for r in als.similar_exact(int(s), 10)}
        approx = als.similar(int(s), 10)
        assert int(s) not in {r.track_id for r in approx}
        overlap.append(len(exact & {r.track_id for r in approx}) / 10)
    assert np.mean(overlap) > 0.9


def test_user_equation_recovers_a_training_row(als, split) -> None:
    """The seeds' solved user vector ranks the seeds themselves near the top (it explains them)."""
    case = max(split.cases, key=lambda c: len(c.seeds))
    x = als.user_vector(list(case.seeds))
    scores = als.item_factors @ x
    ranks = (-scores).argsort().argsort()
    idx = {int(t): i for i, t in enumerate(als.item_ids)}
    seed_ranks = [ranks[idx[s]] for s in case.seeds if s in idx]
    assert np.median(seed_ranks) < 0.05 * len(als.item_ids)


def test_round_trip_with_ann(als, tmp_path) -> None:
    als.save(tmp_path)
    loaded = load_recommender(tmp_path)
    assert loaded._ann is not None  # the index is rebuilt from the saved factors
    assert isinstance(loaded, ALSRecommender) and loaded.params() == als.params()
    seed = int(als.item_ids[5])
    assert [r.track_id for r in loaded.similar(seed, 10)] == [r.track_id for r in als.similar(seed, 10)]
    seeds = [int(t) for t in als.item_ids[:6]]
    assert loaded.similar_to_many(seeds, 10) == als.similar_to_many(seeds, 10)


def test_beats_popularity(als, split) -> None:
    ours = evaluate_recommender(als, split)
    pop = evaluate_recommender(split.fit(PopularityRecommender()), split)
    assert ours["r_precision"] > 2 * pop["r_precision"]
    assert ours["ndcg@100"] > 2 * pop["ndcg@100"]

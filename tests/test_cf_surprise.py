"""Surprise KNNBaseline on a graded signal: neighbours ordered by evidence, a capped dense matrix, play counts."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from scipy.stats import spearmanr

from data.corpus import Corpus
from data.db import make_engine, migrate
from recommenders.base import NotInModel
from recommenders.cf.baselines import PopularityRecommender
from recommenders.cf.models import load_recommender
from recommenders.cf.surprise_knn import SurpriseKNNBaseline, max_items_for
from recommenders.evaluation import evaluate_recommender, listener_split, playlist_split


@pytest.fixture(scope="module")
def playlists(yes_corpus) -> list[list[int]]:
    return [list(p) for p in yes_corpus.playlists()]


@pytest.fixture(scope="module")
def knnb(playlists) -> SurpriseKNNBaseline:
    return SurpriseKNNBaseline(max_items=1500).fit_sequences(playlists)


def _popular(playlists, n: int) -> list[int]:
    return [t for t, _ in Counter(t for p in playlists for t in set(p)).most_common(n)]


def test_neighbours_are_graded_and_ordered_by_evidence(knnb, playlists) -> None:
    distinct, correlations = [], []
    for seed in _popular(playlists, 20):
        recs = knnb.similar(seed, 30)
        scores = [r.score for r in recs]
        assert scores == sorted(scores, reverse=True)
        distinct.append(len(set(np.round(scores, 6))))
        counts = [int(r.reason.split(" in ")[1].split()[0]) for r in recs]
        correlations.append(spearmanr(scores, counts).statistic)
    assert min(distinct) >= 20  # not ties
    assert np.median(correlations) > 0.3  # more shared playlists → higher similarity


def test_all_one_ratings_give_ties_and_pearson_is_refused(playlists) -> None:
    flat = SurpriseKNNBaseline(max_items=300, graded=False, similarity="msd").fit_sequences(playlists)
    seed = _popular(playlists, 1)[0]
    assert {round(r.score, 9) for r in flat.similar(seed, 30)} == {1.0}  # the reference bug: arbitrary ties
    with pytest.raises(ValueError, match="zero variance"):
        SurpriseKNNBaseline(graded=False, similarity="pearson_baseline")


def test_dense_matrix_is_capped(knnb, playlists) -> None:
    assert len(knnb.item_ids) == 1500
    counts = Counter(t for p in playlists for t in set(p))
    kept = set(knnb.item_ids.tolist())
    # the cut follows popularity: nothing dropped is more popular than anything kept (ties at the cut may go
    # either way)
    assert min(counts[t] for t in kept) >= max(c for t, c in counts.items() if t not in kept)
    rare = Counter(t for p in playlists for t in set(p)).most_common()[-1][0]
    with pytest.raises(NotInModel):
        knnb.similar(rare)
    with pytest.raises(ValueError, match="limit is"):
        SurpriseKNNBaseline(max_items=max_items_for() + 1)


def test_fixed_seed_is_reproducible(knnb, playlists) -> None:
    again = SurpriseKNNBaseline(max_items=1500).fit_sequences(playlists)
    other = SurpriseKNNBaseline(max_items=1500, seed=7).fit_sequences(playlists)
    seeds = _popular(playlists, 10)
    assert all(again.similar(s, 20) == knnb.similar(s, 20) for s in seeds)
    assert any(other.similar(s, 20) != knnb.similar(s, 20) for s in seeds)  # the sampled negatives matter


def test_round_trip(knnb, playlists, tmp_path) -> None:
    knnb.save(tmp_path)
    loaded = load_recommender(tmp_path)
    assert isinstance(loaded, SurpriseKNNBaseline) and loaded.params() == knnb.params()
    seeds = _popular(playlists, 5)
    assert loaded.similar(seeds[0], 10) == knnb.similar(seeds[0], 10)
    assert loaded.similar_to_many(seeds, 10) == knnb.similar_to_many(seeds, 10)


def test_beats_popularity_on_held_out_playlists(yes_corpus) -> None:
    split = playlist_split(yes_corpus, n_test=400, seed=11)
    knnb = evaluate_recommender(split.fit(SurpriseKNNBaseline(max_items=2000)), split)
    pop = evaluate_recommender(split.fit(PopularityRecommender()), split)
    assert knnb["r_precision"] > 2 * pop["r_precision"]
    assert knnb["ndcg@100"] > 2 * pop["ndcg@100"]


@pytest.fixture(scope="module")
def lastfm_corpus(tmp_path_factory, shared_data):
    from data.importers.hetrec import import_hetrec

    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('hetrec') / 'h.db'}")
    migrate(engine)
    import_hetrec(engine, shared_data / "hetrec-lastfm-2k")
    yield Corpus(engine)
    engine.dispose()


def test_real_play_counts_on_lastfm(lastfm_corpus) -> None:
    split = listener_split(lastfm_corpus, n_test=200, seed=5)
    model = split.fit(SurpriseKNNBaseline(max_items=1500))
    assert model.unit == "listeners"
    seed = int(model.item_ids[0])
    recs = model.similar(seed, 20)
    assert len({round(r.score, 6) for r in recs}) >= 15
    assert "listeners" in recs[0].reason
    ours = evaluate_recommender(model, split)
    pop = evaluate_recommender(split.fit(PopularityRecommender()), split)
    assert ours["ndcg@100"] > pop["ndcg@100"]

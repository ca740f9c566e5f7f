"""Session-kNN, RP3beta and EASE^R on real Yes.com playlists: true reasons, and both user paths beat popularity."""

from __future__ import annotations

from collections import Counter

import pytest

from recommenders.cf.baselines import PopularityRecommender
from recommenders.cf.ease import EASE, max_items_for
from recommenders.cf.models import make_model
from recommenders.cf.sknn import SessionKNN
from recommenders.evaluation import evaluate_recommender, paired_ratio, playlist_split


@pytest.fixture(scope="module")
def playlists(yes_corpus) -> list[list[int]]:
    return [list(p) for p in yes_corpus.playlists()]


def test_sknn_reasons_quote_true_counts(playlists) -> None:
    model = SessionKNN(neighbours=100).fit_sequences(playlists)
    holders = Counter(t for p in playlists for t in set(p))
    rare = next(t for t, n in holders.most_common() if 20 <= n <= 40)
    together = [set(p) for p in playlists if rare in p]
    for r in model.similar(rare, 10):
        n = sum(r.track_id in p for p in together)
        assert r.reason == (f"appears with it in {n} playlists" if n != 1 else "appears with it in 1 playlist")
    hot = holders.most_common(1)[0][0]
    assert all(r.reason.endswith("of its 100 closest playlists") for r in model.similar(hot, 5))
    assert all(r.reason.endswith("playlists like yours") for r in model.similar_to_many([rare, hot], 5))


@pytest.mark.fast
def test_ease_cap_is_refused_beyond_the_memory_budget() -> None:
    with pytest.raises(ValueError, match="limit is"):
        EASE(max_items=max_items_for() + 1)


@pytest.mark.parametrize("protocol", ["one-seed", "multi-seed"])
def test_strong_baselines_beat_popularity_on_both_paths(yes_corpus, protocol) -> None:
    split = playlist_split(yes_corpus, n_test=300, seed=13, protocol=protocol)
    pop: dict = {}
    evaluate_recommender(split.fit(PopularityRecommender()), split, per_case=pop)
    for name in ("sknn", "rp3beta", "ease"):
        ours: dict = {}
        params = {"max_items": 2000} if name == "ease" else {}
        evaluate_recommender(split.fit(make_model(name, protocol=protocol, **params)), split, per_case=ours)
        _, lo, _ = paired_ratio(ours["ndcg@100"], pop["ndcg@100"])
        assert lo > 1.2, (name, protocol, lo)  # significantly better than popular songs

"""Blend of CF models and re-ranking for variety, on real Yes.com playlists."""

from __future__ import annotations

from collections import Counter

import pytest

from recommenders.base import NotInModel
from recommenders.cf.baselines import PopularityRecommender
from recommenders.cf.blend import Blend, Reranked
from recommenders.cf.registry import load_recommender
from recommenders.cf.rerank import rerank
from recommenders.evaluation import evaluate_recommender, playlist_split

PARTS = [
    {"class": "itemknn", "params": {}, "weight": 1.0},
    {"class": "als", "params": {"factors": 32, "iterations": 6, "threads": 1}, "weight": 1.0},
]


@pytest.fixture(scope="module")
def split(yes_corpus):
    return playlist_split(yes_corpus, n_test=300, seed=21)


@pytest.fixture(scope="module")
def blend(split) -> Blend:
    return split.fit(Blend(PARTS))


def test_blend_ranks_carry_part_reasons_and_round_trip(blend, split, tmp_path) -> None:
    seeds = list(split.cases[0].seeds)
    recs = blend.similar_to_many(seeds, 30)
    assert [r.score for r in recs] == sorted((r.score for r in recs), reverse=True)
    assert not set(seeds) & {r.track_id for r in recs}
    assert all(r.reason.startswith(("appears with ", "fits the taste of your songs (score ")) for r in recs)
    assert any(r.reason.startswith("appears with ") for r in recs)  # item-kNN evidence survives the fusion
    blend.save(tmp_path)
    loaded = load_recommender(tmp_path)
    assert isinstance(loaded, Blend)
    assert loaded.similar_to_many(seeds, 10) == blend.similar_to_many(seeds, 10)
    assert loaded.similar(seeds[0], 10) == blend.similar(seeds[0], 10)
    with pytest.raises(NotInModel):
        blend.similar(-3)
    with pytest.raises(ValueError, match="unknown blend part"):
        Blend([{"class": "nope"}])


def test_blend_beats_popularity(blend, split) -> None:
    ours = evaluate_recommender(blend, split)
    pop = evaluate_recommender(split.fit(PopularityRecommender()), split)
    assert ours["r_precision"] > 2 * pop["r_precision"] and ours["ndcg@100"] > 2 * pop["ndcg@100"]


def test_rerank_options_trade_accuracy_for_variety(blend, split) -> None:
    artists = split.item_artists
    # the seed with the most same-artist picks in its plain list
    seed = max(
        (int(t) for t in blend.models[0].item_ids[:300]),
        key=lambda s: sum(artists.get(r.track_id, (0,))[0] in artists.get(s, ()) for r in blend.similar(s, 10)),
    )
    plain = blend.similar(seed, 30)
    own = set(artists[seed])
    capped = rerank(plain, artists, k=10, max_per_artist=1)
    assert len({artists[r.track_id][0] for r in capped}) == len(capped) == 10
    assert [r.score for r in capped] == sorted((r.score for r in capped), reverse=True)
    no_own = rerank(plain, artists, k=10, seed_artists=own, exclude_seed_artist=True)
    assert any(own & set(artists[r.track_id]) for r in plain[:10])
    assert not any(own & set(artists[r.track_id]) for r in no_own)
    mmr = rerank(plain, artists, k=10, mmr_lambda=0.3)
    counts = Counter(artists[r.track_id][0] for r in mmr)
    assert max(counts.values()) == 1
    with pytest.raises(ValueError):
        rerank(plain, artists, mmr_lambda=2.0)
    wrapped = evaluate_recommender(Reranked(blend, artists, max_per_artist=1), split, limit=150)
    raw = evaluate_recommender(blend, split, limit=150)
    assert wrapped["artist_div@10"] > raw["artist_div@10"]

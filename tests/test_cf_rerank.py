"""Re-ranking for variety (artist cap, no seed artist, MMR) on item-kNN lists from real Yes.com playlists."""

from __future__ import annotations

from collections import Counter

import pytest

from recommenders.cf.itemknn import ItemKNN
from recommenders.cf.rerank import Reranked, rerank
from recommenders.evaluation import evaluate_recommender, playlist_split


@pytest.fixture(scope="module")
def split(yes_corpus):
    return playlist_split(yes_corpus, n_test=300, seed=21)


def test_rerank_options_trade_accuracy_for_variety(split) -> None:
    knn = split.fit(ItemKNN())
    artists = split.item_artists
    # the seed with the most same-artist picks in its plain list
    seed = max(
        (int(t) for t in knn.item_ids[:300]),
        key=lambda s: sum(artists.get(r.track_id, (0,))[0] in artists.get(s, ()) for r in knn.similar(s, 10)),
    )
    plain = knn.similar(seed, 30)
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
    wrapped = evaluate_recommender(Reranked(knn, artists, max_per_artist=1), split, limit=150)
    raw = evaluate_recommender(knn, split, limit=150)
    assert wrapped["artist_div@10"] > raw["artist_div@10"]

"""The contract every CF model keeps, as a mixin test class (in the style of `implicit`'s RecommenderBase tests).

A model's test class sets `make` (a factory of an unfitted model) and inherits these tests, run on the first
6,000 real Yes.com playlists (the fast tier's `small_yes_corpus` holds exactly those): scores sorted, seeds and
`exclude` left out, an unknown seed raises `NotInModel`, `params()` re-creates the model, a save/load round trip
answers identically, and refitting gives the same lists.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import ClassVar

import pytest

from recommenders.base import NotInModel
from recommenders.cf.common import CFRecommender
from recommenders.cf.models import load_recommender


class CFModelContract:
    make: ClassVar[Callable[[], CFRecommender]]

    @pytest.fixture(scope="class")
    @classmethod
    def playlists(cls, small_yes_corpus) -> list[list[int]]:
        return [list(p) for p in small_yes_corpus.playlists()][:6000]

    @pytest.fixture(scope="class")
    @classmethod
    def model(cls, playlists) -> CFRecommender:
        return cls.make().fit_sequences(playlists)

    @pytest.fixture(scope="class")
    @classmethod
    def seeds(cls, playlists, model) -> list[int]:
        counts = Counter(t for p in playlists for t in set(p))
        popular = [t for t, _ in counts.most_common() if t in model]
        return popular[:3] + popular[len(popular) // 2 : len(popular) // 2 + 3]

    def test_sorted_and_seed_excluded(self, model, seeds) -> None:
        for seed in seeds:
            recs = model.similar(seed, 20)
            assert recs, seed
            scores = [r.score for r in recs]
            assert scores == sorted(scores, reverse=True)
            assert seed not in {r.track_id for r in recs}
            assert len({r.track_id for r in recs}) == len(recs)
            assert all(r.reason for r in recs)
        many = model.similar_to_many(seeds[:3], 30)
        assert not set(seeds[:3]) & {r.track_id for r in many}
        assert [r.score for r in many] == sorted((r.score for r in many), reverse=True)

    def test_exclude(self, model, seeds) -> None:
        first = model.similar(seeds[0], 5)
        again = model.similar(seeds[0], 5, exclude={first[0].track_id})
        assert first[0].track_id not in {r.track_id for r in again}
        assert again[0].track_id == first[1].track_id

    def test_unknown_seed_raises(self, model) -> None:
        with pytest.raises(NotInModel, match=f"not in the {model.name} model"):
            model.similar(10**9)
        with pytest.raises(NotInModel):
            model.similar_to_many([10**9, 10**9 + 1])
        assert 10**9 not in model

    def test_params_and_round_trip(self, model, seeds, tmp_path) -> None:
        assert type(model)(**model.params()).params() == model.params()
        model.save(tmp_path)
        loaded = load_recommender(tmp_path)
        assert type(loaded) is type(model) and loaded.params() == model.params()
        assert (loaded.item_ids == model.item_ids).all()
        for seed in seeds:
            assert loaded.similar(seed, 15) == model.similar(seed, 15)
        assert loaded.similar_to_many(seeds, 15) == model.similar_to_many(seeds, 15)

    def test_deterministic(self, model, playlists, seeds) -> None:
        again = type(self).make().fit_sequences(playlists)
        for seed in seeds:
            assert [r.track_id for r in again.similar(seed, 10)] == [r.track_id for r in model.similar(seed, 10)]

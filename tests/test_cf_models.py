"""Every CF model keeps the shared contract (tests/cf_contract.py) on real Yes.com playlists."""

from __future__ import annotations

import pytest

from recommenders.cf.als import ALSRecommender
from recommenders.cf.baselines import PopularityRecommender
from recommenders.cf.ease import EASE
from recommenders.cf.itemknn import ItemKNN
from recommenders.cf.rp3beta import RP3beta
from recommenders.cf.sknn import SessionKNN
from recommenders.cf.surprise_knn import SurpriseKNNBaseline
from recommenders.cf.word2vec import Word2VecRecommender
from tests.cf_contract import CFModelContract

# The fast tier (its 6,000 playlists are the small corpus's, tests/conftest.py), but Word2Vec: gensim runs `uname -p`
# (platform.platform()) when it builds a model, a subprocess.


@pytest.mark.fast
class TestItemKNN(CFModelContract):
    make = ItemKNN


@pytest.mark.fast
class TestRP3beta(CFModelContract):
    make = RP3beta


@pytest.mark.fast
class TestEASE(CFModelContract):
    @staticmethod
    def make() -> EASE:
        return EASE(max_items=1500)


@pytest.mark.fast
class TestSessionKNN(CFModelContract):
    make = SessionKNN


@pytest.mark.fast
class TestALS(CFModelContract):
    @staticmethod
    def make() -> ALSRecommender:
        return ALSRecommender(factors=32, iterations=6, threads=1)


class TestWord2Vec(CFModelContract):
    @staticmethod
    def make() -> Word2VecRecommender:
        return Word2VecRecommender(vector_size=24, epochs=2, workers=1)


@pytest.mark.fast
class TestKNNBaseline(CFModelContract):
    @staticmethod
    def make() -> SurpriseKNNBaseline:
        return SurpriseKNNBaseline(max_items=400)


@pytest.mark.fast
class TestPopularity(CFModelContract):
    make = PopularityRecommender

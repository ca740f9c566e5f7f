"""`murecom train`'s default candidates scale: a capped model whose cap no longer covers the corpus is skipped with a
note; on the real Yes.com corpus every candidate is kept."""

from __future__ import annotations

import pytest

from recommenders.cf.paths import CANDIDATES
from recommenders.cf.scale import MIN_CAP_COVERAGE, scaled_candidates
from recommenders.evaluation import playlist_split


def test_every_candidate_is_kept_on_yes_com(yes_corpus) -> None:
    split = playlist_split(yes_corpus, n_test=300, seed=3)
    names, skipped = scaled_candidates(CANDIDATES, split.train)
    assert names == list(CANDIDATES) and skipped == {}


@pytest.mark.fast
def test_a_capped_model_is_skipped_when_its_cap_holds_under_half_the_entries() -> None:
    # 20,000 songs played equally often: EASE^R's 5,000-song cap holds 25 % of the entries
    flat = [[i, i + 1, i + 2, i + 3] for i in range(0, 20_000, 4)] * 3
    names, skipped = scaled_candidates(CANDIDATES, flat)
    assert "ease" not in names and names == [n for n in CANDIDATES if n != "ease"]
    assert "holds 25% of the 60,000 training entries" in skipped["ease"] and "--models ease" in skipped["ease"]
    # one song taking most plays keeps the cap's share above the threshold: EASE^R stays
    heavy = flat + [[0]] * 100_000
    names, skipped = scaled_candidates(CANDIDATES, heavy)
    assert "ease" in names and skipped == {}
    assert MIN_CAP_COVERAGE == 0.5


def test_views_of_a_split_share_one_count_of_the_catalogue(yes_corpus) -> None:
    split = playlist_split(yes_corpus, n_test=300, seed=3)
    view = split.view("validation", "one-seed")
    assert view.counts is split.counts
    n = view.catalogue
    assert split.counts == {"catalogue": n} == view.counts
    assert n == len({t for seq in split.train for t in seq})


@pytest.mark.fast
def test_item_item_models_are_skipped_when_the_co_occurring_pairs_outgrow_the_budget() -> None:
    playlists = [list(range(i, i + 50)) for i in range(0, 5_000, 50)] * 4  # 400 playlists × 50² pairs = 10⁶
    names, skipped = scaled_candidates(CANDIDATES, playlists, max_pairs=999_999)
    assert set(skipped) >= {"rp3beta", "itemknn"} and "sknn" in names
    assert "1,000,000 co-occurring pairs" in skipped["rp3beta"] and "--models rp3beta" in skipped["rp3beta"]
    names, skipped = scaled_candidates(CANDIDATES, playlists, max_pairs=1_000_000)
    assert {"rp3beta", "itemknn"} <= set(names)

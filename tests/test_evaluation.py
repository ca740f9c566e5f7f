"""The evaluation harness on the real Yes.com split: the protocol holds out what it says, the metrics are right."""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from pathlib import Path

import numpy as np
import pytest

from recommenders.base import NotInModel, Recommendation, Recommender
from recommenders.evaluation import (
    Case,
    evaluate_recommender,
    format_path_table,
    format_table,
    is_not_worse,
    paired_ratio,
    playlist_split,
    primary_score,
    report_path,
    write_table,
)


class Oracle(Recommender):
    """Answers each case with its hidden songs (optionally after `pad` wrong ones): metrics with known values."""

    name = "oracle"

    def __init__(self, answers: dict[tuple[int, ...], tuple[int, ...]], pad: Sequence[int] = ()) -> None:
        self.answers, self.pad = answers, list(pad)

    def fit(self, corpus):
        return self

    def __contains__(self, track_id: object) -> bool:
        return True

    def similar(self, track_id: int, k: int = 10, *, exclude: Collection[int] = ()) -> list[Recommendation]:
        if (track_id,) not in self.answers:
            raise NotInModel(track_id, self.name)
        return self.similar_to_many((track_id,), k)

    def similar_to_many(self, seeds, k=10, *, weights=None, exclude=()) -> list[Recommendation]:
        if tuple(seeds) not in self.answers:
            raise NotInModel(seeds[0], self.name)
        ids = [*self.pad, *self.answers[tuple(seeds)]][:k]
        return [Recommendation(t, 1.0 / (i + 1), "oracle") for i, t in enumerate(ids)]

    def save(self, path: Path) -> None:
        raise NotImplementedError

    @classmethod
    def load(cls, path: Path):
        raise NotImplementedError


@pytest.fixture(scope="module")
def split(small_yes_corpus):
    """300 + 300 held-out playlists of the fast tier's 6,000 (what these tests assert holds for any corpus)."""
    return playlist_split(small_yes_corpus, n_test=300, seed=9)


@pytest.mark.fast
def test_split_holds_out_the_last_songs(small_yes_corpus, split) -> None:
    playlists = [list(p) for p in small_yes_corpus.playlists()]
    assert len(split.cases) >= 290 and len(split.view("validation").cases) >= 290
    by_seeds: dict[tuple[int, ...], list[tuple[int, list[int]]]] = {}
    changed = 0
    for i, (orig, train) in enumerate(zip(playlists, split.train, strict=True)):
        if train != orig:
            changed += 1
            assert len(orig) >= 5 and orig[: len(train)] == train and len(train) < len(orig)
            by_seeds.setdefault(tuple(train), []).append((i, orig))
    # both parts' hidden songs are out of training, and the parts are different playlists
    # (a playlist whose tail only repeats its seeds yields no case, but is still held out)
    assert changed == 2 * 300
    rows = {}
    for part in ("test", "validation"):
        for case in split.view(part).cases:
            i, orig = by_seeds[case.seeds][0]
            rows.setdefault(part, set()).add(i)
            tail = orig[len(case.seeds) :]
            assert case.hidden == tuple(dict.fromkeys(t for t in tail if t not in case.seeds))
            assert len(tail) == max(1, round(len(orig) * 0.2))
            assert case.one_seed == case.seeds[-1]
    assert not rows["test"] & rows["validation"]
    again = playlist_split(small_yes_corpus, n_test=300, seed=9)
    assert again.cases == split.cases
    assert playlist_split(small_yes_corpus, n_test=300, seed=10).cases != split.cases
    with pytest.raises(ValueError):
        playlist_split(small_yes_corpus, min_len=10_000)


@pytest.mark.fast
def test_perfect_and_shifted_oracles(split) -> None:
    answers = {c.seeds: c.hidden for c in split.cases}
    perfect = evaluate_recommender(Oracle(answers), split)
    for metric in ("r_precision", "ndcg@10", "ndcg@100", "recall@100", "hr@10_next"):
        assert perfect[metric] == pytest.approx(1.0), metric
    assert perfect["clicks"] == 0.0
    # 10 wrong picks first: every hit moves one page down, R-precision keeps only hits past 10, NDCG by a known factor
    shifted = evaluate_recommender(Oracle(answers, pad=range(-10, 0)), split)
    expected_rprec = sum(max(0, len(c.hidden) - 10) / len(c.hidden) for c in split.cases) / len(split.cases)
    assert shifted["r_precision"] == pytest.approx(expected_rprec) and shifted["hr@10_next"] == 0.0
    assert shifted["clicks"] == pytest.approx(1.0)
    assert shifted["recall@100"] == pytest.approx(1.0)
    one = next(c for c in split.cases if len(c.hidden) == 1)
    single = evaluate_recommender(
        Oracle(answers, pad=range(-10, 0)), type(split)(split.name, split.train, {"test": [one]})
    )
    assert single["ndcg@100"] == pytest.approx(1.0 / math.log2(12))


@pytest.mark.fast
def test_table_and_gate(split, tmp_path) -> None:
    answers = {c.seeds: c.hidden for c in split.cases}
    rows = {"oracle": evaluate_recommender(Oracle(answers), split)}
    text = format_table(rows, "t")
    assert "| oracle | 1.0000 |" in text
    path = write_table(text, tmp_path / "eval", tmp_path / "out.md")
    assert path.read_text() == (tmp_path / "out.md").read_text() == text
    weaker = {**rows["oracle"], "r_precision": 0.5}
    assert primary_score(weaker) < primary_score(rows["oracle"])
    assert not is_not_worse(weaker, rows["oracle"]) and is_not_worse(rows["oracle"], weaker)


@pytest.mark.fast
def test_one_seed_asks_similar_of_the_last_visible_song(split) -> None:
    one = split.view(protocol="one-seed")
    answers = {(c.one_seed,): c.hidden for c in one.cases}
    unique = [c for c in one.cases if sum(d.one_seed == c.one_seed for d in one.cases) == 1]
    sub = type(split)(split.name, split.train, {"test": unique}, protocol="one-seed")
    assert evaluate_recommender(Oracle(answers), sub)["r_precision"] == pytest.approx(1.0)
    # the multi-seed oracle (keyed by all seeds) knows nothing on this path: every case is a miss
    multi = Oracle({c.seeds: c.hidden for c in one.cases})
    assert evaluate_recommender(multi, one)["answered"] == 0.0


def test_next_track_includes_short_playlists(yes_corpus) -> None:
    nt = playlist_split(yes_corpus, n_test=400, seed=9, protocol="next-track")
    lengths = [len(c.seeds) + 1 for c in nt.cases]
    assert min(lengths) == 2 and sum(n < 5 for n in lengths) > 0.3 * len(lengths)
    assert all(len(c.hidden) == 1 for c in nt.cases)


@pytest.mark.fast
def test_paired_ratio_interval() -> None:
    rng = np.random.default_rng(1)
    b = rng.random(500)
    assert paired_ratio(2 * b, b) == pytest.approx((2.0, 2.0, 2.0))
    a = b + rng.normal(0.1, 0.2, 500)
    r, lo, hi = paired_ratio(a, b)
    assert lo < r < hi and lo > 1.0  # a is better by 0.1 on average: the interval excludes 1
    noise = b + rng.normal(0.0, 0.3, 500)
    _, lo, hi = paired_ratio(noise, b)
    assert lo < 1.0 < hi
    with pytest.raises(ValueError):
        paired_ratio(a[:10], b)


@pytest.mark.fast
def test_default_is_chosen_on_validation_never_test(split) -> None:
    """A model perfect on the test playlists but blind on validation must not become the default."""
    test_only = Oracle({c.seeds: c.hidden for c in split.parts["test"]})
    val_only = Oracle({c.seeds: c.hidden for c in split.parts["validation"]})
    report = report_path({"test_only": test_only, "val_only": val_only}, split, "multi-seed")
    assert report.default == "val_only"
    assert report.test["test_only"]["r_precision"] == pytest.approx(1.0)
    assert report.validation["test_only"]["answered"] == 0.0
    assert report.split["part"] == "test" and report.split["cases"] == len(split.parts["test"])
    table = format_path_table(report, "t")
    assert "**val_only** (default)" in table
    served = report.served()
    assert served["model"] == "val_only" and served["path"] == "/session next"
    assert served["metrics"] == report.test["val_only"]


@pytest.mark.fast
def test_case_anchor() -> None:
    assert Case((1, 2, 3), (4,)).one_seed == 3
    assert Case((1, 2, 3), (4,), anchor=1).one_seed == 1


def test_a_small_corpus_is_halved_between_test_and_validation(yes_corpus) -> None:
    big = playlist_split(yes_corpus, n_test=100_000)
    n_test, n_val = (len(big.parts[p]) for p in ("test", "validation"))
    assert abs(n_test - n_val) <= 20 and n_test > 1000  # both parts exist, neither is starved

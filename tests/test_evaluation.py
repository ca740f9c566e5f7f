"""The evaluation harness on the real Yes.com split: the protocol holds out what it says, the metrics are right."""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from pathlib import Path

import pytest

from recommenders.base import Recommendation, Recommender
from recommenders.evaluation import (
    evaluate_recommender,
    format_table,
    is_not_worse,
    playlist_split,
    primary_score,
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
        return []

    def similar_to_many(self, seeds, k=10, *, weights=None, exclude=()) -> list[Recommendation]:
        ids = [*self.pad, *self.answers[tuple(seeds)]][:k]
        return [Recommendation(t, 1.0 / (i + 1), "oracle") for i, t in enumerate(ids)]

    def save(self, path: Path) -> None:
        raise NotImplementedError

    @classmethod
    def load(cls, path: Path):
        raise NotImplementedError


@pytest.fixture(scope="module")
def split(yes_corpus):
    return playlist_split(yes_corpus, n_test=300, seed=9)


def test_split_holds_out_the_last_songs(yes_corpus, split) -> None:
    playlists = [list(p) for p in yes_corpus.playlists()]
    assert len(split.cases) >= 290
    by_seeds = {}
    for i, (orig, train) in enumerate(zip(playlists, split.train, strict=True)):
        if train != orig:
            assert len(orig) >= 5 and orig[: len(train)] == train and len(train) < len(orig)
            by_seeds[tuple(train)] = (i, orig)
    for case in split.cases:
        _, orig = by_seeds[case.seeds]
        tail = orig[len(case.seeds) :]
        assert case.hidden == tuple(dict.fromkeys(t for t in tail if t not in case.seeds))
        assert len(tail) == max(1, round(len(orig) * 0.2))
    again = playlist_split(yes_corpus, n_test=300, seed=9)
    assert again.cases == split.cases
    assert playlist_split(yes_corpus, n_test=300, seed=10).cases != split.cases
    with pytest.raises(ValueError):
        playlist_split(yes_corpus, min_len=10_000)


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
    single = evaluate_recommender(Oracle(answers, pad=range(-10, 0)), type(split)(split.name, split.train, [one]))
    assert single["ndcg@100"] == pytest.approx(1.0 / math.log2(12))


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

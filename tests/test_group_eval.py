"""The group evaluation runs the product's own picking code on real held-out Yes.com playlists."""

from __future__ import annotations

import pytest

from recommenders.cf.models import model_factories
from recommenders.evaluation import playlist_split
from recommenders.group import DEFAULT_STRATEGY, STRATEGIES
from recommenders.group_eval import Member, alone, evaluate_groups, format_group_table, simulate


@pytest.fixture(scope="module")
def fitted(yes_corpus):
    split = playlist_split(yes_corpus, seed=42)
    model = split.fit(model_factories()["itemknn"]())
    pool = [Member(tuple(c.seeds), frozenset(c.hidden)) for c in split.cases]
    return model, [m for m in pool if any(t in model for t in m.seeds)]


def test_a_group_of_one_gets_exactly_its_own_list(fitted) -> None:
    model, pool = fitted
    for member in pool[:30]:
        for strategy in STRATEGIES:
            assert simulate(model, [member], strategy)["mean_hr"] == pytest.approx(alone(model, member))


def test_identical_members_make_every_strategy_agree(fitted) -> None:
    model, pool = fitted
    twins = [pool[3], pool[3], pool[3]]
    results = {s: simulate(model, twins, s) for s in STRATEGIES}
    assert len({r["mean_hr"] for r in results.values()}) == 1
    assert all(r["worst_hr"] == r["mean_hr"] for r in results.values())


def test_table_compares_every_strategy_with_the_product_on_the_same_groups(fitted) -> None:
    model, pool = fitted
    [report] = evaluate_groups(model, pool, sizes=(3,), n_groups=25)
    assert set(report.per_strategy) == set(STRATEGIES) and report.groups == 25
    for metrics in report.per_strategy.values():
        assert 0 <= metrics["worst_hr"] <= metrics["mean_hr"] <= 1 and 1 <= metrics["picks_to_all"] <= 11
    assert report.alone_hr >= max(m["mean_hr"] for m in report.per_strategy.values()) - 0.05
    for strategy, ci in report.ci_vs_product.items():
        diff, lo, hi = ci["mean_hr"]
        expected = report.per_strategy[DEFAULT_STRATEGY]["mean_hr"] - report.per_strategy[strategy]["mean_hr"]
        assert diff == pytest.approx(expected) and lo <= diff <= hi
    table = format_group_table([report], "Yes.com")
    assert table.count("\n| 3 |") == len(STRATEGIES) + 1

"""Group-recommendation quality, measured on the path sessions take: simulated groups, consecutive picks.

Protocol: each simulated member is a held-out case — a Yes.com playlist (its visible songs are what the member added,
its hidden songs their taste) or a Last.fm listener (visible artists, hidden artists). Groups of `size` members are
drawn at random (seeded). For `picks` consecutive picks, a strategy of `recommenders.group` chooses from the same
`score_group` candidates the product uses (every candidate scored for every member), never repeating a pick; the
member whose turn it is advances as in the product. Reported per strategy and group size:
- each member's hit rate over the picks (share of picks in their hidden set), averaged over the group (`mean HR`),
  and for the worst-off member of each group (`worst HR`); NDCG@picks of each member's hidden set likewise;
- picks until every member has had a hit (`picks to all`; picks + 1 when some member never got one);
- `alone`: the mean HR each member would get from their own top-`picks` list — the ceiling a group gives up.
Paired bootstrap 95 % CIs of the differences between the product's strategy and each other one (same groups).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from recommenders.base import Recommender
from recommenders.group import DEFAULT_STRATEGY, STRATEGIES, choose, next_target, score_group


@dataclass(frozen=True)
class Member:
    seeds: tuple[int, ...]
    hidden: frozenset[int]


def _ndcg(hit_positions: Sequence[int], n_relevant: int, k: int) -> float:
    dcg = sum(1.0 / math.log2(p + 2) for p in hit_positions)
    ideal = sum(1.0 / math.log2(p + 2) for p in range(min(n_relevant, k)))
    return dcg / ideal if ideal else 0.0


def simulate(model: Recommender, members: Sequence[Member], strategy: str, picks: int = 10) -> dict[str, float]:
    """One group's `picks` consecutive picks under `strategy`, scored per member."""
    banned = {t for m in members for t in m.seeds}
    served, last = [0] * len(members), [-1] * len(members)
    group = score_group(model, [m.seeds for m in members], banned)
    available = np.ones(len(group.candidates), dtype=bool)
    chosen: list[int] = []
    for step in range(min(picks, len(group.candidates))):
        target = next_target(served, last)
        masked = group.scores.copy()
        masked[:, ~available] = -1.0  # never repeat a pick
        view = type(group)(group.candidates, masked, np.where(available, group.skip, 0.0))
        col = choose(strategy, view, target)
        available[col] = False
        chosen.append(int(group.candidates[col]))
        served[target] += 1
        last[target] = step
    hit_rates, ndcgs, first_hit = [], [], []
    for m in members:
        positions = [i for i, t in enumerate(chosen) if t in m.hidden]
        hit_rates.append(len(positions) / picks)
        ndcgs.append(_ndcg(positions, len(m.hidden), picks))
        first_hit.append(positions[0] + 1 if positions else picks + 1)
    return {
        "mean_hr": float(np.mean(hit_rates)),
        "worst_hr": float(np.min(hit_rates)),
        "mean_ndcg": float(np.mean(ndcgs)),
        "worst_ndcg": float(np.min(ndcgs)),
        "picks_to_all": float(max(first_hit)),
    }


def alone(model: Recommender, member: Member, picks: int = 10) -> float:
    """The member's hit rate from their own top list: what they would get listening alone."""
    known = [t for t in member.seeds if t in model]
    if not known:
        return 0.0
    recs = model.similar_to_many(known, picks, exclude=set(member.seeds))
    return sum(1 for r in recs if r.track_id in member.hidden) / picks


@dataclass
class GroupReport:
    size: int
    groups: int
    per_strategy: dict[str, dict[str, float]]
    alone_hr: float
    ci_vs_product: dict[str, dict[str, tuple[float, float, float]]]


def _bootstrap_diff(
    a: np.ndarray, b: np.ndarray, rng: np.random.Generator, n: int = 1000
) -> tuple[float, float, float]:
    """Mean of a − b over groups with a paired bootstrap 95 % CI."""
    diff = a - b
    idx = rng.integers(0, len(diff), size=(n, len(diff)))
    means = diff[idx].mean(axis=1)
    return float(diff.mean()), float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def evaluate_groups(
    model: Recommender,
    pool: Sequence[Member],
    sizes: Sequence[int] = (2, 3, 5),
    n_groups: int = 300,
    picks: int = 10,
    seed: int = 7,
    strategies: Sequence[str] = STRATEGIES,
) -> list[GroupReport]:
    """Every strategy on the same random groups of each size."""
    usable = [m for m in pool if m.hidden and any(t in model for t in m.seeds)]
    rng = np.random.default_rng(seed)
    reports = []
    for size in sizes:
        groups = [[usable[i] for i in rng.choice(len(usable), size=size, replace=False)] for _ in range(n_groups)]
        rows: dict[str, dict[str, list[float]]] = {s: {} for s in strategies}
        for members in groups:
            for strategy in strategies:
                for key, value in simulate(model, members, strategy, picks).items():
                    rows[strategy].setdefault(key, []).append(value)
        alone_hr = float(np.mean([alone(model, m, picks) for members in groups for m in members]))
        per_strategy = {s: {k: float(np.mean(v)) for k, v in rows[s].items()} for s in strategies}
        ci: dict[str, dict[str, tuple[float, float, float]]] = {}
        if DEFAULT_STRATEGY in rows:
            for s in strategies:
                if s != DEFAULT_STRATEGY:
                    ci[s] = {
                        key: _bootstrap_diff(np.array(rows[DEFAULT_STRATEGY][key]), np.array(rows[s][key]), rng)
                        for key in ("mean_hr", "worst_hr")
                    }
        reports.append(GroupReport(size, len(groups), per_strategy, alone_hr, ci))
    return reports


def format_group_table(reports: Sequence[GroupReport], title: str) -> str:
    """Markdown: one row per (size, strategy); product-minus-strategy differences with CIs."""
    lines = [
        f"{title}",
        "",
        "| members | strategy | mean HR@10 | worst HR@10 | mean NDCG | worst NDCG | picks to all | "
        f"{DEFAULT_STRATEGY} − it: mean HR (95 % CI) | worst HR (95 % CI) |",
        "|---:|---|---:|---:|---:|---:|---:|---|---|",
    ]
    for rep in reports:
        for strategy, m in rep.per_strategy.items():
            diff = ""
            if strategy in rep.ci_vs_product:
                cells = []
                for key in ("mean_hr", "worst_hr"):
                    d, lo, hi = rep.ci_vs_product[strategy][key]
                    cells.append(f"{d:+.4f} ({lo:+.4f}, {hi:+.4f})")
                diff = " | ".join(cells)
            else:
                diff = "– | –"
            lines.append(
                f"| {rep.size} | {strategy} | {m['mean_hr']:.4f} | {m['worst_hr']:.4f} | {m['mean_ndcg']:.4f} | "
                f"{m['worst_ndcg']:.4f} | {m['picks_to_all']:.2f} | {diff} |"
            )
        lines.append(f"| {rep.size} | *alone (own top 10)* | {rep.alone_hr:.4f} | | | | | | |")
    return "\n".join(lines)

"""Offline evaluation of recommenders: playlist continuation on held-out playlists (and held-out listener artists).

Protocol (as in the RecSys Challenge 2018, adapted to the data we have):
- a seeded split picks test playlists among those with >= `min_len` songs and hides their *last* `holdout` share
  (at least one song); the rest of every playlist, test ones included, is training data;
- a model answers `similar_to_many(seeds, k=100)` for each test playlist; we score the list against the hidden
  songs (those not already among the seeds);
- metrics: R-precision, NDCG@10/@100, recall@10/@100, clicks (pages of 10 before the first hit, 11 = none in the
  100), HR@10 of the very next hidden song, catalogue coverage of all top-10 lists, intra-list diversity (distinct
  artists, 1 − tag Jaccard), and tag agreement (share of top-10 picks carrying the seeds' dominant Last.fm tag).
For Last.fm (listeners × artists, play counts) a test listener's hidden artists are a random 20% (there is no order).
Popularity and random baselines run through the same code, so the table compares like with like.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from recommenders.base import NotInModel, Recommender

if TYPE_CHECKING:
    from data.corpus import Corpus
    from recommenders.cf.common import CFRecommender

LIST_LEN = 100
PAGE = 10
METRICS = (
    "r_precision",
    "ndcg@10",
    "ndcg@100",
    "recall@10",
    "recall@100",
    "clicks",
    "hr@10_next",
    "coverage@10",
    "artist_div@10",
    "ild_tags@10",
    "tag_agree@10",
)
#: Metrics where lower is better.
LOWER_IS_BETTER = frozenset({"clicks"})


@dataclass(frozen=True)
class Case:
    """One test playlist: what the model sees, and what it should find (unique, not among the seeds, in order)."""

    seeds: tuple[int, ...]
    hidden: tuple[int, ...]
    seed_weights: tuple[float, ...] | None = None


@dataclass
class Split:
    """Training sequences plus held-out cases, and the side data the beyond-accuracy metrics need."""

    name: str
    train: list[list[int]]
    cases: list[Case]
    train_weights: list[list[float]] | None = None
    item_artists: Mapping[int, tuple[int, ...]] = field(default_factory=dict)
    item_tags: Mapping[int, frozenset[str]] = field(default_factory=dict)
    seed: int = 42

    @property
    def catalogue(self) -> int:
        return len({t for seq in self.train for t in seq})

    def fit(self, model: CFRecommender) -> CFRecommender:
        """Fit `model` on the training part (never on the hidden songs)."""
        return model.fit_sequences(self.train, self.train_weights)


def playlist_split(
    corpus: Corpus,
    *,
    source: str | None = None,
    n_test: int = 1000,
    min_len: int = 5,
    holdout: float = 0.2,
    seed: int = 42,
) -> Split:
    """Hold out the last `holdout` share (>= 1 song) of `n_test` random playlists with >= `min_len` songs."""
    if not 0.0 < holdout < 1.0:
        raise ValueError("holdout must be in (0, 1)")
    playlists = [list(p) for p in corpus.playlists(source)]
    eligible = [i for i, p in enumerate(playlists) if len(p) >= min_len]
    if not eligible:
        raise ValueError(f"no playlist has >= {min_len} songs: nothing to hold out")
    rng = np.random.default_rng(seed)
    chosen = sorted(rng.choice(eligible, size=min(n_test, len(eligible)), replace=False).tolist())
    train = [p for p in playlists]
    cases: list[Case] = []
    for i in chosen:
        p = playlists[i]
        n_hold = max(1, int(round(len(p) * holdout)))
        seeds, tail = p[:-n_hold], p[-n_hold:]
        seen = set(seeds)
        hidden = []
        for t in tail:
            if t not in seen:
                hidden.append(t)
                seen.add(t)
        train[i] = seeds
        if hidden:
            cases.append(Case(tuple(seeds), tuple(hidden)))
    return Split(
        name=f"playlists{'/' + source if source else ''}",
        train=train,
        cases=cases,
        item_artists=corpus.track_artists(),
        item_tags=corpus.track_tags(),
        seed=seed,
    )


def listener_split(
    corpus: Corpus,
    *,
    source: str = "hetrec",
    n_test: int = 500,
    min_items: int = 5,
    holdout: float = 0.2,
    seed: int = 42,
) -> Split:
    """Listener × artist data: hide a random `holdout` share of the artists of `n_test` listeners.

    Sequences list a listener's artists most-played first, with the play counts as graded weights.
    """
    im = corpus.listener_artist_matrix(source)
    if im.matrix.shape[0] == 0:
        raise ValueError(f"no {source} listeners in the corpus: run `murecom import hetrec` first")
    m = im.matrix.tocsr()
    rng = np.random.default_rng(seed)
    seqs: list[list[int]] = []
    wts: list[list[float]] = []
    for r in range(m.shape[0]):
        cols, vals = m.indices[m.indptr[r] : m.indptr[r + 1]], m.data[m.indptr[r] : m.indptr[r + 1]]
        order = np.lexsort((cols, -vals))
        seqs.append([int(im.item_ids[c]) for c in cols[order]])
        wts.append([float(v) for v in vals[order]])
    eligible = [i for i, s in enumerate(seqs) if len(s) >= min_items]
    chosen = sorted(rng.choice(eligible, size=min(n_test, len(eligible)), replace=False).tolist())
    cases = []
    for i in chosen:
        n = len(seqs[i])
        hide = set(rng.choice(n, size=max(1, int(round(n * holdout))), replace=False).tolist())
        keep = [j for j in range(n) if j not in hide]
        hidden = tuple(seqs[i][j] for j in sorted(hide))
        cases.append(Case(tuple(seqs[i][j] for j in keep), hidden, tuple(wts[i][j] for j in keep)))
        seqs[i] = [seqs[i][j] for j in keep]
        wts[i] = [wts[i][j] for j in keep]
    tags = corpus.artist_tags()
    return Split(
        name=f"listeners/{source}",
        train=seqs,
        cases=cases,
        train_weights=wts,
        item_artists={a: (a,) for s in seqs for a in s},
        item_tags=tags,
        seed=seed,
    )


def _ndcg(hits: Sequence[int], n_relevant: int, k: int) -> float:
    dcg = sum(1.0 / math.log2(r + 2) for r in hits if r < k)
    idcg = sum(1.0 / math.log2(r + 2) for r in range(min(n_relevant, k)))
    return dcg / idcg if idcg else 0.0


def _dominant_tag(seeds: Iterable[int], tags: Mapping[int, frozenset[str]]) -> str | None:
    counts = Counter(t for s in seeds for t in tags.get(s, ()))
    if not counts:
        return None
    return min(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0]


def evaluate_recommender(
    rec: Recommender, split: Split, *, list_len: int = LIST_LEN, limit: int | None = None
) -> dict[str, float]:
    """Mean metrics of `rec` (fitted on `split.train`) over the split's cases; see the module docstring.

    Cases whose seeds are all unknown to the model count as complete misses (the model had nothing to say).
    """
    cases = split.cases[:limit] if limit else split.cases
    if not cases:
        raise ValueError("the split has no test cases")
    sums: dict[str, float] = dict.fromkeys(METRICS, 0.0)
    counted: Counter[str] = Counter()
    shown: set[int] = set()
    answered = 0
    start = time.perf_counter()
    for case in cases:
        try:
            recs = rec.similar_to_many(list(case.seeds), list_len, weights=case.seed_weights)
        except NotInModel:
            recs = []
        answered += bool(recs)
        ids = [r.track_id for r in recs]
        relevant = set(case.hidden)
        hits = [i for i, t in enumerate(ids) if t in relevant]
        n_rel = len(relevant)
        sums["r_precision"] += sum(1 for i in hits if i < n_rel) / n_rel
        sums["ndcg@10"] += _ndcg(hits, n_rel, 10)
        sums["ndcg@100"] += _ndcg(hits, n_rel, 100)
        sums["recall@10"] += sum(1 for i in hits if i < 10) / n_rel
        sums["recall@100"] += sum(1 for i in hits if i < 100) / n_rel
        sums["clicks"] += hits[0] // PAGE if hits else list_len // PAGE + 1
        sums["hr@10_next"] += float(case.hidden[0] in ids[:10])
        top = ids[:10]
        shown.update(top)
        for key in ("clicks", "r_precision", "ndcg@10", "ndcg@100", "recall@10", "recall@100", "hr@10_next"):
            counted[key] += 1
        if len(top) >= 2:
            artists = [(split.item_artists.get(t) or (-t,))[0] for t in top]
            sums["artist_div@10"] += len(set(artists)) / len(top)
            counted["artist_div@10"] += 1
            tagged = [split.item_tags[t] for t in top if split.item_tags.get(t)]
            if len(tagged) >= 2:
                dists = [1.0 - len(a & b) / len(a | b) for i, a in enumerate(tagged) for b in tagged[i + 1 :] if a | b]
                sums["ild_tags@10"] += float(np.mean(dists))
                counted["ild_tags@10"] += 1
        dom = _dominant_tag(case.seeds, split.item_tags)
        tagged_top = [t for t in top if split.item_tags.get(t)]
        if dom is not None and tagged_top:
            sums["tag_agree@10"] += sum(dom in split.item_tags[t] for t in tagged_top) / len(tagged_top)
            counted["tag_agree@10"] += 1
    out = {k: (sums[k] / counted[k] if counted[k] else float("nan")) for k in METRICS if k != "coverage@10"}
    out["coverage@10"] = len(shown) / max(split.catalogue, 1)
    out["answered"] = answered / len(cases)
    out["cases"] = float(len(cases))
    out["eval_seconds"] = time.perf_counter() - start
    return {k: float(out[k]) for k in (*METRICS, "answered", "cases", "eval_seconds")}


def primary_score(metrics: Mapping[str, float]) -> float:
    """One number to pick a winner by: the mean of R-precision and NDCG@100 (both RecSys-2018 metrics)."""
    return 0.5 * (metrics["r_precision"] + metrics["ndcg@100"])


def is_not_worse(new: Mapping[str, float], old: Mapping[str, float], tolerance: float = 0.02) -> bool:
    """Whether a retrained model may replace the current one: its primary score is within `tolerance` (relative)."""
    return primary_score(new) >= primary_score(old) * (1.0 - tolerance)


def fit_and_evaluate(
    models: Mapping[str, Callable[[], CFRecommender]],
    split: Split,
    *,
    log: Callable[[str], None] | None = None,
    fitted: dict[str, CFRecommender] | None = None,
) -> dict[str, dict[str, float]]:
    """Fit each factory's model on the split and evaluate it; adds fit_seconds to each row.

    Pass a dict as `fitted` to get the fitted models back (e.g. to evaluate re-ranked variants of one).
    """
    rows: dict[str, dict[str, float]] = {}
    for name, factory in models.items():
        t0 = time.perf_counter()
        model = split.fit(factory())
        fit_s = time.perf_counter() - t0
        if fitted is not None:
            fitted[name] = model
        rows[name] = {**evaluate_recommender(model, split), "fit_seconds": fit_s}
        if log:
            log(f"{name}: {format_row(rows[name])}")
    return rows


def format_row(row: Mapping[str, float]) -> str:
    return ", ".join(f"{k}={row[k]:.4f}" for k in ("r_precision", "ndcg@100", "recall@100", "clicks") if k in row)


def format_table(rows: Mapping[str, Mapping[str, float]], title: str = "") -> str:
    """A Markdown table, one row per model (higher is better except clicks)."""
    cols = [*METRICS, "fit_seconds"]
    cols = [c for c in cols if any(c in r for r in rows.values())]
    lines = [f"### {title}", ""] if title else []
    lines.append("| model | " + " | ".join(cols) + " |")
    lines.append("|---|" + "---:|" * len(cols))
    for name, row in rows.items():
        cells = []
        for c in cols:
            v = row.get(c, float("nan"))
            cells.append(f"{v:.1f}" if c == "fit_seconds" else f"{v:.3f}" if c == "clicks" else f"{v:.4f}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_table(text: str, folder: Path, out: Path | None = None) -> Path:
    """Write the table under `folder` (timestamped) and to `out` if given; returns the timestamped path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"eval-{time.strftime('%Y%m%dT%H%M%S')}.md"
    path.write_text(text)
    if out is not None:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(text)
    return path

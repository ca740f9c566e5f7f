"""Offline evaluation of recommenders on held-out playlists (and held-out listener artists), path by path.

Splits: a seeded permutation of the eligible playlists gives the *test* playlists (its first `n_test`) and, disjoint
from them, the *validation* playlists (the next `n_test`); both have their hidden songs removed from the training
data, so one fit serves both. Tuning and the choice of a default look only at validation; test is read once, for
the report. The permutation seed is 42 for both parts (documented in the README).

Protocols (`PROTOCOLS`), each the path a user takes:
- "one-seed" (`/similar`): one known song — the last visible song of a held-out playlist (a listener's most played
  visible artist) — answered by `similar(seed, 100)`; the hidden songs are the truth;
- "multi-seed" (`/session`, radio): every visible song, answered by `similar_to_many(seeds, 100)`; playlists with
  >= 5 songs hide their last 20% (at least one song), as in the RecSys Challenge 2018;
- "next-track": playlists with >= 2 songs (short ones included: the median Yes.com playlist has 3) hide only their
  last song; the visible songs are the seeds and that one song is the truth.
Metrics: R-precision, NDCG@10/@100, recall@10/@100, clicks (pages of 10 before the first hit, 11 = none in the
100), HR@10 of the very next hidden song, catalogue coverage of all top-10 lists, intra-list diversity (distinct
artists, 1 − tag Jaccard), and tag agreement (share of top-10 picks carrying the seeds' dominant Last.fm tag).
Per-case values are kept so that every ratio between two models gets a paired bootstrap 95% interval.
Popularity and random baselines run through the same code, so the table compares like with like.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from data.progress import Progress, progress
from recommenders.base import NotInModel, Recommender

if TYPE_CHECKING:
    from data.corpus import Corpus
    from recommenders.cf.common import CFRecommender

LIST_LEN = 100
PAGE = 10
PROTOCOLS = ("one-seed", "multi-seed", "next-track")
PARTS = ("validation", "test")
#: Per-case metrics (the ones a paired bootstrap can compare).
CASE_METRICS = ("r_precision", "ndcg@10", "ndcg@100", "recall@10", "recall@100", "clicks", "hr@10_next")
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
    """One test playlist: what the model sees, and what it should find (unique, not among the seeds, in order).

    `anchor` is the one-seed protocol's seed (the last visible song; a listener's most played visible artist).
    """

    seeds: tuple[int, ...]
    hidden: tuple[int, ...]
    seed_weights: tuple[float, ...] | None = None
    anchor: int = -1

    @property
    def one_seed(self) -> int:
        return self.anchor if self.anchor >= 0 else self.seeds[-1]


@dataclass
class Split:
    """Training sequences, held-out cases per part, the protocol to query them with, and the side data."""

    name: str
    train: list[list[int]]
    parts: dict[str, list[Case]]
    train_weights: list[list[float]] | None = None
    item_artists: Mapping[int, tuple[int, ...]] = field(default_factory=dict)
    item_tags: Mapping[int, frozenset[str]] = field(default_factory=dict)
    seed: int = 42
    part: str = "test"
    protocol: str = "multi-seed"
    #: Counts over the training data, computed once and shared by every view of the split (`view` passes the same
    #: dict on): at a million playlists a recount is seconds, and each model × part × protocol evaluation asks.
    counts: dict[str, int] = field(default_factory=dict, repr=False, compare=False)

    @property
    def cases(self) -> list[Case]:
        return self.parts[self.part]

    def view(self, part: str | None = None, protocol: str | None = None) -> Split:
        """The same split (same training data) read as another part and/or protocol."""
        if part is not None and part not in self.parts:
            raise ValueError(f"part must be one of {sorted(self.parts)}")
        if protocol is not None and protocol not in PROTOCOLS:
            raise ValueError(f"protocol must be one of {PROTOCOLS}")
        return replace(self, part=part or self.part, protocol=protocol or self.protocol)

    def describe(self) -> dict[str, object]:
        """What a published figure was measured on (stored in the artifact's meta)."""
        return {
            "name": self.name,
            "part": self.part,
            "protocol": self.protocol,
            "cases": len(self.cases),
            "seed": self.seed,
            "other_part_cases": {p: len(c) for p, c in self.parts.items() if p != self.part},
        }

    @property
    def catalogue(self) -> int:
        """Distinct songs in the training data (the denominator of coverage)."""
        if "catalogue" not in self.counts:
            self.counts["catalogue"] = len({t for seq in self.train for t in seq})
        return self.counts["catalogue"]

    def fit(self, model: CFRecommender) -> CFRecommender:
        """Fit `model` on the training part (never on the hidden songs of either part)."""
        return model.fit_sequences(self.train, self.train_weights)


def _parts(eligible: Sequence[int], n_test: int, rng: np.random.Generator) -> dict[str, list[int]]:
    """Test = the first `n_test` of a seeded permutation of the eligible rows, validation = the next `n_test`
    (a small corpus is halved between them, so that both parts exist)."""
    perm = rng.permutation(np.asarray(eligible, dtype=np.int64)).tolist()
    n = min(n_test, len(perm) // 2)
    return {"test": sorted(perm[:n]), "validation": sorted(perm[n : 2 * n])}


def playlist_split(
    corpus: Corpus,
    *,
    source: str | None = None,
    n_test: int = 1000,
    min_len: int | None = None,
    holdout: float = 0.2,
    seed: int = 42,
    part: str = "test",
    protocol: str = "multi-seed",
) -> Split:
    """Held-out playlists for `protocol` (see the module docstring), read as `part`.

    one-seed and multi-seed share one split (playlists with >= `min_len`, default 5, songs hide their last
    `holdout` share); next-track hides the last song of playlists with >= 2 songs.
    """
    if not 0.0 < holdout < 1.0:
        raise ValueError("holdout must be in (0, 1)")
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {PROTOCOLS}")
    next_track = protocol == "next-track"
    min_len = min_len if min_len is not None else (2 if next_track else 5)
    playlists = [list(p) for p in corpus.playlists(source)]
    eligible = [i for i, p in enumerate(playlists) if len(p) >= min_len]
    if not eligible:
        raise ValueError(f"no playlist has >= {min_len} songs: nothing to hold out")
    chosen = _parts(eligible, n_test, np.random.default_rng(seed))
    train = list(playlists)
    parts: dict[str, list[Case]] = {}
    for name, rows in chosen.items():
        parts[name] = []
        for i in rows:
            p = playlists[i]
            n_hold = 1 if next_track else max(1, int(round(len(p) * holdout)))
            seeds, tail = p[:-n_hold], p[-n_hold:]
            seen = set(seeds)
            hidden = []
            for t in tail:
                if t not in seen:
                    hidden.append(t)
                    seen.add(t)
            train[i] = seeds
            if hidden:
                parts[name].append(Case(tuple(seeds), tuple(hidden)))
    return Split(
        name=f"playlists{'/' + source if source else ''}",
        train=train,
        parts=parts,
        item_artists=corpus.track_artists(),
        item_tags=corpus.track_tags(),
        seed=seed,
        part=part,
        protocol=protocol,
    )


def cold_start_split(
    corpus: Corpus, *, source: str | None = None, n_songs: int = 500, min_playlists: int = 2, seed: int = 42
) -> Split:
    """Songs the CF model has never seen: `n_songs` random songs (in >= `min_playlists` playlists) are removed from
    every training playlist; each is the one-seed of one playlist that held it (seeded choice), whose other songs
    (none of them held out) are the truth. Only a test part: nothing is tuned on it."""
    playlists = [list(p) for p in corpus.playlists(source)]
    holders: dict[int, list[int]] = {}
    for i, p in enumerate(playlists):
        for t in set(p):
            holders.setdefault(t, []).append(i)
    eligible = sorted(t for t, h in holders.items() if len(h) >= min_playlists)
    rng = np.random.default_rng(seed)
    cold = set(rng.choice(eligible, size=min(n_songs, len(eligible)), replace=False).tolist())
    cases = []
    for t in sorted(cold):
        p = playlists[int(rng.choice(holders[t]))]
        hidden = tuple(dict.fromkeys(x for x in p if x not in cold))
        if hidden:
            cases.append(Case((t,), hidden, anchor=t))
    train = [[x for x in p if x not in cold] for p in playlists]
    return Split(
        name=f"cold-start{'/' + source if source else ''}",
        train=train,
        parts={"test": cases},
        item_artists=corpus.track_artists(),
        item_tags=corpus.track_tags(),
        seed=seed,
        part="test",
        protocol="one-seed",
    )


def listener_split(
    corpus: Corpus,
    *,
    source: str = "hetrec",
    n_test: int = 500,
    min_items: int = 5,
    holdout: float = 0.2,
    seed: int = 42,
    part: str = "test",
    protocol: str = "multi-seed",
) -> Split:
    """Listener × artist data: hide a random `holdout` share of the artists of `n_test` listeners per part.

    Sequences list a listener's artists most-played first, with the play counts as graded weights; the one-seed
    anchor is the most played visible artist. There is no order, so there is no next-track protocol here.
    """
    if protocol == "next-track":
        raise ValueError("listeners have no play order: next-track applies to playlists only")
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
    parts: dict[str, list[Case]] = {}
    for name, rows in _parts(eligible, n_test, rng).items():
        parts[name] = []
        for i in rows:
            n = len(seqs[i])
            hide = set(rng.choice(n, size=max(1, int(round(n * holdout))), replace=False).tolist())
            keep = [j for j in range(n) if j not in hide]
            hidden = tuple(seqs[i][j] for j in sorted(hide))
            visible = tuple(seqs[i][j] for j in keep)
            parts[name].append(Case(visible, hidden, tuple(wts[i][j] for j in keep), anchor=visible[0]))
            seqs[i] = list(visible)
            wts[i] = [wts[i][j] for j in keep]
    tags = corpus.artist_tags()
    return Split(
        name=f"listeners/{source}",
        train=seqs,
        parts=parts,
        train_weights=wts,
        item_artists={a: (a,) for s in seqs for a in s},
        item_tags=tags,
        seed=seed,
        part=part,
        protocol=protocol,
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


def answer(rec: Recommender, case: Case, protocol: str, k: int = LIST_LEN) -> list[int]:
    """The ids `rec` lists for `case` on the user path `protocol` (empty when its seeds are unknown to it)."""
    try:
        if protocol == "one-seed":
            recs = rec.similar(case.one_seed, k)
        else:
            recs = rec.similar_to_many(list(case.seeds), k, weights=case.seed_weights)
    except NotInModel:
        return []
    return [r.track_id for r in recs]


def evaluate_recommender(
    rec: Recommender,
    split: Split,
    *,
    list_len: int = LIST_LEN,
    limit: int | None = None,
    per_case: dict[str, np.ndarray] | None = None,
    bar: Progress | None = None,
) -> dict[str, float]:
    """Mean metrics of `rec` (fitted on `split.train`) over the split's cases, queried by `split.protocol`.

    Cases whose seeds are all unknown to the model count as complete misses (the model had nothing to say).
    Pass a dict as `per_case` to get each `CASE_METRICS` value per case (for paired bootstrap intervals), and a
    `bar` to count the cases answered (at scale, evaluation is minutes of work).
    """
    cases = split.cases[:limit] if limit else split.cases
    if not cases:
        raise ValueError("the split has no test cases")
    sums: dict[str, float] = dict.fromkeys(METRICS, 0.0)
    counted: Counter[str] = Counter()
    values: dict[str, list[float]] = {m: [] for m in CASE_METRICS}
    shown: set[int] = set()
    answered = 0
    start = time.perf_counter()
    for case in cases:
        ids = answer(rec, case, split.protocol, list_len)
        if bar is not None:
            bar.update(1)
        answered += bool(ids)
        relevant = set(case.hidden)
        hits = [i for i, t in enumerate(ids) if t in relevant]
        n_rel = len(relevant)
        one = {
            "r_precision": sum(1 for i in hits if i < n_rel) / n_rel,
            "ndcg@10": _ndcg(hits, n_rel, 10),
            "ndcg@100": _ndcg(hits, n_rel, 100),
            "recall@10": sum(1 for i in hits if i < 10) / n_rel,
            "recall@100": sum(1 for i in hits if i < 100) / n_rel,
            "clicks": float(hits[0] // PAGE if hits else list_len // PAGE + 1),
            "hr@10_next": float(case.hidden[0] in ids[:10]),
        }
        for key, v in one.items():
            values[key].append(v)
            sums[key] += v
            counted[key] += 1
        top = ids[:10]
        shown.update(top)
        if len(top) >= 2:
            artists = [(split.item_artists.get(t) or (-t,))[0] for t in top]
            sums["artist_div@10"] += len(set(artists)) / len(top)
            counted["artist_div@10"] += 1
            tagged = [split.item_tags[t] for t in top if split.item_tags.get(t)]
            if len(tagged) >= 2:
                dists = [1.0 - len(a & b) / len(a | b) for i, a in enumerate(tagged) for b in tagged[i + 1 :] if a | b]
                sums["ild_tags@10"] += float(np.mean(dists))
                counted["ild_tags@10"] += 1
        dom = _dominant_tag([case.one_seed] if split.protocol == "one-seed" else case.seeds, split.item_tags)
        tagged_top = [t for t in top if split.item_tags.get(t)]
        if dom is not None and tagged_top:
            sums["tag_agree@10"] += sum(dom in split.item_tags[t] for t in tagged_top) / len(tagged_top)
            counted["tag_agree@10"] += 1
    out = {k: (sums[k] / counted[k] if counted[k] else float("nan")) for k in METRICS if k != "coverage@10"}
    out["coverage@10"] = len(shown) / max(split.catalogue, 1)
    out["answered"] = answered / len(cases)
    out["cases"] = float(len(cases))
    out["eval_seconds"] = time.perf_counter() - start
    if per_case is not None:
        per_case.update({k: np.asarray(v) for k, v in values.items()})
    return {k: float(out[k]) for k in (*METRICS, "answered", "cases", "eval_seconds")}


def primary_score(metrics: Mapping[str, float]) -> float:
    """One number to pick a winner by: the mean of R-precision and NDCG@100 (both RecSys-2018 metrics)."""
    return 0.5 * (metrics["r_precision"] + metrics["ndcg@100"])


def is_not_worse(new: Mapping[str, float], old: Mapping[str, float], tolerance: float = 0.02) -> bool:
    """Whether a retrained model may replace the current one: its primary score is within `tolerance` (relative)."""
    return primary_score(new) >= primary_score(old) * (1.0 - tolerance)


def paired_ratio(
    a: np.ndarray, b: np.ndarray, *, n_boot: int = 2000, seed: int = 0, level: float = 0.95
) -> tuple[float, float, float]:
    """mean(a) / mean(b) over the same cases, with a paired bootstrap percentile interval (cases resampled jointly)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or not len(a):
        raise ValueError("paired_ratio needs two per-case arrays over the same cases")
    ratio = float(a.mean() / b.mean()) if b.mean() > 0 else float("nan")
    idx = np.random.default_rng(seed).integers(0, len(a), size=(n_boot, len(a)))
    ma, mb = a[idx].mean(axis=1), b[idx].mean(axis=1)
    boot = ma[mb > 0] / mb[mb > 0]
    if not len(boot):
        return ratio, float("nan"), float("nan")
    lo, hi = np.quantile(boot, [(1 - level) / 2, 1 - (1 - level) / 2])
    return ratio, float(lo), float(hi)


#: The metrics every ratio to the default is reported (with an interval) for.
CI_METRICS = ("r_precision", "ndcg@100")


@dataclass
class PathReport:
    """One user path: the default chosen on validation, and every model on test with ratios to that default."""

    protocol: str
    default: str
    validation: dict[str, dict[str, float]]
    test: dict[str, dict[str, float]]
    #: model -> metric -> (ratio model / default, 95% low, 95% high), on test
    ci: dict[str, dict[str, tuple[float, float, float]]]
    split: dict[str, object]

    def served(self) -> dict[str, object]:
        """The `served` block of the published default's meta: figures measured on this path's test part."""
        runner_up = {n: c for n, c in self.ci.items() if n not in ("popularity", "random")}
        return {
            "path": PATHS.get(self.protocol, self.protocol),
            "protocol": self.protocol,
            "model": self.default,
            "metrics": self.test[self.default],
            "validation_metrics": self.validation[self.default],
            "ci": {n: {m: list(v) for m, v in c.items()} for n, c in runner_up.items()},
            "split": self.split,
        }


#: Which chat command each protocol measures.
PATHS = {"one-seed": "/similar", "multi-seed": "/session next", "next-track": "/session next (short sessions)"}


def report_path(
    fitted: Mapping[str, Recommender],
    split: Split,
    protocol: str,
    *,
    candidates: Collection[str] | None = None,
    log: Callable[[str], None] | None = None,
) -> PathReport:
    """Choose the default among `candidates` (all fitted models by default) on validation by `primary_score`,
    then evaluate every model on test with paired bootstrap intervals of its ratio to the default."""
    val, test = split.view("validation", protocol), split.view("test", protocol)
    total = len(fitted) * (len(val.cases) + len(test.cases))
    with progress(f"evaluate {protocol}", total=total, unit="cases") as bar:
        val_rows = {n: evaluate_recommender(m, val, bar=bar) for n, m in fitted.items()}
        pool = [n for n in (candidates or fitted) if n in fitted]
        default = max(pool, key=lambda n: (primary_score(val_rows[n]), n))
        per: dict[str, dict[str, np.ndarray]] = {}
        test_rows = {}
        for n, m in fitted.items():
            per[n] = {}
            test_rows[n] = evaluate_recommender(m, test, per_case=per[n], bar=bar)
    ci = {
        n: {metric: paired_ratio(per[n][metric], per[default][metric]) for metric in CI_METRICS}
        for n in fitted
        if n != default
    }
    if log:
        log(f"{protocol}: default {default} (validation), test {format_row(test_rows[default])}")
    return PathReport(protocol, default, val_rows, test_rows, ci, test.describe())


def format_path_table(report: PathReport, title: str = "") -> str:
    """Markdown: every model on test, its validation score, and its ratio to the default with a 95% interval."""
    cols = ("r_precision", "ndcg@100", "recall@100", "hr@10_next", "coverage@10", "artist_div@10")
    lines = [f"### {title}", ""] if title else []
    head = ["model", "val R-prec", "val NDCG@100", *cols, *(f"{m} ratio [95% CI]" for m in CI_METRICS)]
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|---|" + "---:|" * (len(head) - 1))
    order = sorted(report.test, key=lambda n: -primary_score(report.test[n]))
    for name in order:
        row, val = report.test[name], report.validation[name]
        label = f"**{name}** (default)" if name == report.default else name
        cells = [f"{val['r_precision']:.4f}", f"{val['ndcg@100']:.4f}", *(f"{row[c]:.4f}" for c in cols)]
        for metric in CI_METRICS:
            if name == report.default:
                cells.append("1")
            else:
                r, lo, hi = report.ci[name][metric]
                cells.append(f"{r:.2f} [{lo:.2f}–{hi:.2f}]")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


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

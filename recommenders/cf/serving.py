"""What serves: a published CF artifact loaded as the bot serves it, and the line `/about` prints for it.

A served model is the published model (`load_recommender`) inside the fallback chain of the published `indexes`
artifact (`recommenders.indexes.current_indexes`: loaded when it matches the corpus, else built and published), so
every corpus track gets an answer. `murecom similar` and the benchmarks load it here; the bot's snapshot
(`bot.snapshot.SnapshotBuilder`) composes the same two loaders itself, sharing one chain between both paths' models,
so both answer alike (tests/bot/test_cf_similar_parity.py). Each artifact's meta holds
`served = {"path", "protocol", "model", "metrics", "ci", "split"}` measured on its path (`recommenders.cf.paths`),
and `served_figure(meta)` is the line `/about` prints.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from data.corpus import Corpus
from data.search import TrackSearch
from recommenders.artifacts import ArtifactStore
from recommenders.cf.fallback import WithFallback
from recommenders.cf.models import load_recommender
from recommenders.cf.paths import CF_ARTIFACT
from recommenders.indexes import current_indexes


@dataclass(frozen=True)
class ServedCF:
    """One published CF artifact as served: the model in the corpus's fallback chain, its meta, and the name search
    of the same corpus indexes."""

    model: WithFallback
    meta: Mapping[str, Any]
    search: TrackSearch


def open_served(store: ArtifactStore, corpus: Corpus, name: str = CF_ARTIFACT) -> ServedCF | None:
    """The published model of artifact `name` as the bot serves it (None when nothing is published).

    `model.similar(track)` answers for every corpus track; `NotInModel` is left for ids not in the corpus. The chain
    and the search come from the published `indexes` when they were built at the corpus's watermark (what `murecom
    train` publishes), else they are built (seconds on Yes.com) and published for the next caller.
    """
    version = store.current_version(name)
    if version is None:
        return None
    path = store.path(name, version)
    assert path is not None
    inner = load_recommender(path)
    indexes = current_indexes(store, corpus, inner)
    assert indexes.chain is not None  # built or loaded for a non-None inner model
    return ServedCF(indexes.chain.with_inner(inner), store.meta(name, version), indexes.search)


def load_served(store: ArtifactStore, corpus: Corpus, name: str = CF_ARTIFACT) -> WithFallback | None:
    """The published model of artifact `name` wrapped in the fallback chain (None when nothing is published)."""
    served = open_served(store, corpus, name)
    return served.model if served is not None else None


def served_figure(meta: Mapping[str, Any]) -> str:
    """The one line `/about` prints for a served artifact: its model and the figure measured on its own path.

    e.g. "sknn, one-seed R-prec 0.027 / NDCG@100 0.122 on 999 held-out playlists (test split)".
    """
    served = meta.get("served")
    model = meta.get("model", meta.get("class", "?"))
    if not served:
        return f"{model}, not evaluated (published without a held-out evaluation)"
    if served.get("model") != model:
        raise ValueError(f"the served figure is of {served.get('model')}, but the published model is {model}")
    m, split = served["metrics"], served["split"]
    unit = "listeners" if str(split.get("name", "")).startswith("listeners") else "playlists"
    return (
        f"{model}, {served['protocol']} R-prec {m['r_precision']:.3f} / NDCG@100 {m['ndcg@100']:.3f} "
        f"on {int(split['cases']):,} held-out {unit} ({split['part']} split)"
    )

"""The one interface every recommender implements, and the result type the chat core renders.

A recommender is fitted on the corpus (`data.corpus.Corpus`), answers `similar(track_id, k)` with ranked
`Recommendation`s (highest score first, the seed itself never included), and saves/loads itself to a folder so
the artifact store can version it and swap it atomically.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Self

from data.corpus import Corpus


@dataclass(frozen=True)
class Recommendation:
    """One ranked pick: which track, how strongly, and a reason a person can read."""

    track_id: int
    score: float
    reason: str


class NotInModel(LookupError):
    """The seed track is unknown to this model (e.g. it never appeared in a training playlist)."""

    def __init__(self, track_id: int, model: str) -> None:
        super().__init__(f"track {track_id} is not in the {model} model")
        self.track_id = track_id
        self.model = model


class Recommender(ABC):
    """Base class: `fit` / `similar` / `save` / `load`, in the style of scikit-learn estimators."""

    name: ClassVar[str] = "base"

    @abstractmethod
    def fit(self, corpus: Corpus) -> Self:
        """Learn from the corpus; returns self."""

    @abstractmethod
    def similar(self, track_id: int, k: int = 10, *, exclude: Collection[int] = ()) -> list[Recommendation]:
        """The k tracks most similar to `track_id`, best first; raises NotInModel for an unknown seed."""

    @abstractmethod
    def __contains__(self, track_id: object) -> bool:
        """Whether `track_id` can be used as a seed."""

    @abstractmethod
    def save(self, path: Path) -> None:
        """Write the fitted model into the folder `path` (created by the caller)."""

    @classmethod
    @abstractmethod
    def load(cls, path: Path) -> Self:
        """Read a model written by `save`."""

    def similar_to_many(
        self,
        seeds: Sequence[int],
        k: int = 10,
        *,
        weights: Sequence[float] | None = None,
        exclude: Collection[int] = (),
    ) -> list[Recommendation]:
        """Recommend for a set of seeds (playlist continuation, group sessions).

        Default: the weighted sum of each known seed's similarity lists; seeds unknown to the model are skipped.
        Models with a better native way (a mean embedding, a user vector) override this.
        """
        weights = list(weights) if weights is not None else [1.0] * len(seeds)
        banned = set(exclude) | set(seeds)
        totals: dict[int, float] = defaultdict(float)
        reasons: dict[int, str] = {}
        known = [(s, w) for s, w in zip(seeds, weights, strict=True) if s in self]
        if not known:
            raise NotInModel(seeds[0] if seeds else -1, self.name)
        fan_out = max(k * 5, 50)
        for seed, weight in known:
            for rec in self.similar(seed, fan_out, exclude=banned):
                totals[rec.track_id] += weight * rec.score
                reasons.setdefault(rec.track_id, rec.reason)
        ranked = sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))[:k]
        return [Recommendation(t, s, reasons[t]) for t, s in ranked]

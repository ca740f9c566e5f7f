"""Never "I cannot say what goes with it": a fallback chain around a CF model for seeds it does not know.

`WithFallback` answers with the CF model when it knows a seed (padding a short list from the chain), and
otherwise walks the chain, each pick saying which step chose it:
1. "artists": the seed's own artists' tracks ("by the same artist"), then tracks of related artists ("by related
   artists: X") — artist similarity is item-kNN over artists, from the playlists (songs aggregated per artist) and
   from the HetRec Last.fm listeners (artists matched by name);
2. "tags": tracks sharing the seed's Last.fm tags, by tag-set Jaccard ("same tags: 80s, new wave");
3. "dominant_tag": popular tracks in the seed's most common tag ("popular in rock");
4. "popular": the most played tracks overall.
It holds only lookups built from the corpus in a few seconds, so it is rebuilt at load time, never saved.
`NotInModel` is left only for ids that are not corpus tracks at all.
"""

from __future__ import annotations

import copy
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Self

import numpy as np

from recommenders.base import NotInModel, Recommendation, Recommender
from recommenders.cf.itemknn import ItemKNN

if TYPE_CHECKING:
    from data.corpus import Corpus

STEPS = ("artists", "tags", "dominant_tag", "popular")
RELATED_ARTISTS = 20


class WithFallback(Recommender):
    """A CF model plus the chain that answers every corpus track (see the module docstring)."""

    name: ClassVar[str] = "fallback"

    def __init__(
        self,
        inner: Recommender,
        playlists: Iterable[Sequence[int]],
        track_artists: Mapping[int, tuple[int, ...]],
        track_tags: Mapping[int, frozenset[str]],
        *,
        artist_names: Mapping[int, str] | None = None,
        listener_artists: Sequence[Sequence[int]] = (),
        steps: Sequence[str] = STEPS,
    ) -> None:
        unknown = [s for s in steps if s not in STEPS]
        if unknown:
            raise ValueError(f"unknown fallback steps {unknown}; choose from {STEPS}")
        self.inner, self.steps = inner, tuple(steps)
        self.track_artists, self.track_tags = track_artists, track_tags
        self.artist_names = dict(artist_names or {})
        plays: Counter[int] = Counter()
        artist_seqs: list[list[int]] = []
        for p in playlists:
            plays.update(set(p))
            artist_seqs.append([a for t in p for a in track_artists.get(int(t), ())[:1]])
        self.plays = plays
        self.popular = sorted(plays, key=lambda t: (-plays[t], t))
        by_artist: dict[int, list[int]] = defaultdict(list)
        by_tag: dict[str, list[int]] = defaultdict(list)
        for t in sorted({*track_artists, *plays}, key=lambda t: (-plays[t], t)):
            for a in track_artists.get(t, ()):
                by_artist[a].append(t)
            for tag in track_tags.get(t, ()):
                by_tag[tag].append(t)
        self.by_artist, self.by_tag = dict(by_artist), dict(by_tag)
        self.known = {*track_artists, *track_tags, *plays}
        self.artist_models = [
            ItemKNN(neighbours=RELATED_ARTISTS).fit_sequences(seqs)
            for seqs in (artist_seqs, list(listener_artists))
            if any(len(s) > 1 for s in seqs)
        ]

    @classmethod
    def from_corpus(
        cls, inner: Recommender, corpus: Corpus, playlists: Iterable[Sequence[int]] | None = None, **kw: Any
    ) -> Self:
        """The chain over `corpus` metadata; popularity and artist similarity from `playlists` (default: all)."""
        track_artists = corpus.track_artists()
        names = corpus.artist_names({a for arts in track_artists.values() for a in arts})
        return cls(
            inner,
            [list(p) for p in (playlists if playlists is not None else corpus.playlists())],
            track_artists,
            corpus.track_tags(),
            artist_names=names,
            listener_artists=_listener_artists(corpus, names),
            **kw,
        )

    def with_inner(self, inner: Recommender) -> Self:
        """The same chain around another CF model (the chain is corpus data: the serving snapshot builds it once
        for both paths' models, and again only when the corpus grows)."""
        twin = copy.copy(self)
        twin.inner = inner
        return twin

    # --- the chain --------------------------------------------------------------------------------------------
    def related_artists(self, artists: Collection[int]) -> list[int]:
        """Artists most similar to `artists` (playlist and listener similarity summed), best first."""
        score: dict[int, float] = defaultdict(float)
        for model in self.artist_models:
            known = [a for a in artists if a in model]
            if known:
                for r in model.similar_to_many(known, RELATED_ARTISTS, exclude=artists):
                    score[r.track_id] += r.score
        return sorted(score, key=lambda a: (-score[a], a))

    def _chain(self, seeds: Sequence[int]) -> Iterator[tuple[int, str]]:
        artists = {a for s in seeds for a in self.track_artists.get(int(s), ())}
        tags: Counter[str] = Counter(tag for s in seeds for tag in self.track_tags.get(int(s), ()))
        for step in self.steps:
            if step == "artists":
                for a in sorted(artists):
                    for t in self.by_artist.get(a, ()):
                        yield t, "by the same artist"
                for a in self.related_artists(artists):
                    name = self.artist_names.get(a)
                    for t in self.by_artist.get(a, ())[:5]:
                        yield t, f"by related artists: {name}" if name else "by related artists"
            elif step == "tags" and tags:
                seed_tags = set(tags)
                pool = {t for tag in seed_tags for t in self.by_tag.get(tag, ())[:2000]}
                scored = []
                for t in pool:
                    theirs = self.track_tags.get(t, frozenset())
                    shared = seed_tags & theirs
                    scored.append((len(shared) / len(seed_tags | theirs), self.plays[t], t, shared))
                for _, _, t, shared in sorted(scored, key=lambda x: (-x[0], -x[1], x[2])):
                    yield t, "same tags: " + ", ".join(sorted(shared)[:3])
            elif step == "dominant_tag" and tags:
                dom = min(tags, key=lambda tag: (-tags[tag], -len(self.by_tag.get(tag, ())), tag))
                for t in self.by_tag.get(dom, ()):
                    yield t, f"popular in {dom}"
            elif step == "popular":
                for t in self.popular:
                    yield t, f"popular: in {self.plays[t]} playlists"

    def _pad(
        self, recs: list[Recommendation], seeds: Sequence[int], k: int, exclude: Collection[int]
    ) -> list[Recommendation]:
        if len(recs) >= k:
            return recs[:k]
        banned = {*exclude, *(int(s) for s in seeds), *(r.track_id for r in recs)}
        floor = min((r.score for r in recs), default=1.0)
        out = list(recs)
        for t, reason in self._chain(seeds):
            if t in banned:
                continue
            banned.add(t)
            # below every CF pick, in chain order
            out.append(Recommendation(int(t), floor - (len(out) - len(recs) + 1) * 1e-3, reason))
            if len(out) >= k:
                break
        return out

    # --- Recommender ------------------------------------------------------------------------------------------
    def __contains__(self, track_id: object) -> bool:
        return isinstance(track_id, int | np.integer) and int(track_id) in self.known

    def similar(self, track_id: int, k: int = 10, *, exclude: Collection[int] = ()) -> list[Recommendation]:
        if int(track_id) not in self.known:
            raise NotInModel(int(track_id), self.name)
        try:
            recs = self.inner.similar(track_id, k, exclude=exclude)
        except NotInModel:
            recs = []
        return self._pad(recs, [track_id], k, exclude)

    def similar_to_many(
        self,
        seeds: Sequence[int],
        k: int = 10,
        *,
        weights: Sequence[float] | None = None,
        exclude: Collection[int] = (),
        pad: bool = True,
    ) -> list[Recommendation]:
        """The CF model's list, padded from the chain to `k` (`pad=False`: the chain only when the CF model knows
        none of the seeds — what group scoring wants, asking for deep lists where padding would only add noise)."""
        if not any(int(s) in self.known for s in seeds):
            raise NotInModel(int(seeds[0]) if len(seeds) else -1, self.name)
        try:
            recs = self.inner.similar_to_many(seeds, k, weights=weights, exclude=exclude)
        except NotInModel:
            recs = []
        return self._pad(recs, seeds, k if pad or not recs else len(recs), exclude)

    def fit(self, corpus: Corpus) -> Self:
        raise NotImplementedError("fit the inner model, then wrap it with WithFallback.from_corpus")

    def save(self, path: Path) -> None:
        raise NotImplementedError("the fallback chain is rebuilt from the corpus at load time: save the inner model")

    @classmethod
    def load(cls, path: Path) -> Self:
        raise NotImplementedError("the fallback chain is rebuilt from the corpus at load time: load the inner model")


def _listener_artists(corpus: Corpus, names: Mapping[int, str]) -> list[list[int]]:
    """HetRec listeners' artists (most played first) mapped onto the corpus's playlist artists by name."""
    im = corpus.listener_artist_matrix()
    if im.matrix.shape[0] == 0:
        return []
    by_name = {n.casefold(): a for a, n in names.items()}
    theirs = corpus.artist_names(int(a) for a in im.item_ids)
    mapped = [by_name.get(theirs.get(int(a), "").casefold(), -1) for a in im.item_ids]
    m = im.matrix.tocsr()
    out = []
    for r in range(m.shape[0]):
        cols = m.indices[m.indptr[r] : m.indptr[r + 1]]
        seq = [mapped[c] for c in cols if mapped[c] >= 0]
        if len(seq) > 1:
            out.append(seq)
    return out

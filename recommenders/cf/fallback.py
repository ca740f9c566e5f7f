"""Never "I cannot say what goes with it": a fallback chain around a CF model for seeds it does not know.

`WithFallback` answers with the CF model when it knows a seed (padding a short list from the chain), and
otherwise walks the chain, each pick saying which step chose it:
1. "artists": the seed's own artists' tracks ("by the same artist"), then tracks of related artists ("by related
   artists: X") — artist similarity is item-kNN over artists, from the playlists (songs aggregated per artist) and
   from the HetRec Last.fm listeners (artists matched by name);
2. "tags": tracks sharing the seed's Last.fm tags, by tag-set Jaccard ("same tags: 80s, new wave");
3. "dominant_tag": popular tracks in the seed's most common tag ("popular in rock");
4. "popular": the most played tracks overall.
It holds lookups built from the corpus (seconds on Yes.com, a minute at a million playlists); the serving snapshot
loads a saved copy (`save`/`load`, memory-mapped arrays) made for the corpus it serves (`recommenders.indexes`).
`NotInModel` is left only for ids that are not corpus tracks at all.
"""

from __future__ import annotations

import copy
import itertools
import json
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Self

import numpy as np

from data.lookups import EMPTY, Counts, Postings, mapped, positions
from recommenders.base import NotInModel, Recommendation, Recommender
from recommenders.cf.itemknn import ItemKNN

if TYPE_CHECKING:
    from data.corpus import Corpus

STEPS = ("artists", "tags", "dominant_tag", "popular")
RELATED_ARTISTS = 20
#: Artist similarity is learnt from at most this many playlists (an even spread over all of them): its item × item
#: fit grows with the playlists' co-occurring pairs, and at the MPD's million playlists it would cost more than
#: the served model's; artist co-occurrence is stable long before that.
ARTIST_PLAYLISTS = 100_000
TAG_POOL = 2000  # the chain's "tags" step scores the most played tracks of each of the seed's tags


class WithFallback(Recommender):
    """A CF model plus the chain that answers every corpus track (see the module docstring)."""

    name: ClassVar[str] = "fallback"

    def __init__(
        self,
        inner: Recommender,
        playlists: Iterable[Sequence[int]],
        track_artists: Mapping[int, Sequence[int]],
        track_tags: Mapping[int, Collection[str]],
        *,
        artist_names: Mapping[int, str] | None = None,
        listener_artists: Sequence[Sequence[int]] = (),
        steps: Sequence[str] = STEPS,
    ) -> None:
        _check_steps(steps)
        self.inner, self.steps = inner, tuple(steps)
        seqs = playlists if isinstance(playlists, Sequence) else list(playlists)
        self.track_artists = Postings.from_mapping(track_artists)
        # vectorised over the flat entries: a million playlists are 66 M of them
        lengths = np.fromiter((len(p) for p in seqs), dtype=np.int64, count=len(seqs))
        flat = np.fromiter(itertools.chain.from_iterable(seqs), dtype=np.int64, count=int(lengths.sum()))
        rows = np.repeat(np.arange(len(seqs), dtype=np.int64), lengths)
        pairs = np.unique(np.stack([rows, flat]), axis=1) if len(flat) else np.zeros((2, 0), np.int64)
        played, counts = np.unique(pairs[1], return_counts=True)  # playlists holding each track
        self.plays = Counts(played, counts)
        self.popular = self.plays.most_common_keys()
        artist_seqs = self._first_artist_sequences(rows, flat, len(seqs))
        if len(artist_seqs) > ARTIST_PLAYLISTS:
            step = len(artist_seqs) / ARTIST_PLAYLISTS
            artist_seqs = [artist_seqs[int(i * step)] for i in range(ARTIST_PLAYLISTS)]
        # an artist's tracks, most played first (ties by id): one sort of the (track, artist) pairs
        ta = self.track_artists
        pair_tracks = np.repeat(ta.keys, np.diff(ta.indptr))
        pair_plays = self.plays.of(pair_tracks)
        order = np.lexsort((pair_tracks, -pair_plays, ta.values))
        artists_sorted = ta.values[order]
        keys, starts = np.unique(artists_sorted, return_index=True)
        self.by_artist = Postings(keys, np.append(starts, len(order)).astype(np.int64), pair_tracks[order])
        tag_names = sorted({str(tag) for t in track_tags for tag in track_tags.get(t, ())})
        tag_index = {tag: i for i, tag in enumerate(tag_names)}
        by_tag: dict[int, list[int]] = defaultdict(list)
        tagged = [int(t) for t in track_tags if int(t) in self.track_artists or self.plays[int(t)]]
        for t in sorted(tagged, key=lambda t: (-self.plays[t], t)):
            for tag in track_tags.get(t, ()):
                by_tag[tag_index[str(tag)]].append(t)
        self.track_tags = TagSets(
            Postings.from_mapping({int(t): sorted(tag_index[str(g)] for g in track_tags[t]) for t in track_tags}),
            tag_names,
        )
        self.by_tag = TagPostings(Postings.from_mapping(by_tag), tag_names)
        self.artist_names = {int(a): str(n) for a, n in (artist_names or {}).items()}
        self.known = np.union1d(np.union1d(self.track_artists.keys, self.track_tags.postings.keys), self.plays.keys)
        sources: list[Sequence[Sequence[int]]] = [artist_seqs, list(listener_artists)]
        self.artist_models = [
            ItemKNN(neighbours=RELATED_ARTISTS).fit_sequences(seqs) for seqs in sources if any(len(s) > 1 for s in seqs)
        ]

    def _first_artist_sequences(self, rows: np.ndarray, flat: np.ndarray, n: int) -> list[Sequence[int]]:
        """Each playlist as the sequence of its tracks' first artists (tracks without an artist left out)."""
        ta = self.track_artists
        if not len(ta) or not len(flat):
            return []
        i = positions(ta.keys, flat)
        j = np.maximum(i, 0)
        ok = (i >= 0) & (ta.indptr[j + 1] > ta.indptr[j])
        artists = ta.values[ta.indptr[j[ok]]]
        per_row = np.bincount(rows[ok], minlength=n)
        return list(np.split(artists, np.cumsum(per_row)[:-1]))  # type: ignore[arg-type]  # arrays are sequences

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

    def artist_tracks(self, artist: int, limit: int | None = None) -> list[int]:
        """An artist's tracks, most played first: what the chain's "artists" step offers for that artist (a song
        the chain does not hold yet, just looked up, is answered from its artists this way)."""
        return [int(t) for t in self.by_artist.get(int(artist), ())[:limit]]

    def popular_tracks(self, limit: int) -> list[tuple[int, str]]:
        """The most played tracks with the chain's reason: its last step, for a seed nothing else is known of."""
        return [(int(t), self._popular_reason(int(t))) for t in self.popular[:limit]]

    def _popular_reason(self, track: int) -> str:
        return f"popular: in {self.plays[track]} playlists"

    def _chain(self, seeds: Sequence[int]) -> Iterator[tuple[int, str]]:
        artists = {int(a) for s in seeds for a in self.track_artists.get(int(s), ())}
        tags: Counter[str] = Counter(tag for s in seeds for tag in self.track_tags.get(int(s)))
        for step in self.steps:
            if step == "artists":
                for a in sorted(artists):
                    for t in self.artist_tracks(a):
                        yield t, "by the same artist"
                for a in self.related_artists(artists):
                    name = self.artist_names.get(a)
                    for t in self.artist_tracks(a, 5):
                        yield t, f"by related artists: {name}" if name else "by related artists"
            elif step == "tags" and tags:
                seed_tags = set(tags)
                for t in self._by_shared_tags(seed_tags):
                    yield t, "same tags: " + ", ".join(sorted(seed_tags & self.track_tags.get(t))[:3])
            elif step == "dominant_tag" and tags:
                dom = min(tags, key=lambda tag: (-tags[tag], -len(self.by_tag.get(tag, ())), tag))
                for t in self.by_tag.get(dom, ()):
                    yield int(t), f"popular in {dom}"
            elif step == "popular":  # lazily: at a million playlists the list is millions long
                for t in self.popular:
                    yield int(t), self._popular_reason(int(t))

    def _by_shared_tags(self, seed_tags: set[str]) -> np.ndarray:
        """The most played `TAG_POOL` tracks of each seed tag, by the Jaccard overlap of their tags with the seed's
        (then most played, then id). In arrays: a seed with a dozen common tags pools ~20,000 tracks, whose tags
        looked up one by one took 128 ms per seed (5 ms in arrays) on the 6,000-playlist corpus."""
        pools = [self.by_tag.get(tag, ())[:TAG_POOL] for tag in seed_tags]
        pool = np.unique(np.concatenate([np.asarray(p, np.int64) for p in pools])) if pools else EMPTY
        postings = self.track_tags.postings
        rows = positions(postings.keys, pool)
        starts = np.where(rows >= 0, postings.indptr[np.maximum(rows, 0)], 0)
        lengths = np.where(rows >= 0, postings.indptr[np.maximum(rows, 0) + 1] - starts, 0)
        within = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        theirs = postings.values[np.repeat(starts, lengths) + within]  # every pooled track's tag numbers, in a row
        seed_numbers = [self.by_tag.index[tag] for tag in seed_tags if tag in self.by_tag.index]
        owner = np.repeat(np.arange(len(pool)), lengths)
        shared = np.bincount(owner[np.isin(theirs, seed_numbers)], minlength=len(pool))
        overlap = shared / (len(seed_tags) + lengths - shared)  # |seed ∩ theirs| / |seed ∪ theirs|
        return pool[np.lexsort((pool, -self.plays.of(pool), -overlap))]

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
    def _knows(self, track_id: object) -> bool:
        if not isinstance(track_id, int | np.integer):
            return False
        return int(positions(self.known, int(track_id))) >= 0

    def __contains__(self, track_id: object) -> bool:
        return self._knows(track_id)

    def similar(self, track_id: int, k: int = 10, *, exclude: Collection[int] = ()) -> list[Recommendation]:
        if not self._knows(track_id):
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
        if not any(self._knows(s) for s in seeds):
            raise NotInModel(int(seeds[0]) if len(seeds) else -1, self.name)
        try:
            recs = self.inner.similar_to_many(seeds, k, weights=weights, exclude=exclude)
        except NotInModel:
            recs = []
        return self._pad(recs, seeds, k if pad or not recs else len(recs), exclude)

    def fit(self, corpus: Corpus) -> Self:
        raise NotImplementedError("fit the inner model, then wrap it with WithFallback.from_corpus")

    def save(self, path: Path) -> None:
        """Save the chain's lookups (not the inner model, which is an artifact of its own) as memory-mappable
        arrays: rebuilding them reads every playlist, a minute at a million playlists, so the serving snapshot
        loads a saved chain instead (`recommenders.indexes`)."""
        path = Path(path)
        self.track_artists.save(path, "track_artists")
        self.track_tags.postings.save(path, "track_tags")
        self.by_artist.save(path, "by_artist")
        self.by_tag.postings.save(path, "by_tag")
        np.save(path / "plays.keys.npy", self.plays.keys)
        np.save(path / "plays.counts.npy", self.plays.counts)
        np.save(path / "popular.npy", self.popular)
        np.save(path / "known.npy", self.known)
        names = sorted(self.artist_names.items())
        meta = {
            "steps": list(self.steps),
            "tags": self.track_tags.names,
            "artist_ids": [a for a, _ in names],
            "artist_names": [n for _, n in names],
            "artist_models": len(self.artist_models),
        }
        (path / "chain.json").write_text(json.dumps(meta))
        for i, model in enumerate(self.artist_models):
            (path / f"artists{i}").mkdir()
            model.save(path / f"artists{i}")

    @classmethod
    def load(cls, path: Path, inner: Recommender | None = None) -> Self:
        """The chain `save` wrote, around `inner`."""
        if inner is None:
            raise ValueError("a saved fallback chain needs the CF model it wraps: load(path, inner)")
        path = Path(path)
        meta = json.loads((path / "chain.json").read_text())
        chain = cls.__new__(cls)
        chain.inner, chain.steps = inner, tuple(meta["steps"])
        chain.track_artists = Postings.load(path, "track_artists")
        chain.track_tags = TagSets(Postings.load(path, "track_tags"), list(meta["tags"]))
        chain.by_artist = Postings.load(path, "by_artist")
        chain.by_tag = TagPostings(Postings.load(path, "by_tag"), list(meta["tags"]))
        chain.plays = Counts(np.load(path / "plays.keys.npy"), np.load(path / "plays.counts.npy"))
        chain.popular = mapped(path / "popular.npy")
        chain.known = mapped(path / "known.npy")
        chain.artist_names = dict(zip(meta["artist_ids"], meta["artist_names"], strict=True))
        chain.artist_models = [ItemKNN.load(path / f"artists{i}") for i in range(int(meta["artist_models"]))]
        return chain


class TagSets:
    """Track id → its tag names (a frozenset), over postings of tag numbers."""

    def __init__(self, postings: Postings, names: Sequence[str]) -> None:
        self.postings, self.names = postings, list(names)

    def get(self, track_id: int, default: frozenset[str] = frozenset()) -> frozenset[str]:
        tags = self.postings.get(track_id)
        return frozenset(self.names[int(i)] for i in tags) if len(tags) else default

    def __iter__(self) -> Iterator[int]:
        return iter(self.postings)

    def __getitem__(self, track_id: int) -> frozenset[str]:
        if track_id not in self.postings:
            raise KeyError(track_id)
        return self.get(track_id)


class TagPostings:
    """Tag name → its tracks, most played first."""

    def __init__(self, postings: Postings, names: Sequence[str]) -> None:
        self.postings = postings
        self.index = {name: i for i, name in enumerate(names)}

    def get(self, tag: str, default: tuple[()] = ()) -> np.ndarray | tuple[()]:
        i = self.index.get(tag)
        return default if i is None else self.postings.get(i, default)


def _check_steps(steps: Sequence[str]) -> None:
    unknown = [s for s in steps if s not in STEPS]
    if unknown:
        raise ValueError(f"unknown fallback steps {unknown}; choose from {STEPS}")


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

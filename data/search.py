"""Find a track from what a person types: a title, "title - artist", "artist title", a typo, or a Spotify link.

Two stages keep it fast on 100k+ tracks and safe on any input:
1. candidate generation: character 3-gram TF-IDF vectors of "title artist" (cosine by one sparse product), so a typo
   ("hotel califrnia") still shares most 3-grams with the right track;
2. re-ranking of the few hundred candidates with rapidfuzz, scoring the query against the title, the artist and
   both orders of their concatenation, and splitting "title - artist" / "title by artist" queries.
The query never reaches SQL (only the index in memory), so quotes, `AND`, `*` or `'; DROP TABLE` are plain text.
"""

from __future__ import annotations

import json
import re
import threading
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from rapidfuzz import fuzz
from sklearn.feature_extraction.text import TfidfVectorizer
from sqlalchemy import func, select

from data.corpus import Corpus, TrackInfo
from data.lookups import StringTable, load_csr, mapped, positions, save_csr
from data.models import Artist, Track, TrackArtist

MAX_QUERY_CHARS = 200
_SPOTIFY_TRACK = re.compile(
    r"(?:open\.spotify\.com/(?:intl-[a-z]{2}(?:-[a-z]{2})?/)?track/|spotify:track:)([A-Za-z0-9]{22})"
)
_BARE_SPOTIFY_ID = re.compile(r"^[A-Za-z0-9]{22}$")
# "w/" ends in a non-word character, so the word boundary applies to the words only ("(w/ Drake)" is stripped too)
_FEATURING = re.compile(r"[\(\[]\s*(?:w/|(?:with|feat\.?|ft\.?|featuring)\b)[^\)\]]*[\)\]]", re.IGNORECASE)
_NON_WORD = re.compile(r"[^\w]+", re.UNICODE)
_SPLITTERS = (" - ", " – ", " — ", " by ", " / ")


#: Candidate generation reads the query's rarest 3-grams' postings up to this many entries (at least MIN_GRAMS
#: grams): bounded work per query whatever the catalogue size (see `TrackSearch._candidates`).
POSTINGS_BUDGET = 60_000
MIN_GRAMS = 4


#: The confidence (`Candidate.confidence`) from which a candidate is taken to be the song named. Tuned on the
#: validation half of `data.query_set` (400 queries per kind over the full Yes.com corpus, `tune_threshold`); on the
#: test half it finds 100 % of full names and titles and 91.5 % of misspelt names, and offers nothing for 89.8 % of
#: names of songs the catalogue lacks by artists it knows (1.9 % at the old floor of 0.35, which offered the artist's
#: other songs as "did you mean").
CONFIDENT = 0.71
#: How closely a query must be an artist's name to be taken as asking for one of their songs.
ARTIST_ONLY = 0.9


class QueryError(ValueError):
    """A query that cannot be searched; the message is meant for the person who typed it."""


def normalize(text: str) -> str:
    """Case-fold, strip accents and punctuation, collapse spaces ("Beyoncé's Halo!" → "beyonce s halo")."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = text.replace("&", " and ")
    return " ".join(_NON_WORD.sub(" ", text.casefold()).split())


def _without_article(name: str) -> str:
    """A normalised name without a leading "the " (people type "eagles" for The Eagles, and the reverse)."""
    return name[4:] if name.startswith("the ") else name


def core_title(title: str) -> str:
    """The title without "(w/ …)" / "(feat. …)" parts, which people rarely type."""
    return _FEATURING.sub(" ", title)


def parse_spotify_track_id(text: str) -> str | None:
    """The 22-character Spotify track id in a URL, a `spotify:track:` URI, or a bare id; else None."""
    text = text.strip()
    m = _SPOTIFY_TRACK.search(text)
    if m:
        return m.group(1)
    if _BARE_SPOTIFY_ID.match(text) and any(c.isdigit() for c in text) and any(c.isalpha() for c in text):
        return text
    return None


@dataclass(frozen=True)
class Candidate:
    """A track that may be what the person meant: `score` in [0, 1] ranks candidates (the name as a whole, artist
    included); `title_match` says how much of the track's title the query holds, and `artist_match` how closely the
    query is the artist's name alone. An artist's other song scores high on `score` ("blinding lights the weeknd" →
    any track of The Weeknd) but not on `title_match`: `confidence`, their product, is what tells "this is the song"
    (its threshold is tuned on validation queries, `data.query_set`)."""

    track: TrackInfo
    score: float
    title_match: float = 1.0
    artist_match: float = 0.0

    @property
    def confidence(self) -> float:
        return self.score * self.title_match


@dataclass(frozen=True)
class Resolution:
    """The ranked candidates for one query."""

    query: str
    candidates: list[Candidate] = field(default_factory=list)

    @property
    def best(self) -> Candidate | None:
        return self.candidates[0] if self.candidates else None

    def confident(self, threshold: float = CONFIDENT) -> Resolution:
        """Only the candidates that are probably the song named (see `CONFIDENT`)."""
        return Resolution(self.query, [c for c in self.candidates if c.confidence >= threshold])

    def decide(self, threshold: float = CONFIDENT, offered: int = 5) -> tuple[Candidate | None, list[Candidate]]:
        """(the song, when the query surely names one; else the songs to offer): the confident candidates when
        several are about as likely; an artist's songs when the query is their name alone; none when the catalogue
        does not hold the song named (the caller says so, never offering other songs as if they were it)."""
        sure = self.confident(threshold)
        if sure.best is not None and not sure.ambiguous:
            return sure.best, []
        if sure.candidates:
            return None, sure.candidates[:offered]
        if self.names_an_artist:
            assert self.best is not None
            return None, [c for c in self.candidates if c.track.artist == self.best.track.artist][:offered]
        return None, []

    @property
    def names_an_artist(self) -> bool:
        """Whether the query is an artist's name alone ("eagles"): the person wants one of their songs."""
        return self.best is not None and self.best.artist_match >= ARTIST_ONLY

    @property
    def ambiguous(self) -> bool:
        """True when the caller should let the person pick: weak best match, or a runner-up about as good."""
        if len(self.candidates) < 2:
            return bool(self.candidates) and self.candidates[0].score < 0.6
        first, second = self.candidates[0].score, self.candidates[1].score
        return first < 0.75 or second >= first - 0.03


def clean_query(query: str, max_chars: int = MAX_QUERY_CHARS) -> str:
    """Validate and tidy a raw query (control characters dropped); raises QueryError with a friendly message."""
    if not isinstance(query, str):
        raise QueryError("Tell me a song name, e.g. /similar hotel california.")
    if len(query) > max_chars:
        raise QueryError(f"That is a long name ({len(query)} characters); please keep it under {max_chars}.")
    cleaned = "".join(ch for ch in query if unicodedata.category(ch)[0] != "C").strip()
    if not cleaned:
        raise QueryError("Tell me a song name, e.g. /similar hotel california.")
    return cleaned


class TrackSearch:
    """In-memory search index over every track of the corpus."""

    def __init__(self, corpus: Corpus, candidates: int = 150, *, build: bool = True) -> None:
        self.corpus = corpus
        self._n_candidates = candidates
        self._lock = threading.Lock()
        self._built_max_id: int | None = None
        if build:
            self.refresh()

    def refresh(self) -> None:
        """(Re)build the index from the database."""
        rows_by_id: dict[int, list] = {}
        with self.corpus.engine.connect() as conn:
            max_id = conn.scalar(select(func.max(Track.id)))
            for tid, title, track_popularity, spotify_id in conn.execute(
                select(Track.id, Track.title, Track.popularity, Track.spotify_id).order_by(Track.id)
            ):
                rows_by_id[tid] = [title, track_popularity or 0, spotify_id, []]
            for tid, name in conn.execute(
                select(TrackArtist.track_id, Artist.name)
                .join(Artist, Artist.id == TrackArtist.artist_id)
                .order_by(TrackArtist.track_id, TrackArtist.position)
            ):
                if tid in rows_by_id:
                    rows_by_id[tid][3].append(name)
        ids = np.fromiter(rows_by_id.keys(), dtype=np.int64, count=len(rows_by_id))
        titles = [normalize(core_title(r[0])) for r in rows_by_id.values()]
        full_titles = [normalize(r[0]) for r in rows_by_id.values()]
        artists = [normalize(" ".join(r[3])) for r in rows_by_id.values()]
        popularity = np.array([r[1] for r in rows_by_id.values()], dtype=np.float64)
        spotify = sorted((r[2].encode("ascii", "replace"), tid) for tid, r in rows_by_id.items() if r[2])
        docs = [f"{t} {a}" for t, a in zip(titles, artists, strict=True)]
        vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 3), min_df=1, dtype=np.float32)
        matrix = vectorizer.fit_transform(docs) if docs else None
        pop_prior = np.log1p(popularity) / max(1.0, float(np.log1p(popularity.max()))) if len(ids) else popularity
        self._set_state(
            ids=ids,
            titles=StringTable.from_strings(titles),
            full_titles=StringTable.from_strings(full_titles),
            artists=StringTable.from_strings(artists),
            pop_prior=pop_prior,
            spotify_ids=np.array([k for k, _ in spotify], dtype="S22"),
            spotify_tracks=np.array([t for _, t in spotify], dtype=np.int64),
            order_by_pop=np.argsort(-popularity, kind="stable"),
            vectorizer=vectorizer,
            # column-major copy: a query touches only the postings of its own 3-grams
            matrix=matrix.tocsc() if matrix is not None else None,
            max_id=max_id,
        )

    def _set_state(self, **state: Any) -> None:
        with self._lock:
            self._ids, self._titles, self._full_titles = state["ids"], state["titles"], state["full_titles"]
            self._artists, self._pop_prior = state["artists"], state["pop_prior"]
            self._spotify_ids, self._spotify_tracks = state["spotify_ids"], state["spotify_tracks"]
            self._order_by_pop = state["order_by_pop"]
            self._vectorizer, self._matrix = state["vectorizer"], state["matrix"]
            self._built_max_id = state["max_id"]

    def save(self, folder: Path) -> None:
        """The index as memory-mappable arrays (the serving snapshot loads it instead of rebuilding: 20 s at 370 k
        tracks, every name normalised and every 3-gram counted)."""
        for name in ("ids", "pop_prior", "spotify_ids", "spotify_tracks", "order_by_pop"):
            np.save(folder / f"{name}.npy", getattr(self, f"_{name}"))
        for name in ("titles", "full_titles", "artists"):
            getattr(self, f"_{name}").save(folder, name)
        meta: dict[str, Any] = {"max_id": self._built_max_id, "candidates": self._n_candidates, "matrix": None}
        if self._matrix is not None:
            save_csr(folder / "matrix.csc", self._matrix.T.tocsr())  # a CSC matrix's arrays are its transpose's CSR
            meta["vocabulary"] = {k: int(v) for k, v in self._vectorizer.vocabulary_.items()}
            np.save(folder / "idf.npy", self._vectorizer.idf_)
            meta["matrix"] = list(self._matrix.shape)
        (folder / "search.json").write_text(json.dumps(meta))

    @classmethod
    def load(cls, folder: Path, corpus: Corpus) -> TrackSearch:
        """The index `save` wrote, answering from `corpus` (which must be the corpus it was built from)."""
        meta = json.loads((folder / "search.json").read_text())
        search = cls(corpus, int(meta["candidates"]), build=False)
        arrays = {
            name: mapped(folder / f"{name}.npy")
            for name in ("ids", "pop_prior", "spotify_ids", "spotify_tracks", "order_by_pop")
        }
        vectorizer, matrix = None, None
        if meta["matrix"] is not None:
            vectorizer = TfidfVectorizer(
                analyzer="char_wb", ngram_range=(3, 3), min_df=1, dtype=np.float32, vocabulary=meta["vocabulary"]
            )
            vectorizer.idf_ = np.load(folder / "idf.npy")
            matrix = load_csr(folder / "matrix.csc").T  # the transpose of a CSR matrix is CSC, without a copy
        search._set_state(
            **arrays,
            **{name: StringTable.load(folder, name) for name in ("titles", "full_titles", "artists")},
            vectorizer=vectorizer,
            matrix=matrix,
            max_id=meta["max_id"],
        )
        return search

    def __len__(self) -> int:
        return len(self._ids)

    def _spotify_track(self, spotify_id: str) -> int | None:
        i = int(positions(self._spotify_ids, spotify_id.encode("ascii", "replace")))
        return int(self._spotify_tracks[i]) if i >= 0 else None

    # --- scoring ---------------------------------------------------------------------------------------------
    def _score(self, query: str, i: int) -> float:
        title, full, artist = self._titles[i], self._full_titles[i], self._artists[i]
        both = f"{title} {artist}"
        scores = [
            fuzz.ratio(query, title),
            fuzz.ratio(query, full),
            fuzz.token_sort_ratio(query, both),
            # a query whose words are all in the track ("fast lane eagles") scores high, scaled by how much of
            # the track it covers, so a lone common word ("and") does not look like a perfect match
            fuzz.token_set_ratio(query, both) * (0.8 + 0.17 * min(1.0, len(query) / len(both))),
            fuzz.ratio(query, f"{artist} {title}"),
        ]
        if artist and len(query) >= 4:
            # "eagles": an artist-only query matches all their tracks equally (popularity then orders them),
            # well but never perfectly, so the caller offers a pick
            scores.append(max(fuzz.ratio(query, artist), fuzz.token_set_ratio(query, artist)) * 0.9)
        return max(scores) / 100.0

    @staticmethod
    def _split_parts(raw: str) -> list[tuple[str, str]]:
        """The (left, right) halves of "title - artist" / "title by artist" / "artist - title" forms, normalised
        once per query (not once per candidate)."""
        parts = []
        lowered = raw.casefold()
        for sep in _SPLITTERS:
            if sep in lowered:
                left, right = (normalize(p) for p in lowered.split(sep, 1))
                if left and right:
                    parts.append((left, right))
        return parts

    def _split_score(self, parts: list[tuple[str, str]], i: int) -> float:
        """Score of the query's split forms (`_split_parts`) against track i."""
        best = 0.0
        if parts:
            title, artist = self._titles[i], self._artists[i]
            for left, right in parts:
                a = 0.6 * fuzz.ratio(left, title) + 0.4 * fuzz.ratio(right, artist)
                b = 0.6 * fuzz.ratio(right, title) + 0.4 * fuzz.ratio(left, artist)
                best = max(best, a / 100.0, b / 100.0)
        return best

    def _candidates(self, grams: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """Rows sharing the query's most telling 3-grams, best cosine first (at most `_n_candidates`).

        A 3-gram's postings list grows with the catalogue ("the", " lo"), and summing every list of the query is
        linear in it: 6 ms at 370 k tracks, ~35 ms at the MPD's 2.26 M. The rarest grams say the most (highest
        idf) and the re-ranking scores the full strings anyway, so grams are taken rarest first until their
        postings reach `POSTINGS_BUDGET` (at least `MIN_GRAMS` of them), and only the rows they touch are
        scored."""
        indptr = self._matrix.indptr
        df = indptr[grams + 1] - indptr[grams]
        order = np.argsort(df, kind="stable")
        within = np.cumsum(df[order]) <= POSTINGS_BUDGET
        within[:MIN_GRAMS] = True
        keep = order[within]
        rows, sims = [], []
        for g, w in zip(grams[keep], weights[keep], strict=True):
            lo, hi = indptr[g], indptr[g + 1]
            rows.append(self._matrix.indices[lo:hi])
            sims.append(self._matrix.data[lo:hi] * w)
        if not rows:
            return np.zeros(0, dtype=np.int64)
        touched, where = np.unique(np.concatenate(rows), return_inverse=True)
        score = np.bincount(where, weights=np.concatenate(sims), minlength=len(touched))
        n = min(self._n_candidates, len(touched))
        best = np.argpartition(-score, n - 1)[:n] if n < len(touched) else np.arange(len(touched))
        best = best[np.argsort(-score[best], kind="stable")]
        return touched[best[score[best] > 0]].astype(np.int64)

    def search(self, query: str, limit: int = 5) -> Resolution:
        """Ranked candidates for `query` (raises QueryError for empty or over-long input)."""
        raw = clean_query(query)
        spotify_id = parse_spotify_track_id(raw)
        if spotify_id is not None:
            tid = self._spotify_track(spotify_id)
            if tid is None:
                return Resolution(raw, [])
            info = self.corpus.track_info([tid]).get(tid)
            return Resolution(raw, [Candidate(info, 1.0)] if info else [])
        norm = normalize(raw)
        if not norm or self._matrix is None:
            return Resolution(raw, [])
        with self._lock:
            qvec = self._vectorizer.transform([norm])
            if qvec.nnz == 0:
                # nothing in common with any indexed 3-gram (e.g. a one-letter query): fall back to popularity
                pool = self._order_by_pop[: self._n_candidates]
                pool = np.array([i for i in pool if self._titles[i].startswith(norm)], dtype=np.int64)
            else:
                pool = self._candidates(qvec.indices, qvec.data)
            scored: list[tuple[float, float, int]] = []
            parts = self._split_parts(raw)
            for i in pool:
                s = max(self._score(norm, int(i)), self._split_score(parts, int(i)))
                # a small popularity prior breaks ties between equally good matches
                scored.append((s, s + 0.02 * self._pop_prior[i], int(i)))
        scored.sort(key=lambda x: (-x[1], self._ids[x[2]]))
        top = [(s, i) for s, _, i in scored[:limit] if s >= 0.35]
        infos = self.corpus.track_info(int(self._ids[i]) for _, i in top)
        cands = [
            Candidate(infos[int(self._ids[i])], round(s, 4), *self._name_matches(norm, i))
            for s, i in top
            if int(self._ids[i]) in infos
        ]
        return Resolution(raw, cands)

    def _name_matches(self, query: str, i: int) -> tuple[float, float]:
        """(title match, artist match) of a normalised query against track i (see `Candidate`)."""
        title, artist = self._titles[i], self._artists[i]
        title_match = fuzz.partial_ratio(title, query) / 100.0 if title else 0.0
        artist_match = fuzz.ratio(_without_article(query), _without_article(artist)) / 100.0  # "eagles", "the eagles"
        return round(title_match, 4), round(artist_match, 4)

    def suggest(self, prefix: str, limit: int = 25) -> list[Candidate]:
        """Autocomplete: popular titles starting with a short prefix, full search for longer ones."""
        try:
            raw = clean_query(prefix)
        except QueryError:
            raw = ""
        norm = normalize(raw)
        if len(norm) >= 3:
            return self.search(raw, limit).candidates
        with self._lock:
            picked = []
            for i in self._order_by_pop:
                if self._titles[i].startswith(norm):
                    picked.append(int(self._ids[i]))
                    if len(picked) >= limit:
                        break
        infos = self.corpus.track_info(picked)
        return [Candidate(infos[t], 0.5) for t in picked if t in infos]

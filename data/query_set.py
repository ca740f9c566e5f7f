"""Song names as people type them, built from the real corpus, to measure and tune how the bot finds a song.

Every query names a real song of the corpus (Yes.com titles and artists): its full name in the orders people use
("title artist", "title - artist", "artist title", "title by artist"), its title alone, or a misspelt name (one
random edit — a dropped, doubled, swapped or wrong letter — per eight characters, seeded). "absent" queries name real
songs that the evaluated catalogue lacks: the tuning run drops each one's own entries from the candidates
(`withheld`), and the end-to-end run serves a corpus without them. Queries are split by song into a validation half,
where thresholds are chosen, and a test half, where they are reported.
"""

from __future__ import annotations

import random
import string
import zlib
from dataclasses import dataclass

from sqlalchemy import Engine, select

from data.models import Artist, Track, TrackArtist
from data.search import TrackSearch, core_title, normalize

KINDS = ("name", "title", "typo", "absent")
_NAME_FORMS = ("{title} {artist}", "{title} - {artist}", "{artist} {title}", "{title} by {artist}")


@dataclass(frozen=True)
class SongQuery:
    """One query: what is typed, its kind, the song it names (track id, title, first artist), and its split."""

    text: str
    kind: str
    track_id: int
    title: str
    artist: str
    split: str  # "validation" or "test"


def split_of(track_id: int) -> str:
    """A song's half, fixed by its id (a stable hash, so every run and every kind agree)."""
    return "validation" if zlib.crc32(str(track_id).encode()) % 2 == 0 else "test"


def misspell(text: str, rng: random.Random) -> str:
    """`text` with one random edit per eight characters (at least one): drop, insert, swap or replace a letter."""
    chars = list(text)
    for _ in range(max(1, len(chars) // 8)):
        i = rng.randrange(len(chars))
        edit = rng.randrange(4)
        if edit == 0 and len(chars) > 3:
            del chars[i]
        elif edit == 1:
            chars.insert(i, rng.choice(string.ascii_lowercase))
        elif edit == 2 and i + 1 < len(chars):
            chars[i], chars[i + 1] = chars[i + 1], chars[i]
        else:
            chars[i] = rng.choice(string.ascii_lowercase)
    return "".join(chars)


def songs(engine: Engine, source: str = "yes") -> list[tuple[int, str, str]]:
    """(track id, title, first credited artist) of every track of `source`, by id."""
    first_artist = (
        select(Track.id, Track.title, Artist.name)
        .join(TrackArtist, (TrackArtist.track_id == Track.id) & (TrackArtist.position == 0))
        .join(Artist, Artist.id == TrackArtist.artist_id)
        .where(Track.source == source)
        .order_by(Track.id)
    )
    with engine.connect() as conn:
        return [(int(t), str(title), str(artist)) for t, title, artist in conn.execute(first_artist)]


def build_queries(catalogue: list[tuple[int, str, str]], per_kind: int = 300, seed: int = 20261204) -> list[SongQuery]:
    """`per_kind` queries of each kind over distinct songs drawn from `catalogue` (the songs of `songs`)."""
    rng = random.Random(seed)
    drawn = rng.sample(catalogue, min(len(catalogue), per_kind * len(KINDS)))
    out: list[SongQuery] = []
    for k, kind in enumerate(KINDS):
        for track_id, title, artist in drawn[k * per_kind : (k + 1) * per_kind]:
            name = rng.choice(_NAME_FORMS).format(title=title, artist=artist)
            text = {"name": name, "title": title, "typo": misspell(name, rng), "absent": name}[kind]
            out.append(SongQuery(text, kind, track_id, title, artist, split_of(track_id)))
    return out


def same_song(title: str, artist: str, other_title: str, other_artist: str) -> bool:
    """Whether two entries are one song (the corpus holds a few duplicates under other ids)."""

    def key(t: str, a: str) -> tuple[str, str]:
        return normalize(core_title(t)), normalize(a)

    return key(title, artist) == key(other_title, other_artist)


@dataclass(frozen=True)
class Outcome:
    """What one query's candidates were: confidence of each candidate, and which of them are the named song."""

    query: SongQuery
    confidences: tuple[float, ...]
    intended: tuple[bool, ...]

    def succeeds(self, threshold: float, offered: int = 5) -> bool:
        """A query of a known song succeeds when the song is among the first `offered` candidates at or above the
        threshold; an absent song's when none is (the bot then says it does not know the song)."""
        kept = [hit for c, hit in zip(self.confidences, self.intended, strict=True) if c >= threshold][:offered]
        return not kept if self.query.kind == "absent" else any(kept)


def outcomes(search: TrackSearch, queries: list[SongQuery], depth: int = 10) -> list[Outcome]:
    """Each query's candidates (`depth` of them) as the search ranks them. An "absent" query's own song is taken out
    of its candidates, as if the catalogue lacked it (the tuning run; the end-to-end run serves a corpus without it)."""
    out = []
    for q in queries:
        candidates = search.search(q.text, depth).candidates
        hits = [same_song(q.title, q.artist, c.track.title, c.track.artist) for c in candidates]
        if q.kind == "absent":
            candidates = [c for c, hit in zip(candidates, hits, strict=True) if not hit]
            hits = [False] * len(candidates)
        out.append(Outcome(q, tuple(c.confidence for c in candidates), tuple(hits)))
    return out


def success_by_kind(results: list[Outcome], threshold: float) -> dict[str, float]:
    """The share of queries of each kind that succeed at `threshold`."""
    rates = {}
    for kind in KINDS:
        of_kind = [r for r in results if r.query.kind == kind]
        if of_kind:
            rates[kind] = sum(r.succeeds(threshold) for r in of_kind) / len(of_kind)
    return rates


GRID = tuple(i / 100 for i in range(30, 100))


def tune_threshold(validation: list[Outcome], grid: tuple[float, ...] = GRID) -> float:
    """The confidence threshold with the best mean success over the kinds (each kind weighs the same, so finding
    known songs and admitting unknown ones count alike); ties go to the lower threshold (fewer dead ends)."""
    return max(grid, key=lambda t: (sum(success_by_kind(validation, t).values()), -t))

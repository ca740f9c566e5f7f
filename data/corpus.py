"""Read API of the corpus for recommenders, jobs and the chat core.

Recommenders never issue SQL themselves: they read playlists (streamed, in play order, re-iterable so that
multi-epoch trainers such as gensim can pass over them more than once), sparse matrices built from them, and
track metadata through this class.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from urllib.parse import quote

import numpy as np
import scipy.sparse as sp
from sqlalchemy import Engine, Select, func, select

from data.models import (
    Artist,
    ArtistTag,
    Listener,
    ListenerArtist,
    Playlist,
    PlaylistTrack,
    Tag,
    Track,
    TrackArtist,
    TrackTag,
)


@dataclass(frozen=True)
class TrackInfo:
    """What a reply shows of a track."""

    id: int
    title: str
    artists: tuple[str, ...]
    artist_ids: tuple[int, ...]
    spotify_id: str | None
    popularity: int
    audio_path: str | None
    source: str
    duration_ms: int | None = None

    @property
    def artist(self) -> str:
        return ", ".join(self.artists) or "unknown artist"

    @property
    def label(self) -> str:
        return f"{self.title} — {self.artist}"

    @property
    def url(self) -> str:
        """A Spotify link: the track itself when its id is known, else a Spotify search for it."""
        if self.spotify_id:
            return f"https://open.spotify.com/track/{self.spotify_id}"
        return "https://open.spotify.com/search/" + quote(f"{self.title} {self.artist}", safe="")


@dataclass(frozen=True)
class InteractionMatrix:
    """Rows (playlists or listeners) × items (tracks or artists), with the item ids of the columns."""

    matrix: sp.csr_matrix
    item_ids: np.ndarray
    row_ids: np.ndarray

    def item_index(self) -> dict[int, int]:
        return {int(t): i for i, t in enumerate(self.item_ids)}


#: Playlist sources never read for training or evaluation. "spotify" is what the removed Spotify playlist crawl
#: stored: Spotify's Developer Terms (v9, 2023-05-08, IV.2.a.i) and Developer Policy (III.14) forbid using the Spotify
#: Platform or any Spotify Content to train an ML/AI model or otherwise ingesting it into one, so a deployment that
#: crawled before the crawl was removed keeps those rows but no model sees them. (The Million Playlist Dataset is
#: stored as source "mpd", under its own research-only terms: docs/jobs.md, "Spotify".)
EXCLUDED_PLAYLIST_SOURCES: frozenset[str] = frozenset({"spotify"})


def _trainable(stmt: Select, source: str | None) -> Select:
    """`stmt` over playlist_tracks narrowed to the playlists a model may learn from (and to `source`, if given)."""
    stmt = stmt.join(Playlist, Playlist.id == PlaylistTrack.playlist_id).where(
        Playlist.source.not_in(sorted(EXCLUDED_PLAYLIST_SOURCES))
    )
    return stmt.where(Playlist.source == source) if source is not None else stmt


class PlaylistSentences:
    """Re-iterable stream of playlists as lists of track ids in play order (one DB pass per iteration)."""

    def __init__(
        self, engine: Engine, source: str | None, min_len: int, batch: int = 20_000, tagged_only: bool = False
    ) -> None:
        self._engine = engine
        self._source = source
        self._min_len = min_len
        self._batch = batch
        self._tagged_only = tagged_only

    def __iter__(self) -> Iterator[list[int]]:
        stmt = _trainable(
            select(PlaylistTrack.playlist_id, PlaylistTrack.track_id).order_by(
                PlaylistTrack.playlist_id, PlaylistTrack.position
            ),
            self._source,
        )
        if self._tagged_only:
            stmt = stmt.where(PlaylistTrack.track_id.in_(select(TrackTag.track_id).distinct()))
        current: int | None = None
        tracks: list[int] = []
        with self._engine.connect() as conn:
            result = conn.execution_options(stream_results=True, yield_per=self._batch).execute(stmt)
            for playlist_id, track_id in result:
                if playlist_id != current:
                    if len(tracks) >= self._min_len:
                        yield tracks
                    current, tracks = playlist_id, []
                tracks.append(track_id)
        if len(tracks) >= self._min_len:
            yield tracks


class Corpus:
    """The corpus as recommenders see it."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # --- playlists -------------------------------------------------------------------------------------------
    def playlists(self, source: str | None = None, min_len: int = 1) -> PlaylistSentences:
        """Every playlist a model may learn from (optionally of one source) as a list of track ids in play order;
        never one of `EXCLUDED_PLAYLIST_SOURCES`."""
        return PlaylistSentences(self.engine, source, min_len)

    def tagged_playlists(self) -> PlaylistSentences:
        """`playlists()` with only their tracks that carry a tag (read in the database: the tag bridge's context
        profiles need no more, and a corpus of millions of untagged playlist entries is not streamed through)."""
        return PlaylistSentences(self.engine, None, 1, tagged_only=True)

    def playlist_ids(self, source: str | None = None) -> list[int]:
        """Ids of the playlists `playlists()` yields, in the same order (non-empty playlists, by id)."""
        stmt = _trainable(select(PlaylistTrack.playlist_id).distinct().order_by(PlaylistTrack.playlist_id), source)
        with self.engine.connect() as conn:
            return list(conn.scalars(stmt))

    @staticmethod
    def matrix_from_playlists(playlists: Iterable[list[int]]) -> InteractionMatrix:
        """Binary playlist × track matrix of the given playlists (a track repeated in a playlist counts once)."""
        index: dict[int, int] = {}
        indptr = [0]
        indices: list[int] = []
        for tracks in playlists:
            cols = {index.setdefault(t, len(index)) for t in tracks}
            indices.extend(sorted(cols))
            indptr.append(len(indices))
        data = np.ones(len(indices), dtype=np.float32)
        m = sp.csr_matrix(
            (data, np.asarray(indices, dtype=np.int32), np.asarray(indptr, dtype=np.int64)),
            shape=(len(indptr) - 1, len(index)),
        )
        item_ids = np.fromiter(index.keys(), dtype=np.int64, count=len(index))
        return InteractionMatrix(m, item_ids, np.arange(m.shape[0]))

    def playlist_matrix(self, source: str | None = None) -> InteractionMatrix:
        return self.matrix_from_playlists(self.playlists(source))

    def listener_artist_matrix(self, source: str = "hetrec") -> InteractionMatrix:
        """Listener × artist play counts (graded implicit feedback)."""
        stmt = (
            select(ListenerArtist.listener_id, ListenerArtist.artist_id, ListenerArtist.plays)
            .join(Listener, Listener.id == ListenerArtist.listener_id)
            .where(Listener.source == source)
            .order_by(ListenerArtist.listener_id)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(stmt).all()
        if not rows:
            return InteractionMatrix(sp.csr_matrix((0, 0), dtype=np.float32), np.zeros(0, np.int64), np.zeros(0))
        arr = np.asarray(rows, dtype=np.int64)
        row_ids, r = np.unique(arr[:, 0], return_inverse=True)
        item_ids, c = np.unique(arr[:, 1], return_inverse=True)
        m = sp.csr_matrix((arr[:, 2].astype(np.float32), (r, c)), shape=(len(row_ids), len(item_ids)))
        return InteractionMatrix(m, item_ids, row_ids)

    # --- metadata --------------------------------------------------------------------------------------------
    def track_info(self, ids: Iterable[int]) -> dict[int, TrackInfo]:
        """Metadata of the given tracks (unknown ids are absent from the result)."""
        wanted = sorted({int(i) for i in ids})
        out: dict[int, TrackInfo] = {}
        with self.engine.connect() as conn:
            for chunk_start in range(0, len(wanted), 500):
                chunk = wanted[chunk_start : chunk_start + 500]
                tracks = conn.execute(
                    select(
                        Track.id,
                        Track.title,
                        Track.spotify_id,
                        Track.popularity,
                        Track.audio_path,
                        Track.source,
                        Track.duration_ms,
                    ).where(Track.id.in_(chunk))
                ).all()
                artists: dict[int, list[tuple[int, str]]] = defaultdict(list)
                for tid, aid, name in conn.execute(
                    select(TrackArtist.track_id, Artist.id, Artist.name)
                    .join(Artist, Artist.id == TrackArtist.artist_id)
                    .where(TrackArtist.track_id.in_(chunk))
                    .order_by(TrackArtist.track_id, TrackArtist.position)
                ):
                    artists[tid].append((aid, name))
                for tid, title, spotify_id, popularity, audio_path, source, duration_ms in tracks:
                    names = artists.get(tid, [])
                    out[tid] = TrackInfo(
                        id=tid,
                        title=title,
                        artists=tuple(n for _, n in names),
                        artist_ids=tuple(a for a, _ in names),
                        spotify_id=spotify_id,
                        popularity=popularity or 0,
                        audio_path=audio_path,
                        source=source,
                        duration_ms=duration_ms,
                    )
        return out

    def track_artists(self) -> dict[int, tuple[int, ...]]:
        """Artist ids of every track (for artist caps and diversity)."""
        out: dict[int, list[int]] = defaultdict(list)
        with self.engine.connect() as conn:
            for tid, aid in conn.execute(
                select(TrackArtist.track_id, TrackArtist.artist_id).order_by(TrackArtist.track_id, TrackArtist.position)
            ):
                out[tid].append(aid)
        return {t: tuple(a) for t, a in out.items()}

    def track_tags(self) -> dict[int, frozenset[str]]:
        """Tag names of every tagged track (a genre-like ground truth for evaluation)."""
        out: dict[int, set[str]] = defaultdict(set)
        with self.engine.connect() as conn:
            for tid, name in conn.execute(select(TrackTag.track_id, Tag.name).join(Tag, Tag.id == TrackTag.tag_id)):
                out[tid].add(name)
        return {t: frozenset(v) for t, v in out.items()}

    def artist_tags(self) -> dict[int, frozenset[str]]:
        out: dict[int, set[str]] = defaultdict(set)
        with self.engine.connect() as conn:
            for aid, name in conn.execute(select(ArtistTag.artist_id, Tag.name).join(Tag, Tag.id == ArtistTag.tag_id)):
                out[aid].add(name)
        return {a: frozenset(v) for a, v in out.items()}

    def artist_names(self, ids: Iterable[int]) -> dict[int, str]:
        wanted = sorted({int(i) for i in ids})
        out: dict[int, str] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                out.update(dict(conn.execute(select(Artist.id, Artist.name).where(Artist.id.in_(chunk))).all()))
        return out

    def tracks_with_audio(self) -> list[tuple[int, str]]:
        """(track id, audio path) of every track whose audio is in the audio store."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(Track.id, Track.audio_path).where(Track.audio_path.is_not(None)).order_by(Track.id)
            ).all()
        return [(int(t), str(p)) for t, p in rows]

    def watermark(self) -> tuple[int, int]:
        """(newest track id, newest playlist id): two primary-key look-ups, cheap at any size, and changed whenever
        the corpus grows, so the serving snapshot knows when its search index and figures are stale."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(select(func.max(Track.id)).scalar_subquery(), select(func.max(Playlist.id)).scalar_subquery())
            ).one()
        return int(row[0] or 0), int(row[1] or 0)

    def stats(self) -> dict[str, int]:
        """Row counts for `/about` and the import report."""
        with self.engine.connect() as conn:
            return {
                "tracks": conn.scalar(select(func.count()).select_from(Track)) or 0,
                "artists": conn.scalar(select(func.count()).select_from(Artist)) or 0,
                "playlists": conn.scalar(select(func.count()).select_from(Playlist)) or 0,
                "playlist_entries": conn.scalar(select(func.count()).select_from(PlaylistTrack)) or 0,
                "tracks_with_audio": conn.scalar(
                    select(func.count()).select_from(Track).where(Track.audio_path.is_not(None))
                )
                or 0,
            }

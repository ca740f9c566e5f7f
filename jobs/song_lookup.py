"""A song the corpus lacks, looked up on demand in open data, so that any song a user names gets an answer.

MusicBrainz (CC0) says what the song is: a name is searched there and the best recording kept only if the name search's
own rule (`data.search.name_confidence`, tuned on validation queries) takes it for the song named — MusicBrainz ranks
*something* first for any text, and answering a song the user did not name would be worse than saying so. The
recording is stored in the corpus (`data.importers.open_recordings`: matched to a track it already has by MBID, ISRC
or name, else added with its artists), ListenBrainz's Labs similarity (recordings and artists listened to in the
same sessions, CC0) is mapped onto corpus tracks and artists for an answer now, and the recording is queued for the
`listenbrainz` job (`jobs.open_playlists.want`), which stores it with the recordings listened with it, so the next
retrain learns it from real co-listening.

Bounded: look-ups run in a pool of their own (`LOOKUP_WORKERS` threads: MusicBrainz allows one request a second, so
waiting look-ups must not hold the threads cheap reads use), at most `LOOKUP_QUEUE` more wait (beyond, `LookupBusy`),
one look-up per song at a time (a second ask of the same name or link waits for the first), recent results cached,
each service's waits within a short budget (`LOOKUP_WAIT_BUDGET`). A failing service is a `LookupFailed` the caller
turns into a clear reply; nothing half-written stays in the corpus.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from sqlalchemy import Engine

from data.importers.open_recordings import match_artists, match_recordings, store_recordings
from data.recordings import ArtistCredit, Recording
from data.search import CONFIDENT, name_confidence, normalize
from jobs.listenbrainz import ListenBrainzClient
from jobs.musicbrainz import MusicBrainzClient
from jobs.open_data import OpenDataError
from jobs.open_playlists import want
from jobs.spotify import SpotifyClient, SpotifyError, SpotifyNotFound, track_id_of

log = logging.getLogger(__name__)

LOOKUP_WORKERS = 4
#: Seconds a look-up may wait out one service's rate limit: a person is waiting for the answer.
LOOKUP_WAIT_BUDGET = 8.0
#: Look-ups waiting beyond those running. MusicBrainz takes one request a second (`MIN_INTERVAL` apart), so a look-up
#: queued behind more than about the budget's worth of others would only fail after its wait: beyond this many the
#: asker is told at once to try again in a minute.
LOOKUP_QUEUE = 4
CACHE_SIZE = 1024
#: MusicBrainz results weighed per name (its best few; the name rule picks among them).
SEARCHED = 5
SIMILAR_ARTISTS = 10
SOURCE = "musicbrainz"


class LookupFailed(RuntimeError):
    """An open-data service could not answer now (unreachable, refusing, rate-limited past the budget)."""


class LookupBusy(RuntimeError):
    """Too many look-ups are waiting already."""


@dataclass(frozen=True)
class FoundSong:
    """A looked-up song as the corpus now holds it: its track, whether it was new, its artists as corpus artists, and
    what ListenBrainz listens beside it — similar recordings that are corpus tracks, similar artists that are corpus
    artists (with their names), best first."""

    track_id: int
    recording: Recording
    added: bool
    artists: tuple[int, ...]
    similar_tracks: tuple[int, ...]
    similar_artists: tuple[tuple[int, str], ...]


def best_named(text: str, found: list[Recording]) -> Recording | None:
    """The recording `text` names, by the name search's confidence rule; None when none is confidently it."""
    scored = [(name_confidence(text, r.title, r.artist), i, r) for i, r in enumerate(found) if r.title]
    confident = [s for s in scored if s[0] >= CONFIDENT]
    return max(confident, key=lambda s: (s[0], -s[1]))[2] if confident else None


class SongLookup:
    """Finds, stores and relates songs the corpus lacks (see the module docstring). Built by the composition root
    when MusicBrainz may be called (`MUREC_CONTACT` set); ListenBrainz and Spotify (links only) are optional."""

    def __init__(
        self,
        engine: Engine,
        musicbrainz: MusicBrainzClient,
        listenbrainz: ListenBrainzClient | None = None,
        spotify: SpotifyClient | None = None,
        *,
        workers: int = LOOKUP_WORKERS,
        queue: int = LOOKUP_QUEUE,
    ) -> None:
        self.engine = engine
        self.musicbrainz = musicbrainz
        self.listenbrainz = listenbrainz
        self.spotify = spotify
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="murecom-lookup")
        self._capacity = workers + queue
        self._lock = threading.Lock()
        self._in_flight: dict[str, Future[FoundSong | None]] = {}
        self._cache: OrderedDict[str, FoundSong | None] = OrderedDict()

    async def by_name(self, text: str) -> FoundSong | None:
        """The song a typed name is, looked up and stored; None when MusicBrainz has nothing that is confidently it."""
        return await self._once(f"name:{normalize(text)}", lambda: self._find_name(text))

    @property
    def opens_spotify_links(self) -> bool:
        """Whether Spotify credentials were given (a link is then looked up; else only names are)."""
        return self.spotify is not None

    async def by_spotify(self, link: str) -> FoundSong | None:
        """The song a Spotify link names: Spotify says its title, artists and ISRC (GET /tracks/{id}), MusicBrainz
        which recording that is, and the MusicBrainz recording (CC0) is what is stored — nothing of Spotify's is kept
        (its terms forbid feeding its content to a model). None when Spotify or MusicBrainz does not know it; raises
        `NotASpotifyTrack` (an episode, a local file, a malformed id) before any request, and `LookupFailed` when
        there is no Spotify client or it cannot answer now."""
        spotify_id = track_id_of(link)
        return await self._once(f"spotify:{spotify_id}", lambda: self._find_spotify(spotify_id))

    async def by_recording(self, recording: Recording) -> FoundSong | None:
        """A song known by its title, artists and ISRCs (a Spotify link's track): MusicBrainz's recording for an ISRC,
        else for its title and artist, looked up and stored."""
        key = (
            f"isrc:{recording.isrcs[0]}" if recording.isrcs else f"name:{normalize(recording.title)}|{recording.artist}"
        )
        return await self._once(key, lambda: self._find_recording(recording))

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    # --- one look-up per key, in the pool -----------------------------------------------------------------------
    async def _once(self, key: str, find: Callable[[], FoundSong | None]) -> FoundSong | None:
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
            future = self._in_flight.get(key)
            if future is None:
                if len(self._in_flight) >= self._capacity:
                    raise LookupBusy("too many songs are being looked up")
                future = self._pool.submit(self._run, key, find)
                self._in_flight[key] = future
        return await asyncio.wrap_future(future)

    def _run(self, key: str, find: Callable[[], FoundSong | None]) -> FoundSong | None:
        try:
            found = find()
        except OpenDataError as exc:
            log.warning("song look-up %r failed: %s", key[:80], exc)
            raise LookupFailed(str(exc)) from exc
        finally:
            with self._lock:
                self._in_flight.pop(key, None)
        with self._lock:
            self._cache[key] = found
            while len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        return found

    # --- the work -----------------------------------------------------------------------------------------------
    def _find_name(self, text: str) -> FoundSong | None:
        found = [s.recording for s in self.musicbrainz.search_text(text, SEARCHED)]
        recording = best_named(text, found)
        return self._store(recording) if recording is not None else None

    def _find_spotify(self, spotify_id: str) -> FoundSong | None:
        if self.spotify is None:
            raise LookupFailed("no Spotify credentials (SPOTIFY_CLIENT_ID / SPOTIFY_CLIENT_SECRET)")
        try:
            track = self.spotify.track(spotify_id)
        except SpotifyNotFound:
            return None
        except SpotifyError as exc:
            raise LookupFailed(f"Spotify: {exc}") from exc
        return self._find_recording(track.recording)

    def _find_recording(self, recording: Recording) -> FoundSong | None:
        for isrc in recording.isrcs[:1]:
            same = self.musicbrainz.by_isrc(isrc)
            if same:
                return self._store(same[0])
        found = [s.recording for s in self.musicbrainz.search_title_artist(recording.title, recording.artist, SEARCHED)]
        named = best_named(f"{recording.title} - {recording.artist}", found)
        return self._store(named) if named is not None else None

    def _store(self, recording: Recording) -> FoundSong:
        with self.engine.begin() as conn:
            [track_id], report = store_recordings(conn, SOURCE, [recording])
            artists = tuple(a for a in match_artists(conn, recording.artists) if a is not None)
        similar_tracks, similar_artists = self._similar(recording)
        if report.tracks_new:
            want(self.engine, recording)
        return FoundSong(track_id, recording, bool(report.tracks_new), artists, similar_tracks, similar_artists)

    def _similar(self, recording: Recording) -> tuple[tuple[int, ...], tuple[tuple[int, str], ...]]:
        """ListenBrainz's similar recordings and artists that the corpus holds (nothing when it is not configured,
        or fails: the answer then comes from the fallback chain alone)."""
        if self.listenbrainz is None or not recording.mbid:
            return (), ()
        try:
            recordings = self.listenbrainz.similar_recordings(recording.mbid)
            artist_rows = [
                row
                for credit in recording.artists[:1]
                if credit.mbid
                for row in self.listenbrainz.similar_artists(credit.mbid)[:SIMILAR_ARTISTS]
            ]
        except OpenDataError as exc:
            log.warning("listenbrainz similarity for %s failed: %s", recording.mbid, exc)
            return (), ()
        as_recordings = [
            Recording(r.name, (ArtistCredit(r.artist),) if r.artist else (), mbid=r.mbid) for r in recordings
        ]
        credits = [ArtistCredit(r.name, r.mbid) for r in artist_rows]
        with self.engine.connect() as conn:
            tracks = match_recordings(conn, as_recordings)
            artists = match_artists(conn, credits)
        similar_tracks = tuple(dict.fromkeys(t for t in tracks if t is not None))
        similar_artists = tuple((a, c.name) for a, c in zip(artists, credits, strict=True) if a is not None)
        return similar_tracks, similar_artists

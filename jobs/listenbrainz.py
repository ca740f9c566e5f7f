"""ListenBrainz client (https://listenbrainz.readthedocs.io/en/latest/users/api/): public playlists in JSPF, playlist
search, and the Labs similarity datasets, as `data.recordings.Recording`s.

Rate limiting is ListenBrainz's own ("Rate limiting", API docs): every answer carries X-RateLimit-Limit,
X-RateLimit-Remaining, X-RateLimit-Reset-In (seconds, "recommended: resilient against clients with incorrect
clocks") and X-RateLimit-Reset; a client over the limit gets 429. So the client reads the headers of every answer,
and when Remaining is 0 waits Reset-In seconds before its next request; a 429 anyway is retried after Reset-In, all
waits of one call summed against `wait_budget`. A user token (optional) goes only into the Authorization header
("Token <token>"), which the docs say may earn higher limits; it is never logged.
Playlists are JSPF with the MusicBrainz extensions (https://musicbrainz.org/doc/jspf): a track's `identifier` is
"https://musicbrainz.org/recording/<mbid>", its `creator` the artist line, and the track extension
("https://musicbrainz.org/doc/jspf#track") lists `artist_identifiers`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import requests

from data.recordings import ArtistCredit, Recording
from data.settings import Settings
from jobs.open_data import Clock, HttpCaller, Sleep, murecom_version

TRACK_EXTENSION = "https://musicbrainz.org/doc/jspf#track"
PLAYLIST_EXTENSION = "https://musicbrainz.org/doc/jspf#playlist"
#: Labs dataset algorithms (the endpoints require one; these are the long-history session models).
RECORDING_ALGORITHM = "session_based_days_7500_session_300_contribution_5_threshold_15_limit_50_skip_30"
ARTIST_ALGORITHM = "session_based_days_7500_session_300_contribution_5_threshold_10_limit_100_filter_True_skip_30"


@dataclass(frozen=True)
class PlaylistRef:
    """A playlist as listed (metadata, no tracks): its MBID, title, creator, and whether it is public (a listing
    made with a user token includes that user's private playlists too)."""

    mbid: str
    title: str
    creator: str
    public: bool = True


@dataclass(frozen=True)
class OpenPlaylist:
    """A playlist with its recordings in order."""

    mbid: str
    title: str
    creator: str
    recordings: tuple[Recording, ...]


@dataclass(frozen=True)
class Similar:
    """One row of a Labs similarity answer: the similar entity's MBID, name (and artist line for recordings), score
    and the MBID it is similar to."""

    mbid: str
    name: str
    score: float
    reference_mbid: str
    artist: str = ""


def last_segment(identifier: Any) -> str:
    """The MBID at the end of a JSPF identifier URL (a string or a list of them, as JSPF allows)."""
    if isinstance(identifier, list):
        identifier = next((i for i in identifier if isinstance(i, str) and i), "")
    return str(identifier or "").rstrip("/").rsplit("/", 1)[-1]


def recording_from_jspf(track: dict[str, Any]) -> Recording:
    """A JSPF track (with the MusicBrainz track extension) as a Recording."""
    ext = (track.get("extension") or {}).get(TRACK_EXTENSION) or {}
    artist_mbids = [last_segment(a) for a in ext.get("artist_identifiers") or [] if a]
    listed = ((ext.get("additional_metadata") or {}).get("artists")) or []
    if listed:
        credits = tuple(ArtistCredit(str(a.get("artist_credit_name") or ""), a.get("artist_mbid")) for a in listed if a)
    else:
        credits = (ArtistCredit(str(track.get("creator") or ""), artist_mbids[0] if len(artist_mbids) == 1 else None),)
    duration = track.get("duration")
    return Recording(
        title=str(track.get("title") or ""),
        artists=credits,
        mbid=last_segment(track.get("identifier")) or None,
        length_ms=int(duration) if isinstance(duration, int | float) else None,
    )


def _ref(body: dict[str, Any]) -> PlaylistRef:
    playlist = body.get("playlist") or body
    public = ((playlist.get("extension") or {}).get(PLAYLIST_EXTENSION) or {}).get("public", True)
    return PlaylistRef(
        last_segment(playlist.get("identifier")),
        str(playlist.get("title") or ""),
        str(playlist.get("creator") or ""),
        public not in (False, "false"),  # JSPF examples carry it as true or "true"
    )


class _ListenBrainzHttp(HttpCaller):
    """HttpCaller that follows ListenBrainz's rate-limit headers; 429 is the rate-limit answer."""

    def __init__(self, headers: dict[str, str], **kwargs: Any) -> None:
        super().__init__("ListenBrainz", headers, retry_statuses=(429,), **kwargs)
        self._blocked_until: float | None = None
        self.remaining: int | None = None

    def before_request(self) -> float:
        """When the last answer said no requests remain, wait until its window resets."""
        if self._blocked_until is None:
            return 0.0
        pause = max(0.0, self._blocked_until - self.clock())
        self._blocked_until = None
        return pause

    def after_response(self, response: requests.Response) -> None:
        remaining = _number(response.headers.get("X-RateLimit-Remaining"))
        reset_in = _number(response.headers.get("X-RateLimit-Reset-In"))
        self.remaining = int(remaining) if remaining is not None else None
        if remaining is not None and remaining <= 0 and reset_in is not None and response.status_code != 429:
            self._blocked_until = self.clock() + reset_in

    def retry_wait(self, response: requests.Response, attempt: int) -> float:
        reset_in = _number(response.headers.get("X-RateLimit-Reset-In"))
        return reset_in if reset_in is not None else super().retry_wait(response, attempt)


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


class ListenBrainzClient:
    """Public playlists and similarity from ListenBrainz, paced by its rate-limit headers."""

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
        timeout: float = 15.0,
        wait_budget: float | None = None,
        session: requests.Session | None = None,
    ) -> None:
        self.api = settings.listenbrainz_url.rstrip("/")
        self.labs = settings.listenbrainz_labs_url.rstrip("/")
        contact = f" ( {settings.contact} )" if settings.contact else ""
        headers = {"User-Agent": f"murecom/{murecom_version()}{contact}", "Accept": "application/json"}
        if settings.listenbrainz_token:
            headers["Authorization"] = f"Token {settings.listenbrainz_token}"
        self.http = _ListenBrainzHttp(
            headers,
            wait_budget=settings.open_data_wait_budget if wait_budget is None else wait_budget,
            timeout=timeout,
            clock=clock,
            sleep=sleep,
            session=session,
        )

    @property
    def waits(self) -> list[float]:
        return self.http.waits.seconds

    def playlist(self, mbid: str) -> OpenPlaylist | None:
        """`GET /1/playlist/{mbid}`: the playlist with its recordings; None when it does not exist (or is private)."""
        body = self.http.get_json(f"{self.api}/1/playlist/{mbid}")
        if not isinstance(body, dict):
            return None
        playlist = body.get("playlist") or {}
        return OpenPlaylist(
            mbid=last_segment(playlist.get("identifier")) or mbid,
            title=str(playlist.get("title") or ""),
            creator=str(playlist.get("creator") or ""),
            recordings=tuple(recording_from_jspf(t) for t in playlist.get("track") or [] if isinstance(t, dict)),
        )

    def _listing(self, url: str, params: dict[str, Any]) -> tuple[list[PlaylistRef], int]:
        body = self.http.get_json(url, params) or {}
        refs = [_ref(p) for p in body.get("playlists") or [] if isinstance(p, dict)]
        return [r for r in refs if r.mbid], int(body.get("playlist_count") or 0)

    def user_playlists(self, user: str, offset: int = 0, count: int = 25) -> tuple[list[PlaylistRef], int]:
        """`GET /1/user/{user}/playlists`: one page of the user's public playlists (no tracks) and their total."""
        return self._listing(f"{self.api}/1/user/{user}/playlists", {"offset": offset, "count": count})

    def search_playlists(self, query: str, offset: int = 0, count: int = 25) -> tuple[list[PlaylistRef], int]:
        """`GET /1/playlist/search?query=`: one page of public playlists matching `query`, and their total."""
        return self._listing(f"{self.api}/1/playlist/search", {"query": query, "offset": offset, "count": count})

    def similar_recordings(self, mbid: str, algorithm: str = RECORDING_ALGORITHM) -> list[Similar]:
        """Labs `similar-recordings/json`: recordings listened to in the same sessions, most similar first."""
        rows = self.http.get_json(
            f"{self.labs}/similar-recordings/json", {"recording_mbids": mbid, "algorithm": algorithm}
        )
        return [
            Similar(
                str(r["recording_mbid"]),
                str(r.get("recording_name") or ""),
                float(r.get("score") or 0),
                str(r.get("reference_mbid") or mbid),
                str(r.get("artist_credit_name") or ""),
            )
            for r in rows or []
            if isinstance(r, dict) and r.get("recording_mbid") and r.get("recording_mbid") != mbid
        ]

    def similar_artists(self, mbid: str, algorithm: str = ARTIST_ALGORITHM) -> list[Similar]:
        """Labs `similar-artists/json`: artists listened to in the same sessions, most similar first."""
        rows = self.http.get_json(f"{self.labs}/similar-artists/json", {"artist_mbids": mbid, "algorithm": algorithm})
        return [
            Similar(
                str(r["artist_mbid"]),
                str(r.get("name") or ""),
                float(r.get("score") or 0),
                str(r.get("reference_mbid") or mbid),
            )
            for r in rows or []
            if isinstance(r, dict) and r.get("artist_mbid") and r.get("artist_mbid") != mbid
        ]

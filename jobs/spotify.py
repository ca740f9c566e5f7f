"""Spotify Web API client for what Spotify's terms still allow us: naming one track a person points at.

What it does: a Spotify link, URI or id, or a search, is resolved to the track's title, artists, album, duration and
ISRC (`SpotifyClient.track`, `SpotifyClient.search_tracks`), so the chat core can find the same recording in the
corpus (by ISRC first, `data.recordings.Recording`) and answer from our own models.
What it never does: gather Spotify data in bulk or feed it to a model. Spotify's Developer Terms (v9, 2023-05-08,
IV.2.a.i) and Developer Policy (III.14) forbid "using the Spotify Platform or any Spotify Content to train a machine
learning or AI model or otherwise ingesting Spotify Content into a machine learning or AI model", and the User
Guidelines forbid crawling; the playlist crawl that used to live here is gone (docs/jobs.md, "Spotify"). A resolved
track is an answer to one message, not a corpus row.

The API as it is for a Development Mode app since February 2026 (the "Web API Changelog - February 2026"; new apps
from 2026-02-11, all apps from 2026-03-09): GET /tracks/{id} remains (one id per call: the several-ids lookups are
removed), `external_ids.isrc` stays (reverted in the March 2026 changelog), `popularity` is gone, search pages hold
at most 10 (`limit` above 10 answers 400 "Invalid limit"). `tests/jobs/fake_spotify.py` speaks exactly that.

Failures are typed and never retried past the budget: a 429 is waited out (its Retry-After) while the waits of one
call stay within `wait_budget` (default `MUREC_PLATFORM_WAIT_BUDGET`, the same budget a chat reply has); beyond it,
5xx, timeouts and connection errors raise `SpotifyUnavailable` ("try later"); 400/401/403 raise `SpotifyRefused`;
404 raises `SpotifyNotFound`. Malformed ids, episodes and local files raise `NotASpotifyTrack` before any request.
Plain `requests` rather than spotipy: spotipy sleeps out any Retry-After silently (up to an hour), retries 5xx
behind our back, accepts episode URIs for track calls, and logs request headers (the client secret) at DEBUG. Our
log lines carry the path and status only: never the secret, the Basic credentials or the access token.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests

from data.recordings import ArtistCredit, Recording
from data.search import parse_spotify_track_id
from data.settings import Settings

log = logging.getLogger(__name__)

#: Development Mode's largest search page (February 2026 changelog; 400 "Invalid limit" above it)
SEARCH_LIMIT_MAX = 10
_BASE62_ID = re.compile(r"^[0-9A-Za-z]{22}$")
_NOT_A_TRACK = (
    (re.compile(r"spotify:local:|open\.spotify\.com/local/", re.I), "a local file, which Spotify cannot look up"),
    (re.compile(r"spotify:episode:|/episode/|spotify:show:|/show/", re.I), "a podcast episode or show, not a song"),
)


class SpotifyError(RuntimeError):
    """A Spotify call that gave no answer; `status` is the HTTP status when there was one."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class NotASpotifyTrack(SpotifyError, ValueError):
    """The input names no Spotify track (malformed id, an episode, a local file); no request was made."""


class SpotifyNotFound(SpotifyError):
    """404: no such track."""


class SpotifyRefused(SpotifyError):
    """400/401/403: Spotify refused the request (a bad request, our credentials, or an endpoint this app may not
    use); trying again will not help."""


class SpotifyUnavailable(SpotifyError):
    """Spotify cannot answer now: rate limited past the wait budget, 5xx, a timeout or no connection. Try later;
    `retry_after` is Spotify's own estimate in seconds when it gave one."""

    def __init__(self, message: str, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message, status)
        self.retry_after = retry_after


@dataclass(frozen=True)
class SpotifyTrack:
    """A track as Spotify names it: the recording (title, artists without MBIDs, ISRC, length), its album and id."""

    spotify_id: str
    recording: Recording
    album: str | None = None

    @property
    def url(self) -> str:
        return f"https://open.spotify.com/track/{self.spotify_id}"


def track_id_of(ref: str) -> str:
    """The Spotify track id in a link, a `spotify:track:` URI or a bare id; `NotASpotifyTrack` otherwise, saying why
    (an episode or a local file is named as such)."""
    text = ref.strip()
    for pattern, what in _NOT_A_TRACK:
        if pattern.search(text):
            raise NotASpotifyTrack(f"that is {what}")
    if _BASE62_ID.match(text):
        return text
    found = parse_spotify_track_id(text)
    if found is None:
        raise NotASpotifyTrack("that is not a Spotify track link or id")
    return found


def track_from_json(obj: dict[str, Any]) -> SpotifyTrack:
    """A `SpotifyTrack` from Spotify's track object (the fields Development Mode still serves)."""
    isrc = str((obj.get("external_ids") or {}).get("isrc") or "").strip().upper().replace("-", "")
    artists = tuple(
        ArtistCredit(str(a["name"])) for a in obj.get("artists") or [] if isinstance(a, dict) and a.get("name")
    )
    duration = obj.get("duration_ms")
    recording = Recording(
        title=str(obj.get("name") or ""),
        artists=artists,
        isrcs=(isrc,) if len(isrc) == 12 else (),
        length_ms=int(duration) if isinstance(duration, int | float) else None,
    )
    album = obj.get("album")
    album_name = str(album.get("name") or "") if isinstance(album, dict) else ""
    return SpotifyTrack(str(obj["id"]), recording, album_name or None)


class SpotifyClient:
    """Client-credentials access to GET /tracks/{id} and GET /search?type=track, with the failure policy above."""

    def __init__(
        self,
        settings: Settings,
        *,
        wait_budget: float | None = None,
        timeout: float = 10.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        session: requests.Session | None = None,
    ) -> None:
        if not (settings.spotify_client_id and settings.spotify_client_secret):
            raise ValueError("SPOTIFY_CLIENT_ID and SPOTIFY_CLIENT_SECRET are needed to look tracks up on Spotify")
        self._credentials = (settings.spotify_client_id, settings.spotify_client_secret)
        self._api = settings.spotify_api_prefix.rstrip("/") + "/"
        self._token_url = settings.spotify_token_url
        self.wait_budget = settings.platform_wait_budget if wait_budget is None else wait_budget
        self.timeout = timeout
        self._sleep = sleep
        self._clock = clock
        self._http = session or requests.Session()
        self._token: tuple[str, float] | None = None  # (access token, clock time it expires)
        #: the 429 waits this client sat out, in seconds (for logs and tests)
        self.waits: list[float] = []

    def __repr__(self) -> str:
        return f"SpotifyClient(api={self._api!r})"  # never the credentials

    # --- the calls ---------------------------------------------------------------------------------------------
    def track(self, ref: str) -> SpotifyTrack:
        """The track a link, URI or id names (GET /tracks/{id})."""
        track_id = track_id_of(ref)
        return track_from_json(self._get(f"tracks/{track_id}", {}))

    def search_tracks(self, query: str, limit: int = SEARCH_LIMIT_MAX) -> list[SpotifyTrack]:
        """Tracks matching `query`, best first; at most `limit` (1..10: Development Mode's page cap)."""
        if not 1 <= limit <= SEARCH_LIMIT_MAX:
            raise ValueError(f"limit must be 1..{SEARCH_LIMIT_MAX} (Spotify's Development Mode search cap)")
        if not query.strip():
            raise ValueError("an empty search")
        body = self._get("search", {"q": query.strip()[:250], "type": "track", "limit": limit})
        items = (body.get("tracks") or {}).get("items") or []
        return [track_from_json(t) for t in items if isinstance(t, dict) and t.get("id")]

    # --- HTTP and the failure policy ---------------------------------------------------------------------------
    def _get(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        """GET `path` with a valid token; 429s are waited out within the budget, everything else raises typed."""
        waited = 0.0
        while True:
            response = self._request("GET", self._api + path, params=params, headers=self._auth())
            if response.status_code == 200:
                return self._json(response, path)
            if response.status_code != 429:
                raise self._failure(response, path)
            wait = _retry_after(response)
            if waited + wait > self.wait_budget:
                log.warning("spotify %s: rate limited for %.0fs, past the %.0fs budget", path, wait, self.wait_budget)
                raise SpotifyUnavailable("Spotify is rate limiting us; try later", 429, wait)
            log.info("spotify %s: rate limited, waiting %.1fs", path, wait)
            self.waits.append(wait)
            waited += wait
            self._sleep(wait)

    def _auth(self) -> dict[str, str]:
        """The bearer header, fetching a client-credentials token when there is none or it is about to expire."""
        if self._token is None or self._clock() >= self._token[1]:
            response = self._request(
                "POST", self._token_url, data={"grant_type": "client_credentials"}, auth=self._credentials
            )
            if response.status_code != 200:
                raise self._failure(response, "token")
            body = self._json(response, "token")
            expires_in = float(body.get("expires_in") or 3600)
            self._token = (str(body["access_token"]), self._clock() + max(0.0, expires_in - 60))
        return {"Authorization": f"Bearer {self._token[0]}"}

    def _request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        try:
            return self._http.request(method, url, timeout=self.timeout, allow_redirects=False, **kwargs)
        except requests.Timeout as exc:
            raise SpotifyUnavailable(f"Spotify did not answer within {self.timeout:.0f}s; try later") from exc
        except requests.RequestException as exc:
            raise SpotifyUnavailable(f"Spotify is unreachable ({type(exc).__name__}); try later") from exc

    def _json(self, response: requests.Response, path: str) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError as exc:
            raise SpotifyUnavailable(f"Spotify answered {path} with something that is not JSON", 200) from exc
        if not isinstance(body, dict):
            raise SpotifyUnavailable(f"Spotify answered {path} with something that is not an object", 200)
        return body

    def _failure(self, response: requests.Response, path: str) -> SpotifyError:
        """The typed error for a non-200, non-429 answer, with Spotify's own message (never a header)."""
        status = response.status_code
        message = _error_message(response)
        log.warning("spotify %s: HTTP %d %s", path, status, message)
        if status == 404:
            return SpotifyNotFound(f"Spotify has no such track ({message})", status)
        if status >= 500:
            return SpotifyUnavailable(f"Spotify failed (HTTP {status}); try later", status)
        return SpotifyRefused(f"Spotify refused the request (HTTP {status}: {message})", status)


def _retry_after(response: requests.Response) -> float:
    """Seconds to wait from Retry-After (Spotify sends whole seconds); 1 when it is missing or unreadable."""
    try:
        return max(0.0, float(response.headers.get("Retry-After", 1)))
    except (TypeError, ValueError):
        return 1.0


def _error_message(response: requests.Response) -> str:
    """Spotify's error message: the Web API's {"error": {"message"}} or the accounts service's {"error"}."""
    try:
        body = response.json()
    except ValueError:
        return response.reason or ""
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return str(error.get("message") or "")[:200]
    return str(error or "")[:200]

"""Spotify Web API client for the crawl: spotipy with its own retrying switched off and ours in its place.

spotipy's built-in handling of 429 sleeps for whatever Retry-After says (up to an hour) without a word, and its
urllib3 retries hide 5xx storms. Here the HTTP session is a plain `requests.Session` (no retry adapter), and
`SpotifyClient.call` retries 429 honouring Retry-After up to `max_wait` seconds, backs off exponentially on 5xx
and network errors, logs every wait, and raises `SpotifyUnavailable` for 401/403/404 — endpoints Spotify removed
for new apps (Nov 2024) answer that way, and the crawl skips them instead of failing.
spotipy logs request headers (the client secret, base64) at DEBUG, so its logger is held at INFO.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import Any, TypeVar

import requests
import spotipy
from spotipy.cache_handler import MemoryCacheHandler
from spotipy.oauth2 import SpotifyClientCredentials

from data.settings import Settings

log = logging.getLogger(__name__)
logging.getLogger("spotipy").setLevel(logging.INFO)
T = TypeVar("T")


class SpotifyUnavailable(RuntimeError):
    """The resource or endpoint is not available to this app (401/403/404); not worth retrying."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"Spotify answered {status}: {message}")
        self.status = status


class SpotifyGaveUp(RuntimeError):
    """Still rate-limited or failing after the retry budget."""


class SpotifyClient:
    """Thin wrapper: spotipy for the requests and JSON, our policy for failures."""

    def __init__(
        self,
        settings: Settings,
        *,
        max_attempts: int = 5,
        max_wait: float = 60.0,
        base_backoff: float = 0.5,
        timeout: float = 10.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not (settings.spotify_client_id and settings.spotify_client_secret):
            raise ValueError("SPOTIFY_CLIENT_ID and SPOTIFY_CLIENT_SECRET are needed for the Spotify crawl")
        auth = SpotifyClientCredentials(
            settings.spotify_client_id,
            settings.spotify_client_secret,
            requests_session=requests.Session(),
            requests_timeout=timeout,
            cache_handler=MemoryCacheHandler(),
        )
        auth.OAUTH_TOKEN_URL = settings.spotify_token_url
        self.sp = spotipy.Spotify(
            auth_manager=auth, requests_session=requests.Session(), requests_timeout=timeout, retries=0
        )
        self.sp.prefix = settings.spotify_api_prefix
        self.max_attempts = max_attempts
        self.max_wait = max_wait
        self.base_backoff = base_backoff
        self._sleep = sleep
        self.waits: list[float] = []

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Call a spotipy method with our retry policy."""
        for attempt in range(1, self.max_attempts + 1):
            try:
                return fn(*args, **kwargs)
            except spotipy.SpotifyException as exc:
                status = exc.http_status
                if status in (401, 403, 404):
                    raise SpotifyUnavailable(status, str(exc.msg).splitlines()[-1].strip()) from exc
                if status == 429:
                    wait = self._retry_after(exc.headers)
                    if wait > self.max_wait:
                        raise SpotifyGaveUp(f"rate limited for {wait:.0f}s, more than we wait") from exc
                elif status is not None and status >= 500:
                    wait = self._backoff(attempt)
                else:
                    raise
                what = f"HTTP {status}"
            except (requests.ConnectionError, requests.Timeout) as exc:
                wait, what = self._backoff(attempt), type(exc).__name__
            if attempt == self.max_attempts:
                break
            log.warning("spotify %s on %s; retry %d/%d in %.1fs", what, fn.__name__, attempt, self.max_attempts, wait)
            self.waits.append(wait)
            self._sleep(wait)
        raise SpotifyGaveUp(f"{fn.__name__} still failing after {self.max_attempts} attempts")

    def _retry_after(self, headers: Any) -> float:
        try:
            return max(0.0, float((headers or {}).get("Retry-After", 1)))
        except (TypeError, ValueError):
            return 1.0

    def _backoff(self, attempt: int) -> float:
        return min(self.max_wait, self.base_backoff * 2 ** (attempt - 1)) * (0.5 + random.random() / 2)

    # --- the endpoints the crawl uses ----------------------------------------------------------------------------
    def search_playlists(self, word: str, offset: int, limit: int = 50) -> dict:
        return self.call(self.sp.search, q=word, type="playlist", limit=limit, offset=offset)

    def playlist_items(self, playlist_id: str, offset: int, limit: int = 100) -> dict:
        return self.call(self.sp.playlist_items, playlist_id, limit=limit, offset=offset, additional_types=("track",))

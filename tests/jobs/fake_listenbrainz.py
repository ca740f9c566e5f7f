"""A strict local fake of the ListenBrainz API and its Labs similarity datasets on 127.0.0.1, serving real Yes.com
playlists (real songs, real play order; `tests.jobs.open_catalogue`) as JSPF.

Rules and shapes, each from ListenBrainz's documentation (listenbrainz.readthedocs.io, users/api):
- "Rate limiting": every answer carries X-RateLimit-Limit ("Number of requests allowed in given time window"),
  X-RateLimit-Remaining, X-RateLimit-Reset-In ("Number of seconds when current time window expires") and
  X-RateLimit-Reset (UNIX epoch seconds); "If the client exceeds the number of requests allowed, the server will
  respond with error code 429: Too Many Requests". The fake allows `limit` requests per `window` seconds of the
  injected clock, the window starting at its first request; 429s carry the same headers.
- Playlists ("Playlists" API): `GET /1/user/(playlist_user_name)/playlists` "Fetch playlist metadata in JSPF format
  without recordings", paginated by `count` and `offset`, 404 "User not found"; "If a user token is provided in the
  Authorization header, return private playlists as well as public playlists for that user" (the fake's `private`
  playlists are listed, and served by MBID, only with the token; without it they are 404, as missing);
  `GET /1/playlist/(playlist_mbid)` the playlist with its tracks; playlist search `GET /1/playlist/search?query=`
  answers the listing shape (`{"playlists": [{"playlist": …}], "playlist_count", "count", "offset"}`; the docs we
  could read do not spell the search's answer out, so it is modelled on the user listing). JSPF with the MusicBrainz
  extensions
  (musicbrainz.org/doc/jspf): playlist `identifier` "https://listenbrainz.org/playlist/<mbid>", extension
  "https://musicbrainz.org/doc/jspf#playlist" (`public`, `creator`); track `identifier`
  "https://musicbrainz.org/recording/<mbid>", `creator` the artist line, extension
  "https://musicbrainz.org/doc/jspf#track" with `artist_identifiers`.
- Labs (labs.api.listenbrainz.org): `similar-recordings/json?recording_mbids=&algorithm=` and
  `similar-artists/json?artist_mbids=&algorithm=` answer a flat JSON array of rows (`recording_mbid`,
  `recording_name`, `artist_credit_name`, `score`, `reference_mbid` / `artist_mbid`, `name`, `score`,
  `reference_mbid`); the algorithm is required (400 without it). Similarity here is co-occurrence in the real
  Yes.com playlists.
"""

from __future__ import annotations

import threading
from email.message import Message
from typing import Any

from tests.jobs.open_catalogue import FakeClock, FakeJsonServer, OpenCatalogue, playlist_mbid

TOKEN = "fake-listenbrainz-token"


class FakeListenBrainz(FakeJsonServer):
    def __init__(
        self,
        catalogue: OpenCatalogue,
        clock: FakeClock,
        *,
        users: dict[str, list[int]] | None = None,
        limit: int = 10,
        window: float = 10.0,
        private: frozenset[int] = frozenset(),
    ) -> None:
        super().__init__()
        self.cat = catalogue
        self.clock = clock
        self.limit, self.window = limit, window
        self._window_start: float | None = None
        self._used = 0
        self.too_many = 0
        self.authorizations: list[str] = []
        self.private = private  # indexes of playlists only the token's owner sees
        self._authorized = threading.local()
        n = len(catalogue.playlists)
        # two users, each owning every other playlist (indexes into catalogue.playlists)
        self.users = (
            users if users is not None else {"yes_radio_a": list(range(0, n, 2)), "yes_radio_b": list(range(1, n, 2))}
        )
        self.by_mbid = {playlist_mbid(line): i for i, (line, _) in enumerate(catalogue.playlists)}
        self.artists = catalogue.artists_by_mbid()

    def env(self) -> dict[str, str]:
        return {"LISTENBRAINZ_URL": self.base, "LISTENBRAINZ_LABS_URL": self.base + "/labs"}

    def title(self, index: int) -> str:
        line, ids = self.cat.playlists[index]
        return f"{self.cat.songs[ids[0]].artist} radio {line}"

    # --- rate limit ----------------------------------------------------------------------------------------------
    def _rate(self) -> tuple[bool, dict[str, str]]:
        now = self.clock()
        with self.lock:
            if self._window_start is None or now >= self._window_start + self.window:
                self._window_start, self._used = now, 0
            allowed = self._used < self.limit
            if allowed:
                self._used += 1
            else:
                self.too_many += 1
            reset_in = max(0.0, self._window_start + self.window - now)
            headers = {
                "X-RateLimit-Limit": str(self.limit),
                "X-RateLimit-Remaining": str(self.limit - self._used),
                "X-RateLimit-Reset-In": f"{reset_in:g}",
                "X-RateLimit-Reset": str(int(1_700_000_000 + now + reset_in)),
            }
        return allowed, headers

    def handle(self, path: str, query: dict[str, str], headers: Message) -> tuple[int, Any, dict[str, str]]:
        allowed, limits = self._rate()
        if headers.get("Authorization"):
            self.authorizations.append(headers["Authorization"])
        self._authorized.value = headers.get("Authorization") == f"Token {TOKEN}"
        if not allowed:
            return 429, {"code": 429, "error": "Too Many Requests"}, limits
        status, body = self._route(path.strip("/").split("/"), query)
        return status, body, limits

    def _route(self, parts: list[str], query: dict[str, str]) -> tuple[int, Any]:
        if parts[:1] == ["labs"]:
            return self._labs(parts[1:], query)
        if len(parts) == 4 and parts[:2] == ["1", "user"] and parts[3] == "playlists":
            if parts[2] not in self.users:
                return 404, {"code": 404, "error": "Cannot find user: " + parts[2]}
            return self._listing(self.users[parts[2]], query)
        if parts == ["1", "playlist", "search"]:
            words = query.get("query", "").casefold().split()
            if not words:
                return 400, {"code": 400, "error": "query is required"}
            hits = [i for i in range(len(self.cat.playlists)) if all(w in self.title(i).casefold() for w in words)]
            return self._listing(hits, query)
        if len(parts) == 3 and parts[:2] == ["1", "playlist"]:
            index = self.by_mbid.get(parts[2])
            if index is None or not self._visible(index):
                return 404, {"code": 404, "error": "Cannot find playlist: " + parts[2]}
            return 200, {"playlist": self.jspf(index, with_tracks=True)}
        return 404, {"code": 404, "error": "Not found"}

    # --- shapes --------------------------------------------------------------------------------------------------
    def jspf(self, index: int, *, with_tracks: bool) -> dict[str, Any]:
        line, ids = self.cat.playlists[index]
        playlist: dict[str, Any] = {
            "identifier": f"https://listenbrainz.org/playlist/{playlist_mbid(line)}",
            "title": self.title(index),
            "creator": "yes_radio",
            "date": "2012-01-01T00:00:00+00:00",
            "extension": {
                "https://musicbrainz.org/doc/jspf#playlist": {
                    "public": index not in self.private,
                    "creator": "yes_radio",
                }
            },
            "track": [],
        }
        if with_tracks:
            playlist["track"] = [
                {
                    "identifier": f"https://musicbrainz.org/recording/{song.mbid}",
                    "title": song.title,
                    "creator": song.artist,
                    "extension": {
                        "https://musicbrainz.org/doc/jspf#track": {
                            "artist_identifiers": [f"https://musicbrainz.org/artist/{song.artist_mbid}"],
                            "added_by": "yes_radio",
                        }
                    },
                }
                for song in (self.cat.songs[i] for i in ids)
            ]
        return playlist

    def _visible(self, index: int) -> bool:
        return index not in self.private or bool(getattr(self._authorized, "value", False))

    def _listing(self, indexes: list[int], query: dict[str, str]) -> tuple[int, Any]:
        indexes = [i for i in indexes if self._visible(i)]
        offset, count = int(query.get("offset", 0) or 0), int(query.get("count", 25) or 25)
        page = indexes[offset : offset + count]
        return 200, {
            "playlists": [{"playlist": self.jspf(i, with_tracks=False)} for i in page],
            "playlist_count": len(indexes),
            "count": len(page),
            "offset": offset,
        }

    def _labs(self, parts: list[str], query: dict[str, str]) -> tuple[int, Any]:
        if not query.get("algorithm"):
            return 400, b"<html><body>algorithm is required</body></html>"
        if parts == ["similar-recordings", "json"]:
            song = self.cat.by_mbid.get(query.get("recording_mbids", ""))
            if song is None:
                return 200, []
            rows = self.cat.co_occurring(song.id, 20)
            return 200, [
                {
                    "recording_mbid": self.cat.songs[i].mbid,
                    "recording_name": self.cat.songs[i].title,
                    "artist_credit_name": self.cat.songs[i].artist,
                    "score": count,
                    "reference_mbid": song.mbid,
                }
                for i, count in rows
            ]
        if parts == ["similar-artists", "json"]:
            name = self.artists.get(query.get("artist_mbids", ""))
            if name is None:
                return 200, []
            ref = query["artist_mbids"]
            by_name = {v: k for k, v in self.artists.items()}
            return 200, [
                {"artist_mbid": by_name[a], "name": a, "score": count, "reference_mbid": ref}
                for a, count in self.cat.similar_artists(name, 20)
            ]
        return 404, {"error": "Not found"}

"""A local fake of the Spotify Web API and its token endpoint on 127.0.0.1, speaking Development Mode as it is since
February 2026, with an `extended_quota=True` switch for the old contract. Tracks are the real Yes.com songs.

Sources of every rule (each rule below names the one it follows):
- [CHANGELOG] "Web API Changelog - February 2026",
  https://developer.spotify.com/documentation/web-api/references/changes/february-2026 ("[REMOVED] Get Artist's Top
  Tracks (GET /artists/{id}/top-tracks)", "[REMOVED] Get New Releases (GET /browse/new-releases)", "[REMOVED] Get
  Several Albums (GET /albums)", "[REMOVED] Get Several Artists (GET /artists)", Get Several Tracks, Get User's
  Playlists; fields removed from track and artist objects, among them `popularity`).
- [GUIDE] "February 2026 Web API Dev Mode Changes - Migration Guide",
  https://developer.spotify.com/documentation/web-api/tutorials/february-2026-migration-guide: new Development Mode
  apps get the restrictions from 2026-02-11, existing ones from 2026-03-09; "Extended Quota Mode apps: No migration
  required ... all existing endpoints, fields, and behaviors remain unchanged" (hence `extended_quota`); the
  playlist endpoints renamed `/playlists/{id}/tracks` -> `/playlists/{id}/items`, and each entry's `track` -> `item`.
- [MARCH] "Web API Changelog - March 2026", .../references/changes/march-2026: "[REVERTED] external_ids — Known
  external IDs for the track ... will continue to be available" (so GET /tracks/{id} carries `external_ids.isrc`).
- [RATE] "Rate Limits", https://developer.spotify.com/documentation/web-api/concepts/rate-limits: a 429 response
  when the app exceeds its rolling 30-second window; the wait in seconds is in the `Retry-After` header; the July
  2026 changelog gives its body {"error": {"status": 429, "message": "Too many requests", ...}}.
- [CALLS] "API calls", https://developer.spotify.com/documentation/web-api/concepts/api-calls: the status codes and
  the error object {"error": {"status", "message"}}.
- What Development Mode answers, observed against the live API and reported by the apps it broke: `GET /v1/search`
  with `limit` above 10 -> 400 {"error": {"status": 400, "message": "Invalid limit"}} (limit=10 -> 200)
  (github.com/bjarneo/cliamp/pull/315, github.com/hrkfdn/ncspot/issues/1866); a removed endpoint -> 403
  {"error": {"status": 403, "message": "Forbidden"}} (cliamp #315: GET /v1/browse/new-releases -> 403;
  github.com/bjarneo/cliamp/issues/54: GET /v1/playlists/{id}/tracks -> 403 Forbidden).

Faults can be planned per path prefix (`fail`: any status, 429 with Retry-After) and a path can be held past a
client's timeout (`stall`, released at `stop`). Every request is recorded in `requests` (method and path).
"""

from __future__ import annotations

import base64
import json
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlparse

from tests.jobs.open_catalogue import song_isrc

CLIENT_ID = "fake-client-id"
CLIENT_SECRET = "fake-client-secret"
TOKEN = "fake-access-token"
#: [CHANGELOG]/[GUIDE] Development Mode's search page cap; the old contract's was 50.
DEV_SEARCH_LIMIT, EXTENDED_SEARCH_LIMIT = 10, 50
#: [CHANGELOG] endpoints removed for Development Mode apps (GET; path patterns, "*" one id segment)
REMOVED_ENDPOINTS: tuple[tuple[str, ...], ...] = (
    ("tracks",),  # Get Several Tracks (GET /tracks?ids=)
    ("artists",),  # Get Several Artists (GET /artists?ids=)
    ("albums",),  # Get Several Albums (GET /albums?ids=)
    ("artists", "*", "top-tracks"),  # Get Artist's Top Tracks
    ("artists", "*", "related-artists"),  # Get Artist's Related Artists (already gone for new apps, Nov 2024)
    ("browse", "new-releases"),  # Get New Releases
    ("markets",),  # Get Available Markets
    ("users", "*", "playlists"),  # Get User's Playlists
    ("playlists", "*", "tracks"),  # renamed to /items [GUIDE]; the old path answers 403 (cliamp #54)
)


def _id(prefix: str, n: int) -> str:
    return (prefix + f"{n:021d}")[:22]


def fake_isrc(song: int) -> str:
    """A well-formed ISRC for a Yes.com song number: the same one the open-data fakes give it (one recording, one
    ISRC, whichever service names it), so a Spotify link leads to MusicBrainz's recording by ISRC."""
    return song_isrc(song)


class Catalogue:
    """Tracks (with ISRCs), artists and playlists of the fake, from `yes_big`: the old contract's full track objects,
    which `FakeSpotify` trims to what Development Mode serves."""

    def __init__(self, yes_dir: Path, n_playlists: int = 120, min_len: int = 5) -> None:
        songs = {}
        for line in (yes_dir / "song_hash.txt").read_text(encoding="utf-8").splitlines():
            sid, title, artist = line.split("\t")[:3]
            songs[int(sid)] = (title.replace("\\/", "/"), artist)
        tag_names = {}
        for line in (yes_dir / "tag_hash.txt").read_text(encoding="utf-8").splitlines():
            tid, _, name = line.partition(",")
            tag_names[tid.strip()] = name.strip()
        song_tags = [
            [tag_names[t] for t in line.split() if t in tag_names] if line.strip() != "#" else []
            for line in (yes_dir / "tags.txt").read_text().splitlines()
        ]
        self.tracks: dict[str, dict] = {}
        self.artists: dict[str, dict] = {}
        self.playlists: dict[str, dict] = {}
        lines = (yes_dir / "train.txt").read_text().splitlines()[2:]
        for n, line in enumerate(lines):
            ids = [int(s) for s in line.split()]
            if len(ids) < min_len:
                continue
            tags = Counter(t for s in ids for t in song_tags[s] if t not in ("favorites", "favorite"))
            name = " ".join(t for t, _ in tags.most_common(2)) or "radio"
            pid = _id("p", n)
            self.playlists[pid] = {
                "id": pid,
                "name": f"{name} mix {n}",
                "items": [self._track(s, *songs[s]) for s in ids],
            }
            if len(self.playlists) >= n_playlists:
                break

    def _track(self, s: int, title: str, artist_name: str) -> dict:
        """The full (pre-2026) track object of song `s`; registers it and its artist."""
        artist = {"id": _id("a", zlib.crc32(artist_name.encode())), "name": artist_name, "type": "artist"}
        self.artists[artist["id"]] = {**artist, "popularity": zlib.crc32(artist_name.encode()) % 100, "genres": []}
        track = {
            "id": _id("t", s),
            "name": title,
            "type": "track",
            "uri": f"spotify:track:{_id('t', s)}",
            "external_urls": {"spotify": f"https://open.spotify.com/track/{_id('t', s)}"},
            "duration_ms": 180_000 + s,
            "popularity": s % 100,
            "preview_url": None,
            "is_local": False,
            "external_ids": {"isrc": fake_isrc(s)},
            "album": {"id": _id("b", s % 997), "name": f"{artist_name} album", "type": "album"},
            "artists": [artist],
        }
        self.tracks[track["id"]] = track
        return track


class FakeSpotify:
    def __init__(self, catalogue: Catalogue, *, extended_quota: bool = False) -> None:
        self.cat = catalogue
        #: [GUIDE] Extended Quota Mode keeps "all existing endpoints, fields, and behaviors"
        self.extended_quota = extended_quota
        self.faults: dict[str, list[tuple[int, dict]]] = {}
        self.stalls: dict[str, float] = {}
        #: seconds each answer takes (a benchmark's 100–300 ms; tests leave it at none)
        self.latency: Callable[[], float] | None = None
        self.requests: list[str] = []
        self._lock = threading.Lock()
        self._released = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                fake._handle(self, "POST")

            def do_GET(self) -> None:
                fake._handle(self, "GET")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        return {
            "SPOTIFY_CLIENT_ID": CLIENT_ID,
            "SPOTIFY_CLIENT_SECRET": CLIENT_SECRET,
            "SPOTIFY_API_PREFIX": f"{self.base}/v1/",
            "SPOTIFY_TOKEN_URL": f"{self.base}/api/token",
        }

    def start(self) -> FakeSpotify:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._released.set()
        self.server.shutdown()
        self.server.server_close()

    def fail(self, path_prefix: str, *statuses: int, retry_after: int = 1) -> None:
        """The next requests under `path_prefix` answer these statuses, in order (then normally); a 429 carries
        `Retry-After: retry_after` and the body of [RATE]."""
        headers = {"Retry-After": str(retry_after)}
        self.faults.setdefault(path_prefix, []).extend((s, headers if s == 429 else {}) for s in statuses)

    def stall(self, path_prefix: str, seconds: float) -> None:
        """Requests under `path_prefix` get no answer for `seconds` (or until `stop`): a client's timeout fires."""
        self.stalls[path_prefix] = seconds

    def api_requests(self) -> list[str]:
        """The requests made to the Web API (not the token endpoint)."""
        return [r for r in self.requests if " /v1/" in r]

    # --- HTTP --------------------------------------------------------------------------------------------------
    def _send(self, h: BaseHTTPRequestHandler, status: int, body: dict, headers: dict | None = None) -> None:
        data = json.dumps(body).encode()
        try:
            h.send_response(status)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                h.send_header(k, v)
            h.end_headers()
            h.wfile.write(data)
        except OSError:  # the client gave up (its timeout) before the answer
            pass

    def _error(self, h: BaseHTTPRequestHandler, status: int, message: str, headers: dict | None = None) -> None:
        """[CALLS] the regular error object."""
        self._send(h, status, {"error": {"status": status, "message": message}}, headers)

    def _handle(self, h: BaseHTTPRequestHandler, method: str) -> None:
        url = urlparse(h.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        with self._lock:
            self.requests.append(f"{method} {url.path}")
            fault = None
            for prefix, queue in self.faults.items():
                if url.path.startswith(prefix) and queue:
                    fault = queue.pop(0)
                    break
        if self.latency is not None:
            time.sleep(self.latency())
        stall = next((s for p, s in self.stalls.items() if url.path.startswith(p)), 0.0)
        if stall:
            self._released.wait(stall)
        if fault is not None:
            status, headers = fault
            self._error(h, status, "Too many requests" if status == 429 else f"fake fault {status}", headers)
            return
        if url.path == "/api/token" and method == "POST":
            self._token(h)
            return
        if h.headers.get("Authorization") != f"Bearer {TOKEN}":
            self._error(h, 401, "No token provided")
            return
        parts = url.path.strip("/").split("/")[1:] if url.path.startswith("/v1/") else []
        if method == "GET" and not self.extended_quota and self._removed(parts):
            self._error(h, 403, "Forbidden")
        elif method == "GET" and parts == ["search"]:
            self._search(h, query)
        elif method == "GET" and len(parts) == 2 and parts[0] == "tracks":
            self._get_track(h, parts[1])
        elif method == "GET" and len(parts) == 2 and parts[0] == "artists":
            self._get_artist(h, parts[1])
        elif method == "GET" and parts == ["tracks"]:
            self._several_tracks(h, query)  # reached only with extended_quota
        elif method == "GET" and len(parts) == 3 and parts[0] == "playlists" and parts[2] in ("items", "tracks"):
            self._items(h, parts[1], query)
        else:
            self._error(h, 404, "Service not found")

    def _token(self, h: BaseHTTPRequestHandler) -> None:
        """Client credentials: HTTP Basic with the app's id and secret, `grant_type=client_credentials` in the body."""
        expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        length = int(h.headers.get("Content-Length") or 0)
        body = parse_qs(h.rfile.read(length).decode())
        if h.headers.get("Authorization") != f"Basic {expected}":
            self._send(h, 400, {"error": "invalid_client", "error_description": "Invalid client"})
        elif body.get("grant_type") != ["client_credentials"]:
            self._send(h, 400, {"error": "unsupported_grant_type"})
        else:
            self._send(h, 200, {"access_token": TOKEN, "token_type": "Bearer", "expires_in": 3600})

    @staticmethod
    def _removed(parts: list[str]) -> bool:
        return any(
            len(parts) == len(pattern) and all(p == "*" or p == part for p, part in zip(pattern, parts, strict=True))
            for pattern in REMOVED_ENDPOINTS
        )

    def _served(self, track: dict) -> dict:
        """A track object as this app gets it: [CHANGELOG] no `popularity` on the track or its artists in
        Development Mode; [MARCH] `external_ids` kept."""
        if self.extended_quota:
            return track
        artists = [{k: v for k, v in a.items() if k != "popularity"} for a in track["artists"]]
        return {**{k: v for k, v in track.items() if k != "popularity"}, "artists": artists}

    def _paging(self, path: str, items: list, total: int, offset: int, limit: int, extra: dict) -> dict:
        def link(off: int) -> str:
            return f"{self.base}{path}?{urlencode({**extra, 'offset': off, 'limit': limit})}"

        return {
            "href": link(offset),
            "items": items,
            "limit": limit,
            "offset": offset,
            "total": total,
            "next": link(offset + limit) if offset + limit < total else None,
            "previous": link(max(0, offset - limit)) if offset > 0 else None,
        }

    def _search(self, h: BaseHTTPRequestHandler, query: dict) -> None:
        """Tracks whose title or artist contains every word of `q`. `limit` 1..10 in Development Mode, 1..50 with
        extended quota; above the cap -> 400 "Invalid limit" (cliamp #315, ncspot #1866); without `limit`, a page
        within the cap (cliamp #315: "no `limit` parameter | 200, default page"; 5 here)."""
        cap = EXTENDED_SEARCH_LIMIT if self.extended_quota else DEV_SEARCH_LIMIT
        try:
            limit, offset = int(query.get("limit", 5)), int(query.get("offset", 0))
        except ValueError:
            self._error(h, 400, "Invalid limit")
            return
        if not 1 <= limit <= cap:
            self._error(h, 400, "Invalid limit")
            return
        q = query.get("q", "")
        if not q.strip():
            self._error(h, 400, "No search query")
            return
        if query.get("type") != "track":
            self._error(h, 400, "Bad search type field")  # the fake serves track searches only
            return
        words = q.casefold().split()
        hits = [
            t
            for t in self.cat.tracks.values()
            if all(w in f"{t['name']} {t['artists'][0]['name']}".casefold() for w in words)
        ]
        page = [self._served(t) for t in hits[offset : offset + limit]]
        body = {"tracks": self._paging("/v1/search", page, len(hits), offset, limit, {"q": q, "type": "track"})}
        self._send(h, 200, body)

    def _get_track(self, h: BaseHTTPRequestHandler, track_id: str) -> None:
        """GET /tracks/{id} stays in Development Mode [CHANGELOG]; `external_ids` with the ISRC [MARCH]."""
        track = self.cat.tracks.get(track_id)
        if track is None and (len(track_id) != 22 or not track_id.isalnum()):
            self._error(h, 400, "Invalid base62 id")
        elif track is None:
            self._error(h, 404, "Resource not found")
        else:
            self._send(h, 200, self._served(track))

    def _get_artist(self, h: BaseHTTPRequestHandler, artist_id: str) -> None:
        """GET /artists/{id} stays; [CHANGELOG] its `popularity` is gone in Development Mode."""
        artist = self.cat.artists.get(artist_id)
        if artist is None:
            self._error(h, 404, "Resource not found")
        elif self.extended_quota:
            self._send(h, 200, artist)
        else:
            self._send(h, 200, {k: v for k, v in artist.items() if k != "popularity"})

    def _several_tracks(self, h: BaseHTTPRequestHandler, query: dict) -> None:
        """Extended quota only: GET /tracks?ids= (at most 50 ids), unknown ids as null."""
        ids = [i for i in query.get("ids", "").split(",") if i]
        if not 1 <= len(ids) <= 50:
            self._error(h, 400, "Invalid ids")
            return
        self._send(h, 200, {"tracks": [self.cat.tracks.get(i) for i in ids]})

    def _items(self, h: BaseHTTPRequestHandler, pid: str, query: dict) -> None:
        """A playlist's entries: the track under `item` in Development Mode [GUIDE], under `track` with extended
        quota (where the old `/tracks` path also still answers)."""
        playlist = self.cat.playlists.get(pid)
        if playlist is None:
            self._error(h, 404, "Resource not found")
            return
        offset, limit = int(query.get("offset", 0)), min(100, int(query.get("limit", 100)))
        key = "track" if self.extended_quota else "item"
        items = [
            {"added_at": "2012-01-01T00:00:00Z", "is_local": False, key: self._served(t)}
            for t in playlist["items"][offset : offset + limit]
        ]
        path = f"/v1/playlists/{pid}/items"
        self._send(h, 200, self._paging(path, items, len(playlist["items"]), offset, limit, {}))

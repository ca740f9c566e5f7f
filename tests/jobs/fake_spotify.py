"""A local fake of the Spotify Web API and its token endpoint on 127.0.0.1, built from the real Yes.com data.

It speaks the real wire format spotipy expects: `POST /api/token` (client credentials, HTTP Basic auth), and under
`/v1/` the search endpoint (`type=playlist`, a paging object under "playlists" that may contain null items, as
Spotify's does) and `playlists/{id}/items` (paging objects with absolute `next` URLs pointing back at the fake).
Playlists are Yes.com radio playlists; a playlist's name is made from the Last.fm tags most common among its
songs, so the snowball crawl discovers words the way it would on Spotify. Faults can be planned per path prefix:
429 with Retry-After, 5xx, 403. Run it with `python -m tests.jobs.fake_spotify PORT_FILE` for another process.
"""

from __future__ import annotations

import base64
import json
import sys
import threading
import time
import zlib
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlparse

CLIENT_ID = "fake-client-id"
CLIENT_SECRET = "fake-client-secret"
TOKEN = "fake-access-token"


def _id(prefix: str, n: int) -> str:
    return (prefix + f"{n:021d}")[:22]


class Catalogue:
    """Tracks, artists and playlists of the fake, from `yes_big`."""

    def __init__(self, yes_dir: Path, n_playlists: int = 120, min_len: int = 5, preview_every: int = 0) -> None:
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
        self.playlists: dict[str, dict] = {}
        lines = (yes_dir / "train.txt").read_text().splitlines()[2:]
        for n, line in enumerate(lines):
            ids = [int(s) for s in line.split()]
            if len(ids) < min_len:
                continue
            tags = Counter(t for s in ids for t in song_tags[s] if t not in ("favorites", "favorite"))
            name = " ".join(t for t, _ in tags.most_common(2)) or "radio"
            pid = _id("p", n)
            items = []
            for s in ids:
                title, artist = songs[s]
                track = {
                    "id": _id("t", s),
                    "name": title,
                    "type": "track",
                    "uri": f"spotify:track:{_id('t', s)}",
                    "duration_ms": 180_000 + s,
                    "popularity": s % 100,
                    # Spotify stopped giving previews to new apps; some tracks keep one when asked
                    "preview_url": f"/previews/{_id('t', s)}.ogg" if preview_every and s % preview_every == 0 else None,
                    "album": {"id": _id("b", s % 997), "name": f"{artist} album", "type": "album"},
                    "artists": [{"id": _id("a", zlib.crc32(artist.encode())), "name": artist, "type": "artist"}],
                }
                self.tracks[track["id"]] = track
                items.append(track)
            self.playlists[pid] = {"id": pid, "name": f"{name} mix {n}", "items": items}
            if len(self.playlists) >= n_playlists:
                break


class FakeSpotify:
    def __init__(self, catalogue: Catalogue, delay: float = 0.0, preview_audio: bytes | None = None) -> None:
        self.cat = catalogue
        self.delay = delay
        self.preview_audio = preview_audio
        self.faults: dict[str, list[tuple[int, dict]]] = {}
        self.requests: list[str] = []
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                fake._handle(self, "POST")

            def do_GET(self) -> None:
                fake._handle(self, "GET")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

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
        self.server.shutdown()
        self.server.server_close()

    def fail(self, path_prefix: str, *statuses: int, retry_after: int = 1) -> None:
        """The next requests under `path_prefix` answer these statuses, in order (then normally)."""
        headers = {"Retry-After": str(retry_after)}
        self.faults.setdefault(path_prefix, []).extend((s, headers if s == 429 else {}) for s in statuses)

    # --- HTTP --------------------------------------------------------------------------------------------------
    def _send(self, h: BaseHTTPRequestHandler, status: int, body: dict, headers: dict | None = None) -> None:
        data = json.dumps(body).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(data)

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
        if self.delay:
            time.sleep(self.delay)
        if fault is not None:
            status, headers = fault
            self._send(h, status, {"error": {"status": status, "message": f"fake fault {status}"}}, headers)
            return
        if url.path == "/api/token" and method == "POST":
            expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
            if h.headers.get("Authorization") != f"Basic {expected}":
                self._send(h, 400, {"error": "invalid_client"})
                return
            length = int(h.headers.get("Content-Length") or 0)
            h.rfile.read(length)
            self._send(h, 200, {"access_token": TOKEN, "token_type": "Bearer", "expires_in": 3600})
            return
        if url.path.startswith("/previews/") and method == "GET" and self.preview_audio:
            h.send_response(200)
            h.send_header("Content-Type", "audio/ogg")
            h.send_header("Content-Length", str(len(self.preview_audio)))
            h.end_headers()
            h.wfile.write(self.preview_audio)
            return
        if h.headers.get("Authorization") != f"Bearer {TOKEN}":
            self._send(h, 401, {"error": {"status": 401, "message": "No token provided"}})
            return
        parts = url.path.strip("/").split("/")
        if parts[:2] == ["v1", "search"] and query.get("type") == "playlist":
            self._search(h, query)
        elif len(parts) == 4 and parts[:2] == ["v1", "playlists"] and parts[3] in ("items", "tracks"):
            self._items(h, parts[2], query)
        else:
            self._send(h, 404, {"error": {"status": 404, "message": "Service not found"}})

    def _paging(self, path: str, items: list, query: dict, total: int, offset: int, limit: int, extra: dict) -> dict:
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

    def _absolute(self, track: dict) -> dict:
        if track.get("preview_url"):
            return {**track, "preview_url": self.base + track["preview_url"]}
        return track

    def _search(self, h: BaseHTTPRequestHandler, query: dict) -> None:
        word = query.get("q", "").casefold()
        offset, limit = int(query.get("offset", 0)), min(50, int(query.get("limit", 10)))
        hits = [p for p in self.cat.playlists.values() if word in p["name"].casefold().split()]
        page = [
            {
                "id": p["id"],
                "name": p["name"],
                "type": "playlist",
                "uri": f"spotify:playlist:{p['id']}",
                "tracks": {"href": f"{self.base}/v1/playlists/{p['id']}/tracks", "total": len(p["items"])},
                "owner": {"id": "yes.com", "display_name": "Yes.com"},
            }
            for p in hits[offset : offset + limit]
        ]
        if offset == 0 and page:
            page.insert(1, None)  # Spotify's search really returns null entries
        body = {
            "playlists": self._paging(
                "/v1/search", page, query, len(hits), offset, limit, {"q": query.get("q", ""), "type": "playlist"}
            )
        }
        self._send(h, 200, body)

    def _items(self, h: BaseHTTPRequestHandler, pid: str, query: dict) -> None:
        playlist = self.cat.playlists.get(pid)
        if playlist is None:
            self._send(h, 404, {"error": {"status": 404, "message": "Resource not found"}})
            return
        offset, limit = int(query.get("offset", 0)), min(100, int(query.get("limit", 100)))
        items = [
            {"added_at": "2012-01-01T00:00:00Z", "is_local": False, "track": self._absolute(t)}
            for t in playlist["items"][offset : offset + limit]
        ]
        self._send(
            h, 200, self._paging(f"/v1/playlists/{pid}/items", items, query, len(playlist["items"]), offset, limit, {})
        )


def main() -> None:
    """Serve the fake for another process: writes its base URL to argv[1], then serves until killed."""
    from data.settings import Settings

    delay = float(sys.argv[2]) if len(sys.argv) > 2 else 0.0
    fake = FakeSpotify(Catalogue(Settings.from_env(dotenv=False).data_dir / "yes_big"), delay=delay).start()
    Path(sys.argv[1]).write_text(fake.base)
    threading.Event().wait()


if __name__ == "__main__":
    main()

"""The catalogue the fake MusicBrainz and ListenBrainz serve: real Yes.com songs (titles and artists from
`yes_big/song_hash.txt`) and real Yes.com playlists (`train.txt`, in their play order), with identifiers the fakes
make up deterministically — an MBID per song and per artist (uuid5 of the Yes.com id / artist name) and an ISRC per
song in the valid form (`QZ` + `YES` + `12` + the song id). The song names are never invented; only the ids are.
A shared clock lets a test move time for a client and a fake together, so rate limits are tested without sleeping.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self
from urllib.parse import parse_qs, urlparse

from data.importers.yes import artist_key

NAMESPACE = uuid.UUID("6f1c3a52-8f4e-4c55-9a8e-0d3c2b7e9a11")


def song_mbid(song_id: int) -> str:
    return str(uuid.uuid5(NAMESPACE, f"yes-song:{song_id}"))


def artist_mbid(name: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"yes-artist:{artist_key(name)}"))


def playlist_mbid(line: int) -> str:
    return str(uuid.uuid5(NAMESPACE, f"yes-playlist:{line}"))


def song_isrc(song_id: int) -> str:
    """A well-formed ISRC (country QZ, registrant YES, year 12, designation = the song id)."""
    return f"QZYES12{song_id:05d}"


@dataclass(frozen=True)
class Song:
    id: int
    title: str
    artist: str

    @property
    def mbid(self) -> str:
        return song_mbid(self.id)

    @property
    def artist_mbid(self) -> str:
        return artist_mbid(self.artist)

    @property
    def isrc(self) -> str:
        return song_isrc(self.id)


@dataclass
class OpenCatalogue:
    """Songs by id and by MBID, and the first `n_playlists` Yes.com playlists of at least `min_len` songs."""

    songs: dict[int, Song] = field(default_factory=dict)
    by_mbid: dict[str, Song] = field(default_factory=dict)
    playlists: list[tuple[int, list[int]]] = field(default_factory=list)  # (train.txt line, song ids)

    @classmethod
    def load(cls, yes_dir: Path, n_playlists: int = 40, min_len: int = 5) -> OpenCatalogue:
        cat = cls()
        for line in (yes_dir / "song_hash.txt").read_text(encoding="utf-8").splitlines():
            parts = line.split("\t")
            if len(parts) < 3:
                continue
            song = Song(int(parts[0]), parts[1].replace("\\/", "/").strip(), parts[2].replace("\\/", "/").strip())
            cat.songs[song.id] = song
            cat.by_mbid[song.mbid] = song
        for n, line in enumerate((yes_dir / "train.txt").read_text().splitlines()[2:]):
            ids = [int(s) for s in line.split() if int(s) in cat.songs]
            if len(ids) >= min_len:
                cat.playlists.append((n, ids))
            if len(cat.playlists) >= n_playlists:
                break
        return cat

    def co_occurring(self, song_id: int, limit: int) -> list[tuple[int, int]]:
        """(song id, count) of the songs sharing playlists with `song_id`, most shared first: the fake's
        "similar recordings", from the real playlists."""
        counts: Counter[int] = Counter()
        for _, ids in self.playlists:
            if song_id in ids:
                counts.update(i for i in set(ids) if i != song_id)
        return counts.most_common(limit)

    def similar_artists(self, name: str, limit: int) -> list[tuple[str, int]]:
        """(artist, count) of artists sharing playlists with `name`, most shared first."""
        key = artist_key(name)
        counts: Counter[str] = Counter()
        for _, ids in self.playlists:
            names = {self.songs[i].artist for i in ids}
            if any(artist_key(a) == key for a in names):
                counts.update(a for a in names if artist_key(a) != key)
        return counts.most_common(limit)

    def artists_by_mbid(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for song in self.songs.values():
            out.setdefault(song.artist_mbid, song.artist)
        return out

    def songs_by_isrc(self) -> dict[str, list[Song]]:
        out: dict[str, list[Song]] = defaultdict(list)
        for song in self.songs.values():
            out[song.isrc].append(song)
        return out


class FakeClock:
    """Monotonic seconds a test moves: `sleep` advances it (what clients are given instead of time.sleep)."""

    def __init__(self, start: float = 1_000.0) -> None:
        self._now = start
        self._lock = threading.Lock()
        self.slept: list[float] = []

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.slept.append(seconds)
            self._now += max(0.0, seconds)

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds


class FakeJsonServer:
    """A threaded HTTP server on 127.0.0.1 whose GETs go to `handle(method, path, query, headers)` → (status, body,
    headers); it records every request line. The open-data fakes subclass it."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                url = urlparse(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
                with fake.lock:
                    fake.requests.append(f"GET {self.path}")
                status, body, headers = fake.handle(url.path, query, self.headers)
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                if not isinstance(body, bytes):
                    self.send_header("Content-Type", "application/json")
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def handle(self, path: str, query: dict[str, str], headers: Message) -> tuple[int, Any, dict[str, str]]:
        raise NotImplementedError

"""A strict local fake of the MusicBrainz web service (`/ws/2/`) on 127.0.0.1, serving the real Yes.com songs of
`tests.jobs.open_catalogue` in MusicBrainz's JSON shapes.

Rules it enforces, each from MusicBrainz's documentation:
- User-Agent: "Each application making requests to our web service must identify itself using the User-Agent string
  in the HTTP request header. If your application provides no User-Agent string, we will reject the request with a
  403 Forbidden error. We have also blocked very common User-Agent strings from generic HTTP request libraries"
  (wiki.musicbrainz.org, MusicBrainz_API/Rate_Limiting, revision 50491). The current page
  (musicbrainz.org/doc/MusicBrainz_API/Rate_Limiting) asks for a meaningful User-Agent and throttles "anonymous"
  ones. So a missing or blank User-Agent, or a generic library's (python-requests/…, Python-urllib/…, curl/…), gets
  403 here.
- Rate: "Source IP address … we allow through (on average) 1 request per second, and decline (http 503) the rest";
  "If the answer to any one of those questions is 'yes', then the request is denied with a 503 Service Unavailable
  error" (same page). The fake is stricter than "on average": a request less than 1 s (on the injected clock) after
  the last one it honoured is answered 503; declined requests do not count as honoured.
- JSON only with `fmt=json` (MusicBrainz_API: "fmt=json" selects JSON, XML is the default): without it the fake
  answers an XML document, as the real service would, which a JSON client cannot read.
- Shapes (MusicBrainz_API, Search and Lookups): search `GET /ws/2/recording?query=…&limit=…` → `{"created", "count",
  "offset", "recordings": [{"id", "score", "title", "length", "artist-credit": [{"name", "joinphrase",
  "artist": {"id", "name", "sort-name"}}], "isrcs": […]}]}`; `GET /ws/2/isrc/{isrc}` → `{"isrc", "recordings": […]}`;
  `GET /ws/2/recording/{mbid}?inc=artist-credits+isrcs` → the recording, with "artist-credit" / "isrcs" only when
  `inc` asks for them. A malformed MBID or ISRC → 400, an unknown one → 404 `{"error": "Not Found"}`.
- Search: Lucene syntax, the fields `recording:` and `artist:` with quoted phrases (backslash escapes), else free
  words over title and artist; the score is a 0–100 relevance, best first.
"""

from __future__ import annotations

import re
from email.message import Message
from typing import Any

from data.search import normalize
from tests.jobs.open_catalogue import FakeClock, FakeJsonServer, OpenCatalogue, Song

GENERIC_AGENTS = ("python-requests/", "python-urllib/", "curl/", "wget/", "java/", "go-http-client/")
RATE_MESSAGE = (
    "Your requests are exceeding the allowable rate limit. Please see http://wiki.musicbrainz.org/XMLWebService for "
    "more information."
)
_MBID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_ISRC = re.compile(r"^[A-Z]{2}[A-Z0-9]{3}[0-9]{7}$")
_FIELD = re.compile(r'(recording|artist):"((?:[^"\\]|\\.)*)"')


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def _words(text: str) -> set[str]:
    return set(normalize(text).split())


class FakeMusicBrainz(FakeJsonServer):
    def __init__(self, catalogue: OpenCatalogue, clock: FakeClock, min_interval: float = 1.0) -> None:
        super().__init__()
        self.cat = catalogue
        self.clock = clock
        self.min_interval = min_interval
        self.by_isrc = catalogue.songs_by_isrc()
        self._last_honoured: float | None = None
        self.refused_agents: list[str] = []
        #: while set, every request is answered with this status (an outage: MusicBrainz answers 503 when it is
        #: overloaded or down, the same answer as to a client over the rate limit)
        self.outage: int | None = None
        self.rate_limited = 0
        self.honoured = 0

    def env(self) -> dict[str, str]:
        return {"MUSICBRAINZ_URL": self.base, "MUREC_CONTACT": "ops@murecom.test"}

    # --- rules ---------------------------------------------------------------------------------------------------
    def _agent_refused(self, headers: Message) -> bool:
        agent = (headers.get("User-Agent") or "").strip()
        if not agent or agent.lower().startswith(GENERIC_AGENTS):
            self.refused_agents.append(agent)
            return True
        return False

    def _over_rate(self) -> bool:
        now = self.clock()
        with self.lock:
            if self._last_honoured is not None and now - self._last_honoured < self.min_interval:
                self.rate_limited += 1
                return True
            self._last_honoured = now
            self.honoured += 1
            return False

    def handle(self, path: str, query: dict[str, str], headers: Message) -> tuple[int, Any, dict[str, str]]:
        if self._agent_refused(headers):
            return 403, {"error": "User-Agent required: identify your application and a contact"}, {}
        if self.outage is not None:
            return self.outage, {"error": "Service unavailable"}, {}
        if self._over_rate():
            return 503, {"error": RATE_MESSAGE}, {}
        if query.get("fmt") != "json":
            return (
                200,
                b'<?xml version="1.0" encoding="UTF-8"?><metadata xmlns="http://musicbrainz.org/ns/mmd-2.0#"/>',
                {"Content-Type": "application/xml"},
            )
        parts = path.strip("/").split("/")
        if parts[:2] != ["ws", "2"]:
            return 404, {"error": "Not Found"}, {}
        inc = set(query.get("inc", "").split("+")) - {""}
        if parts[2:] == ["recording"]:
            return self._search(query)
        if len(parts) == 4 and parts[2] == "recording":
            return self._lookup(parts[3], inc)
        if len(parts) == 4 and parts[2] == "isrc":
            return self._isrc(parts[3], inc)
        return 404, {"error": "Not Found"}, {}

    # --- shapes --------------------------------------------------------------------------------------------------
    def recording_json(self, song: Song, inc: set[str], score: int | None = None) -> dict[str, Any]:
        item: dict[str, Any] = {"id": song.mbid, "title": song.title, "length": 180_000 + song.id, "video": False}
        if score is not None:
            item["score"] = score
        if score is not None or "artist-credits" in inc:
            item["artist-credit"] = [
                {
                    "name": song.artist,
                    "joinphrase": "",
                    "artist": {"id": song.artist_mbid, "name": song.artist, "sort-name": song.artist},
                }
            ]
        if score is not None or "isrcs" in inc:
            item["isrcs"] = [song.isrc]
        return item

    def _score(self, song: Song, title_words: set[str], artist_words: set[str], free: set[str]) -> int:
        def cover(wanted: set[str], have: set[str]) -> float:
            return len(wanted & have) / len(wanted) if wanted else 1.0

        title, artist = _words(song.title), _words(song.artist)
        if free:
            got = cover(free, title | artist)
            exact = 1.0 if free == title | artist else 0.9
            return int(round(100 * got * exact))
        if (title_words and not title_words & title) or (artist_words and not artist_words & artist):
            return 0
        exact_title = 1.0 if title_words == title else 0.85
        return int(round(100 * cover(title_words, title) * cover(artist_words, artist) * exact_title))

    def _search(self, query: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        q = query.get("query", "")
        if not q.strip():
            return 400, {"error": "You must provide a query"}, {}
        limit = max(1, min(100, int(query.get("limit", "25") or 25)))
        fields = {name: _words(_unescape(value)) for name, value in _FIELD.findall(q)}
        free = set() if fields else _words(_unescape(q).replace(" AND ", " "))
        scored = [
            (self._score(song, fields.get("recording", set()), fields.get("artist", set()), free), song)
            for song in self.cat.songs.values()
        ]
        hits = sorted(((s, song) for s, song in scored if s > 0), key=lambda x: (-x[0], x[1].id))
        body = {
            "created": "2026-12-04T00:00:00.000Z",
            "count": len(hits),
            "offset": 0,
            "recordings": [self.recording_json(song, set(), score) for score, song in hits[:limit]],
        }
        return 200, body, {}

    def _lookup(self, mbid: str, inc: set[str]) -> tuple[int, Any, dict[str, str]]:
        if not _MBID.match(mbid):
            return 400, {"error": "Invalid mbid."}, {}
        song = self.cat.by_mbid.get(mbid)
        if song is None:
            return (
                404,
                {"error": "Not Found", "help": "For usage, please see: https://musicbrainz.org/development/mmd"},
                {},
            )
        return 200, self.recording_json(song, inc), {}

    def _isrc(self, isrc: str, inc: set[str]) -> tuple[int, Any, dict[str, str]]:
        if not _ISRC.match(isrc):
            return 400, {"error": "Invalid isrc."}, {}
        songs = self.by_isrc.get(isrc)
        if not songs:
            return 404, {"error": "Not Found"}, {}
        return 200, {"isrc": isrc, "recordings": [self.recording_json(s, inc) for s in songs]}, {}

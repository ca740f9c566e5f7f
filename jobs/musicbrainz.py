"""MusicBrainz web service client (https://musicbrainz.org/doc/MusicBrainz_API): recordings by search, ISRC or MBID,
as `data.recordings.Recording`s with their MBIDs, ISRCs and artist credits.

The rules it keeps are MusicBrainz's own (https://musicbrainz.org/doc/MusicBrainz_API/Rate_Limiting):
- at most one request per second on average per IP, over it the answer is 503: every client of the process books
  its requests in one shared schedule (`SlotBooker`) at least `min_interval` (1 s) apart on its clock, so the process
  never goes over; a 503 anyway (another process on the same IP, a busy server) is retried after Retry-After or a
  doubling backoff, within `wait_budget` seconds;
- a meaningful User-Agent naming the application, its version and a contact: "murecom/<version> ( <MUREC_CONTACT> )"
  (`jobs.open_data.user_agent`; the client refuses to start without a contact rather than go anonymous);
- `fmt=json` for JSON (XML is the default).
A timeout is `OpenDataTimeout`, not a hang and not a None.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from typing import Any

import requests

from data.recordings import ArtistCredit, Recording
from data.settings import Settings
from jobs.open_data import Clock, HttpCaller, OpenDataRefused, Sleep, user_agent

#: MusicBrainz: "never make more than ONE call per second" (on average, per IP). Requests are booked 1.1 s apart:
#: MusicBrainz counts arrivals, and network and thread jitter can bring two booked a second apart closer than that.
MIN_INTERVAL = 1.1
_LUCENE_SPECIAL = re.compile(r'([+\-&|!(){}\[\]^"~*?:\\/])')
_ISRC = re.compile(r"^[A-Z]{2}[A-Z0-9]{3}[0-9]{7}$")
_MBID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


@dataclass(frozen=True)
class ScoredRecording:
    """A search hit: the recording and MusicBrainz's relevance score (0–100)."""

    recording: Recording
    score: int


def lucene_phrase(text: str) -> str:
    """`text` as a quoted Lucene phrase, so quotes, `AND`, `:` or `*` in a title are words, not query syntax."""
    return '"' + _LUCENE_SPECIAL.sub(r"\\\1", " ".join(text.split())) + '"'


def recording_from_json(item: dict[str, Any]) -> Recording:
    """A MusicBrainz recording JSON object (search hit or lookup) as a Recording."""
    credits = tuple(
        ArtistCredit(
            name=str(c.get("name") or (c.get("artist") or {}).get("name") or ""), mbid=(c.get("artist") or {}).get("id")
        )
        for c in item.get("artist-credit") or []
        if isinstance(c, dict)
    )
    length = item.get("length")
    return Recording(
        title=str(item.get("title") or ""),
        artists=credits,
        mbid=item.get("id"),
        isrcs=tuple(str(i) for i in item.get("isrcs") or ()),
        length_ms=int(length) if isinstance(length, int | float) else None,
    )


class SlotBooker:
    """One request per `interval` seconds of `clock`, shared by every client that holds it (thread-safe): the limit
    is per IP, so all clients of a process book their slots here, not each its own."""

    def __init__(self, clock: Clock, interval: float) -> None:
        self.clock, self.interval = clock, interval
        self._next_free: float | None = None
        self._lock = threading.Lock()

    def book(self) -> float:
        """Book the next free slot; the seconds to wait for it (the first request goes at once)."""
        with self._lock:
            now = self.clock()
            slot = now if self._next_free is None else max(now, self._next_free)
            self._next_free = slot + self.interval
            return slot - now


_BOOKERS: dict[tuple[str, int, float], SlotBooker] = {}
_BOOKERS_LOCK = threading.Lock()


def shared_booker(base_url: str, clock: Clock, interval: float) -> SlotBooker:
    """The process's booker for this service and clock (tests' fake clocks get their own)."""
    key = (base_url, id(clock), interval)
    with _BOOKERS_LOCK:
        if key not in _BOOKERS:
            _BOOKERS[key] = SlotBooker(clock, interval)
        return _BOOKERS[key]


class _MusicBrainzHttp(HttpCaller):
    """HttpCaller paced by a SlotBooker (one request per second); 503 is the rate-limit answer."""

    def __init__(self, settings: Settings, booker: SlotBooker, **kwargs: Any) -> None:
        super().__init__(
            "MusicBrainz",
            {"User-Agent": user_agent(settings), "Accept": "application/json"},
            retry_statuses=(503,),
            **kwargs,
        )
        self.booker = booker

    def before_request(self) -> float:
        return self.booker.book()


class MusicBrainzClient:
    """Recordings from MusicBrainz's web service, one request per second at most."""

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
        timeout: float = 10.0,
        min_interval: float = MIN_INTERVAL,
        wait_budget: float | None = None,
        session: requests.Session | None = None,
    ) -> None:
        self.base = settings.musicbrainz_url.rstrip("/") + "/ws/2"
        self.http = _MusicBrainzHttp(
            settings,
            shared_booker(self.base, clock, min_interval),
            wait_budget=settings.open_data_wait_budget if wait_budget is None else wait_budget,
            timeout=timeout,
            clock=clock,
            sleep=sleep,
            session=session,
        )

    @property
    def waits(self) -> list[float]:
        return self.http.waits.seconds

    def _get(self, path: str, **params: Any) -> Any | None:
        return self.http.get_json(f"{self.base}/{path}", {**params, "fmt": "json"})

    def search(self, query: str, limit: int = 10) -> list[ScoredRecording]:
        """Recordings for a Lucene query, best first (MusicBrainz's order and score)."""
        body = self._get("recording", query=query, limit=max(1, min(100, limit))) or {}
        return [
            ScoredRecording(recording_from_json(item), int(item.get("score") or 0))
            for item in body.get("recordings") or []
            if isinstance(item, dict)
        ]

    def search_text(self, text: str, limit: int = 10) -> list[ScoredRecording]:
        """Free text as a person types it ("hotel california eagles"), searched as plain words."""
        words = _LUCENE_SPECIAL.sub(r"\\\1", " ".join(text.split()))
        return self.search(words, limit) if words else []

    def search_title_artist(self, title: str, artist: str = "", limit: int = 10) -> list[ScoredRecording]:
        """A title and (optionally) an artist, each as a phrase in its own field (`recording:` / `artist:`)."""
        query = f"recording:{lucene_phrase(title)}"
        if artist.strip():
            query += f" AND artist:{lucene_phrase(artist)}"
        return self.search(query, limit)

    def by_isrc(self, isrc: str) -> list[Recording]:
        """The recordings carrying this ISRC (often one; several for re-releases). An ISRC that is not well-formed
        is answered without a request (MusicBrainz would answer 400)."""
        code = isrc.strip().upper().replace("-", "")
        if not _ISRC.match(code):
            return []
        body = self._get(f"isrc/{code}", inc="artist-credits+isrcs") or {}
        return [recording_from_json(r) for r in body.get("recordings") or [] if isinstance(r, dict)]

    def by_mbid(self, mbid: str) -> Recording | None:
        """The recording with this MusicBrainz id; None when MusicBrainz has none (404) or the id is malformed."""
        mbid = mbid.strip().lower()
        if not _MBID.match(mbid):
            return None
        try:
            body = self._get(f"recording/{mbid}", inc="artist-credits+isrcs")
        except OpenDataRefused as exc:
            if exc.status == 400:
                return None
            raise
        return recording_from_json(body) if isinstance(body, dict) else None

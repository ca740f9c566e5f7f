"""Snowball crawl of Spotify playlists: search by words, fetch each playlist's tracks, learn new words from names.

Resumable by construction: each unit of work (one search page, one page of one playlist's items) runs in a single
transaction that stores its rows *and* advances its cursor in `crawl_words` / `crawl_playlists`. A crawler killed
at any instant leaves either the whole unit or none of it, and the next run continues from the cursors; rows are
keyed by Spotify ids and inserted with ON CONFLICT DO NOTHING, so a unit redone after a crash adds nothing twice.
Playlist pages are fetched by a small thread pool (bounded concurrency); searches run one at a time.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from sqlalchemy import Engine, select, update
from sqlalchemy.exc import OperationalError

from data.crawl import DONE, GONE, PENDING, CrawlPlaylist, CrawlWord
from data.importers.common import (
    ensure_albums,
    ensure_artists,
    ensure_keyed,
    ensure_tracks,
    insert_rows,
    link_track_artists,
)
from data.models import Playlist, PlaylistTrack, Tag
from jobs.spotify import SpotifyClient, SpotifyUnavailable

log = logging.getLogger(__name__)
SOURCE = "spotify"
SEARCH_PAGE = 50
SEARCH_OFFSET_LIMIT = 1000  # Spotify's search does not page beyond offset 1000
MAX_SEARCH_PAGES_PER_WORD = 4
DEFAULT_SEEDS = ("rock", "chill", "party", "indie", "jazz", "workout", "country", "hip hop")
STOPWORDS = frozenset(
    {
        "the",
        "and",
        "for",
        "with",
        "from",
        "this",
        "that",
        "your",
        "you",
        "are",
        "our",
        "best",
        "songs",
        "song",
        "music",
        "playlist",
        "playlists",
        "mix",
        "vol",
        "new",
        "top",
        "hits",
        "les",
        "des",
        "une",
        "pour",
        "con",
        "por",
        "para",
        "del",
        "los",
        "las",
        "der",
        "die",
        "das",
        "und",
        "mit",
    }
)
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)


def words_of(name: str, limit: int = 5) -> list[str]:
    """Search words from a playlist name, in any script: letters only, case-folded, no stopwords.

    Latin-like words need 3+ letters; a word in a script without spaces (CJK, kana, Thai) is kept from 2 letters.
    """
    out: list[str] = []
    for token in _WORD.findall(unicodedata.normalize("NFKC", name).casefold()):
        wide = any(ord(ch) >= 0x2E80 for ch in token)
        if (len(token) >= 3 or (wide and len(token) >= 2)) and token not in STOPWORDS and token not in out:
            out.append(token[:100])
        if len(out) >= limit:
            break
    return out


@dataclass
class CrawlReport:
    searches: int = 0
    playlists_found: int = 0
    playlist_pages: int = 0
    playlists_completed: int = 0
    entries_stored: int = 0
    unavailable: int = 0
    words_added: int = 0
    errors: list[str] = field(default_factory=list)


class Crawler:
    def __init__(self, engine: Engine, client: SpotifyClient, *, concurrency: int = 4, page_size: int = 100) -> None:
        self.engine = engine
        self.client = client
        self.concurrency = max(1, concurrency)
        self.page_size = page_size

    # --- queue -------------------------------------------------------------------------------------------------
    def seed(self, words: list[str] | None = None) -> int:
        """Queue seed words; by default the corpus's Last.fm tag names, else a few genre words."""
        if words is None:
            with self.engine.connect() as conn:
                words = list(conn.scalars(select(Tag.name).order_by(Tag.id).limit(50)))
            words = words or list(DEFAULT_SEEDS)
        rows = [{"word": w, "status": PENDING, "next_offset": 0} for w in dict.fromkeys(words) if w]
        with self.engine.begin() as conn:
            insert_rows(conn, CrawlWord, rows)
        return len(rows)

    def _pending_playlists(self, n: int) -> list[tuple[str, str, int]]:
        with self.engine.connect() as conn:
            return [
                (str(r[0]), str(r[1]), int(r[2]))
                for r in conn.execute(
                    select(CrawlPlaylist.spotify_id, CrawlPlaylist.name, CrawlPlaylist.next_offset)
                    .where(CrawlPlaylist.status == PENDING)
                    .order_by(CrawlPlaylist.added_at, CrawlPlaylist.spotify_id)
                    .limit(n)
                )
            ]

    def _pending_word(self) -> tuple[str, int] | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(CrawlWord.word, CrawlWord.next_offset)
                .where(CrawlWord.status == PENDING)
                .order_by(CrawlWord.added_at, CrawlWord.word)
                .limit(1)
            ).first()
        return (str(row[0]), int(row[1])) if row else None

    # --- the loop ----------------------------------------------------------------------------------------------
    def run(self, max_searches: int = 5, max_pages: int = 100) -> CrawlReport:
        """Crawl until the budgets are spent or nothing is left to do."""
        report = CrawlReport()
        with self.engine.connect() as conn:
            empty = conn.scalar(select(CrawlWord.word).limit(1)) is None
        if empty:
            report.words_added += self.seed()
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="crawl") as pool:
            while True:
                budget = max_pages - report.playlist_pages
                batch = self._pending_playlists(min(self.concurrency, budget)) if budget > 0 else []
                if batch:
                    for done in pool.map(lambda p: self._fetch_page(*p), batch):
                        self._count_page(report, done)
                    continue
                word = self._pending_word() if report.searches < max_searches else None
                if word is None:
                    break
                self._search(*word, report)
        log.info("crawl: %s", report)
        return report

    def _count_page(self, report: CrawlReport, done: tuple[str, int, bool]) -> None:
        status, stored, completed = done
        if status == GONE:
            report.unavailable += 1
        else:
            report.playlist_pages += 1
            report.entries_stored += stored
            report.playlists_completed += completed

    def _search(self, word: str, offset: int, report: CrawlReport) -> None:
        report.searches += 1
        try:
            page = self.client.search_playlists(word, offset, SEARCH_PAGE)
        except SpotifyUnavailable as exc:
            log.warning("search for %r unavailable: %s", word, exc)
            with self.engine.begin() as conn:
                conn.execute(update(CrawlWord).where(CrawlWord.word == word).values(status=GONE))
            return
        paging = page.get("playlists") or {}
        items = [p for p in paging.get("items") or [] if isinstance(p, dict) and p.get("id")]
        next_offset = offset + SEARCH_PAGE
        finished = (
            not paging.get("next")
            or next_offset >= SEARCH_OFFSET_LIMIT
            or next_offset >= SEARCH_PAGE * MAX_SEARCH_PAGES_PER_WORD
        )
        new_words = [w for p in items for w in words_of(str(p.get("name") or ""))]
        with self.engine.begin() as conn:
            known = set(
                conn.scalars(
                    select(CrawlPlaylist.spotify_id).where(CrawlPlaylist.spotify_id.in_([p["id"] for p in items]))
                )
            )
            fresh = [p for p in items if p["id"] not in known]
            insert_rows(
                conn,
                CrawlPlaylist,
                [
                    {"spotify_id": p["id"], "name": str(p.get("name") or "")[:500], "status": PENDING, "next_offset": 0}
                    for p in {p["id"]: p for p in fresh}.values()
                ],
            )
            before = set(conn.scalars(select(CrawlWord.word).where(CrawlWord.word.in_(new_words))))
            insert_rows(conn, CrawlWord, [{"word": w, "status": PENDING, "next_offset": 0} for w in set(new_words)])
            conn.execute(
                update(CrawlWord)
                .where(CrawlWord.word == word)
                .values(next_offset=next_offset, status=DONE if finished else PENDING)
            )
        report.playlists_found += len({p["id"] for p in fresh})
        report.words_added += len(set(new_words) - before)

    def _fetch_page(self, playlist_id: str, name: str, offset: int) -> tuple[str, int, bool]:
        """Fetch and store one page of a playlist's items, advancing its cursor in the same transaction."""
        try:
            page = self.client.playlist_items(playlist_id, offset, self.page_size)
        except SpotifyUnavailable as exc:
            log.warning("playlist %s unavailable: %s", playlist_id, exc)
            with self.engine.begin() as conn:
                conn.execute(update(CrawlPlaylist).where(CrawlPlaylist.spotify_id == playlist_id).values(status=GONE))
            return GONE, 0, False
        items = page.get("items") or []
        entries: list[tuple[int, dict]] = []
        for i, item in enumerate(items):
            track = (item or {}).get("track")
            if isinstance(track, dict) and track.get("id") and track.get("type", "track") == "track":
                entries.append((offset + i, track))
        completed = not page.get("next")
        attempt = 0
        while True:
            attempt += 1
            try:
                with self.engine.begin() as conn:
                    stored = self._store_entries(conn, playlist_id, name, entries)
                    conn.execute(
                        update(CrawlPlaylist)
                        .where(CrawlPlaylist.spotify_id == playlist_id)
                        .values(
                            next_offset=offset + len(items),
                            total=page.get("total"),
                            status=DONE if completed or not items else PENDING,
                        )
                    )
                return PENDING, stored, completed
            except OperationalError as exc:
                # two workers storing the same new artist at once can still collide on PostgreSQL; the
                # transaction was rolled back whole, so doing it again is safe
                if attempt == 3 or "deadlock" not in str(exc).lower():
                    raise
                log.warning("deadlock storing playlist %s page %d; retrying", playlist_id, offset)

    def _store_entries(self, conn, playlist_id: str, name: str, entries: list[tuple[int, dict]]) -> int:
        albums = {
            t["album"]["id"]: {"name": str(t["album"].get("name") or "")[:500], "spotify_id": t["album"]["id"]}
            for _, t in entries
            if isinstance(t.get("album"), dict) and t["album"].get("id")
        }
        album_ids = ensure_albums(conn, SOURCE, albums)
        artists = {
            a["id"]: {"name": str(a.get("name") or "unknown")[:500], "spotify_id": a["id"]}
            for _, t in entries
            for a in t.get("artists") or []
            if isinstance(a, dict) and a.get("id")
        }
        artist_ids = ensure_artists(conn, SOURCE, artists)
        tracks = {}
        for _, t in entries:
            album: dict = t["album"] if isinstance(t.get("album"), dict) else {}
            tracks[t["id"]] = {
                "title": str(t.get("name") or "untitled")[:500],
                "spotify_id": t["id"],
                "duration_ms": t.get("duration_ms"),
                "popularity": int(t.get("popularity") or 0),
                "preview_url": t.get("preview_url"),
                "album_id": album_ids.get(str(album.get("id"))),
            }
        track_ids = ensure_tracks(conn, SOURCE, tracks)
        link_track_artists(
            conn,
            (
                (track_ids[t["id"]], artist_ids[a["id"]], pos)
                for _, t in entries
                for pos, a in enumerate(t.get("artists") or [])
                if isinstance(a, dict) and a.get("id") in artist_ids
            ),
        )
        pid = ensure_keyed(conn, Playlist, SOURCE, {playlist_id: {"name": name[:500]}})[playlist_id]
        insert_rows(
            conn,
            PlaylistTrack,
            [{"playlist_id": pid, "position": pos, "track_id": track_ids[t["id"]]} for pos, t in entries],
            size=2000,
        )
        return len(entries)

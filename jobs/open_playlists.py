"""The `listenbrainz` job's work: public ListenBrainz playlists (of configured users and/or a playlist search) stored
as corpus playlists of source "listenbrainz", keyed by their playlist MBID. Only public ones: with
LISTENBRAINZ_TOKEN set, ListenBrainz lists the token owner's private playlists too, and those are skipped.

Resumable like the importers: where each listing (`user:<name>`, `search:<query>`) got to is kept in `kv_state`
under `listenbrainz:cursor`, written after every stored playlist, so a run that is stopped (or that reaches its
`max_playlists` budget) continues where it left off; once a listing has been read to its end its cursor goes back to
0, and the next run walks it again fetching only playlists not stored yet (new ones). Each playlist is stored whole
or not at all (`data.importers.open_recordings`). The client honours ListenBrainz's rate-limit headers.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import Engine

from data.importers.open_recordings import playlist_exists, store_open_playlist
from data.kv import read_state, write_state
from jobs.listenbrainz import ListenBrainzClient, PlaylistRef

log = logging.getLogger(__name__)
SOURCE = "listenbrainz"
CURSOR_KEY = "listenbrainz:cursor"
PAGE = 25


@dataclass
class ListenBrainzReport:
    pages: int = 0
    playlists_new: int = 0
    playlists_known: int = 0
    playlists_gone: int = 0
    playlists_private: int = 0
    tracks_new: int = 0
    tracks_matched: int = 0


def listings(users: tuple[str, ...], query: str) -> list[str]:
    """The listings a run walks, as cursor names: each user's public playlists, then the search."""
    return [f"user:{u}" for u in users] + ([f"search:{query}"] if query else [])


def _page(client: ListenBrainzClient, listing: str, offset: int) -> tuple[list[PlaylistRef], int]:
    kind, _, name = listing.partition(":")
    if kind == "user":
        return client.user_playlists(name, offset=offset, count=PAGE)
    return client.search_playlists(name, offset=offset, count=PAGE)


def _save_cursor(engine: Engine, cursor: dict[str, int]) -> None:
    with engine.begin() as conn:
        write_state(conn, CURSOR_KEY, dict(cursor))


def fetch_playlists(
    engine: Engine, client: ListenBrainzClient, users: tuple[str, ...], query: str, *, max_playlists: int = 50
) -> ListenBrainzReport:
    """Store up to `max_playlists` playlists not stored yet from the listings, continuing from the saved cursor."""
    report = ListenBrainzReport()
    cursor: dict[str, int] = {k: int(v) for k, v in (read_state(engine, CURSOR_KEY) or {}).items()}
    fetched = 0
    for listing in listings(users, query):
        offset = cursor.get(listing, 0)
        while fetched < max_playlists:
            refs, total = _page(client, listing, offset)
            report.pages += 1
            for ref in refs:
                if fetched >= max_playlists:
                    break
                offset += 1
                if not ref.public:  # listed because of the token: a user's private playlist is not ours to keep
                    report.playlists_private += 1
                    continue
                with engine.connect() as conn:
                    known = playlist_exists(conn, SOURCE, ref.mbid)
                if known:
                    report.playlists_known += 1
                    continue
                fetched += 1
                _store(engine, client, ref, report)
                cursor[listing] = offset
                _save_cursor(engine, cursor)
            if not refs or offset >= total:
                cursor[listing] = 0  # read to the end: the next run walks it again for new playlists
                _save_cursor(engine, cursor)
                break
            cursor[listing] = offset
            _save_cursor(engine, cursor)
    log.info("listenbrainz: %s", report)
    return report


def _store(engine: Engine, client: ListenBrainzClient, ref: PlaylistRef, report: ListenBrainzReport) -> None:
    playlist = client.playlist(ref.mbid)
    if playlist is None or not playlist.recordings:
        report.playlists_gone += 1
        return
    stored = store_open_playlist(engine, SOURCE, ref.mbid, playlist.title or ref.title, playlist.recordings)
    report.playlists_new += stored.playlists_new
    report.tracks_new += stored.tracks_new
    report.tracks_matched += sum(n for how, n in stored.matched.items() if how != "new")

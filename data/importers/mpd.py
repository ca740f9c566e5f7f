"""Importer of Spotify Million Playlist Dataset slices (`mpd.slice.*.json`), for users who have the MPD.

Each slice holds 1,000 playlists (`playlists[].tracks[]` with `track_uri`, `track_name`, `artist_name`,
`artist_uri`, `album_name`, `album_uri`, `pos`, `duration_ms`). Slices are read one at a time and written in
batches, so memory is bounded by one slice whatever the number of files. Tracks, artists and albums use source
"spotify" keyed by their Spotify ids (shared with the Spotify crawler, so the same track is stored once);
playlists use source "mpd" keyed by `pid`. On PostgreSQL the rows of a batch are streamed with COPY into
temporary tables and inserted from there (`_store_batch_copy`), the same rows as the portable path. A slice whose
playlists are all stored is recorded complete in
`kv_state` (`import:mpd:<file name>`, with its playlist count and file size), so re-running an interrupted import
of a folder skips finished slices without parsing them and resumes the slice it stopped in (stored playlists are
skipped).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, func, select

from data.importers.common import (
    chunks,
    ensure_albums,
    ensure_artists,
    ensure_tracks,
    link_track_artists,
    store_playlists,
)
from data.kv import read_state, write_state
from data.models import Album, Artist, Playlist, PlaylistTrack, Track, TrackArtist
from data.progress import progress

log = logging.getLogger(__name__)
TRACK_SOURCE = "spotify"
PLAYLIST_SOURCE = "mpd"


@dataclass
class MpdReport:
    files: int = 0
    files_skipped: int = 0  # recorded complete by an earlier run
    playlists_seen: int = 0
    playlists_new: int = 0
    tracks_seen: int = 0
    skipped_entries: int = 0


def spotify_id(uri: str | None) -> str | None:
    """`spotify:track:ID` → `ID` (also accepts a bare id)."""
    if not uri:
        return None
    return uri.rsplit(":", 1)[-1] or None


def _store_batch(engine: Engine, playlists: list[dict], report: MpdReport) -> None:
    tracks: dict[str, dict] = {}
    artists: dict[str, dict] = {}
    albums: dict[str, dict] = {}
    track_artist: dict[str, str] = {}
    track_album: dict[str, str] = {}
    ordered: list[tuple[str, str, list[str]]] = []
    for pl in playlists:
        keys: list[str] = []
        for entry in sorted(pl.get("tracks") or [], key=lambda t: t.get("pos", 0)):
            tid = spotify_id(entry.get("track_uri"))
            if tid is None or not entry.get("track_name"):
                report.skipped_entries += 1
                continue
            tracks.setdefault(
                tid,
                {"title": str(entry["track_name"])[:500], "spotify_id": tid, "duration_ms": entry.get("duration_ms")},
            )
            aid = spotify_id(entry.get("artist_uri")) or f"name:{str(entry.get('artist_name', '')).casefold()}"
            artists.setdefault(
                aid,
                {
                    "name": str(entry.get("artist_name") or "unknown")[:500],
                    "spotify_id": aid if ":" not in aid else None,
                },
            )
            track_artist[tid] = aid
            alb = spotify_id(entry.get("album_uri"))
            if alb:
                albums.setdefault(alb, {"name": str(entry.get("album_name") or "")[:500], "spotify_id": alb})
                track_album[tid] = alb
            keys.append(tid)
        report.tracks_seen += len(keys)
        ordered.append((str(pl.get("pid")), str(pl.get("name") or ""), keys))
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            report.playlists_new += _store_batch_copy(conn, tracks, artists, albums, track_artist, track_album, ordered)
            return
        album_ids = ensure_albums(conn, TRACK_SOURCE, albums)
        for tid, alb in track_album.items():
            tracks[tid]["album_id"] = album_ids.get(alb)
        track_ids = ensure_tracks(conn, TRACK_SOURCE, tracks)
        artist_ids = ensure_artists(conn, TRACK_SOURCE, artists)
        link_track_artists(conn, ((track_ids[t], artist_ids[a], 0) for t, a in track_artist.items()))
        report.playlists_new += store_playlists(
            conn, PLAYLIST_SOURCE, [(pid, name, [track_ids[k] for k in keys]) for pid, name, keys in ordered]
        )


#: Per table: the columns a new row gets from the slice, and the SQL values of the columns whose defaults are
#: Python-side in `data.models` (INSERT … SELECT does not run them).
_COPY_COLUMNS: dict[str, tuple[tuple[str, ...], dict[str, str]]] = {
    Album.__tablename__: (("name", "spotify_id"), {}),
    Artist.__tablename__: (("name", "spotify_id"), {}),
    Track.__tablename__: (("title", "spotify_id", "duration_ms", "album_id"), {"popularity": "0", "added_at": "now()"}),
    Playlist.__tablename__: (("name",), {"added_at": "now()"}),
}


def _copy_keyed(cur: Any, table: str, source: str, rows: Mapping[str, Mapping[str, Any]]) -> tuple[dict[str, int], set]:
    """Get-or-create (source, key) rows of `table` through COPY: the batch is streamed into a temporary table, the
    missing rows are inserted from it in one INSERT … SELECT … ON CONFLICT DO NOTHING (sorted, as `ensure_keyed`
    does, so concurrent importers lock in the same order), and the ids come back by one join. Returns (key → id,
    the keys that existed before)."""
    cols, defaults = _COPY_COLUMNS[table]
    tmp = f"_mpd_{table}"
    col_list = ", ".join(cols)
    cur.execute(f"CREATE TEMP TABLE {tmp} ON COMMIT DROP AS SELECT source_key, {col_list} FROM {table} WITH NO DATA")
    with cur.copy(f"COPY {tmp} (source_key, {col_list}) FROM STDIN") as copy:
        for key, row in rows.items():
            copy.write_row((key, *(row.get(c) for c in cols)))
    join = f"FROM {tmp} t JOIN {table} x ON x.source = %s AND x.source_key = t.source_key"
    cur.execute(f"SELECT t.source_key {join}", (source,))
    existing = {r[0] for r in cur.fetchall()}
    targets = ", ".join([*cols, *defaults])
    values = ", ".join([*(f"t.{c}" for c in cols), *defaults.values()])
    cur.execute(
        f"INSERT INTO {table} (source, source_key, {targets}) SELECT %s, t.source_key, {values} FROM {tmp} t "
        "ORDER BY t.source_key ON CONFLICT DO NOTHING",
        (source,),
    )
    cur.execute(f"SELECT t.source_key, x.id {join}", (source,))
    ids = dict(cur.fetchall())
    cur.execute(f"DROP TABLE {tmp}")
    return ids, existing


def _copy_links(cur: Any, table: str, cols: tuple[str, str, str], rows: Iterable[tuple[int, int, int]]) -> None:
    """Rows of a link table (entries, track artists) through COPY into a temporary table, then inserted with
    ON CONFLICT DO NOTHING, so a row another importer stored first is left alone instead of failing the batch."""
    tmp = f"_mpd_{table}"
    col_list = ", ".join(cols)
    cur.execute(f"CREATE TEMP TABLE {tmp} ON COMMIT DROP AS SELECT {col_list} FROM {table} WITH NO DATA")
    with cur.copy(f"COPY {tmp} ({col_list}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
    cur.execute(f"INSERT INTO {table} ({col_list}) SELECT {col_list} FROM {tmp} ORDER BY 1, 2 ON CONFLICT DO NOTHING")
    cur.execute(f"DROP TABLE {tmp}")


def _store_batch_copy(
    conn: Connection,
    tracks: dict[str, dict],
    artists: dict[str, dict],
    albums: dict[str, dict],
    track_artist: dict[str, str],
    track_album: dict[str, str],
    ordered: list[tuple[str, str, list[str]]],
) -> int:
    """The PostgreSQL path of one batch, the same rows as the portable path but streamed with COPY (psycopg's
    `cursor.copy`): executemany of ~66 entries per playlist plus chunked IN look-ups made an MPD import on
    PostgreSQL 5× slower than on SQLite. Runs in the caller's transaction. Returns how many playlists were new."""
    raw: Any = conn.connection.driver_connection  # the psycopg connection of this very transaction
    cur = raw.cursor()
    try:
        album_ids, _ = _copy_keyed(cur, Album.__tablename__, TRACK_SOURCE, albums)
        for tid, alb in track_album.items():
            tracks[tid]["album_id"] = album_ids.get(alb)
        track_ids, _ = _copy_keyed(cur, Track.__tablename__, TRACK_SOURCE, tracks)
        artist_ids, _ = _copy_keyed(cur, Artist.__tablename__, TRACK_SOURCE, artists)
        _copy_links(
            cur,
            TrackArtist.__tablename__,
            ("track_id", "artist_id", "position"),
            ((track_ids[t], artist_ids[a], 0) for t, a in track_artist.items()),
        )
        keyed = {pid: {"name": name[:500]} for pid, name, _ in ordered}
        playlist_ids, existing = _copy_keyed(cur, Playlist.__tablename__, PLAYLIST_SOURCE, keyed)
        _copy_links(
            cur,
            PlaylistTrack.__tablename__,
            ("playlist_id", "position", "track_id"),
            (
                (playlist_ids[pid], pos, track_ids[k])
                for pid, _, keys in ordered
                if pid not in existing
                for pos, k in enumerate(keys)
            ),
        )
    finally:
        cur.close()
    return len({pid for pid, _, _ in ordered} - existing)


def _record_slice(engine: Engine, key: str, pids: set[str], size: int) -> None:
    """Record the slice complete when every one of its playlists is stored."""
    stored = 0
    with engine.connect() as conn:
        for chunk in chunks(sorted(pids)):
            where = (Playlist.source == PLAYLIST_SOURCE, Playlist.source_key.in_(chunk))
            stored += int(conn.scalar(select(func.count()).select_from(Playlist).where(*where)) or 0)
    if stored != len(pids):
        log.warning("%s: %d of %d playlists stored; not recorded complete", key, stored, len(pids))
        return
    with engine.begin() as conn:
        write_state(conn, key, {"complete": True, "counts": {"playlists": len(pids)}, "bytes": size})


def _import_slice(engine: Engine, path: Path, batch: int, report: MpdReport) -> None:
    """One slice file: skipped when recorded complete with the same size, else stored batch by batch."""
    key = f"import:mpd:{path.name}"
    record = read_state(engine, key) or {}
    if record.get("complete") and record.get("bytes") == path.stat().st_size:
        report.files_skipped += 1
        return
    with path.open(encoding="utf-8") as fh:
        doc = json.load(fh)
    report.files += 1
    playlists = doc.get("playlists") or []
    pids: set[str] = set()
    for start in range(0, len(playlists), batch):
        chunk = [p for p in playlists[start : start + batch] if isinstance(p, dict) and "pid" in p]
        report.playlists_seen += len(chunk)
        pids.update(str(p["pid"]) for p in chunk)
        _store_batch(engine, chunk, report)
    del doc, playlists
    _record_slice(engine, key, pids, path.stat().st_size)


def import_mpd(engine: Engine, files: Iterable[Path], batch: int = 500) -> MpdReport:
    """Import MPD slice files (a folder is expanded to its `mpd.slice.*.json`)."""
    report = MpdReport()
    paths: list[Path] = []
    for f in files:
        f = Path(f)
        paths.extend(sorted(f.glob("mpd.slice.*.json")) if f.is_dir() else [f])
    with progress("mpd import", total=len(paths), unit="slices") as bar:
        for path in paths:
            _import_slice(engine, path, batch, report)
            bar.update(1)
    log.info("mpd import: %s", report)
    return report

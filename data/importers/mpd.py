"""Importer of Spotify Million Playlist Dataset slices (`mpd.slice.*.json`), for users who have the MPD.

The MPD is Spotify's research dataset under its own terms ("strictly for research and non-commercial use", not to
be redistributed): import it for research only (docs/jobs.md, "Spotify").

Each slice holds 1,000 playlists (`playlists[].tracks[]` with `track_uri`, `track_name`, `artist_name`,
`artist_uri`, `album_name`, `album_uri`, `pos`, `duration_ms`). Slices are read one at a time and written in
batches, so memory is bounded by one slice (plus `KNOWN_KEYS` ids) whatever the number of files. Tracks, artists
and albums use source "spotify" keyed by their Spotify ids (so the same track is stored once); playlists use source
"mpd" keyed by `pid` (never "spotify": that source's playlists are not trained on). On PostgreSQL and SQLite the
rows of a batch go in bulk (COPY, or the driver's executemany) into temporary tables and are inserted from there
(`_store_batch_bulk`), the same rows as the portable ORM path. A slice whose playlists are all stored is recorded
complete in `kv_state` (`import:mpd:<file name>`, with its playlist count and file size), so re-running an
interrupted import of a folder skips finished slices without parsing them and resumes the slice it stopped in
(stored playlists are skipped).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
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
#: Ids of tracks/albums/artists one import keeps per table (~100 bytes each: the MPD's 2.26 M tracks are ~250 MB),
#: so later batches skip the look-up of songs they share with earlier ones; past it the memory is dropped and
#: refilled.
KNOWN_KEYS = 2_500_000
PLAYLIST_SOURCE = "mpd"
#: SQLite page cache of an import batch's connection, in KiB (see `_Bulk`).
IMPORT_CACHE_KIB = 256 * 1024


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


def _store_batch(
    engine: Engine,
    playlists: list[dict],
    report: MpdReport,
    bulk: bool = True,
    known: dict[str, dict[str, int]] | None = None,
) -> None:
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
        if bulk and conn.dialect.name in ("postgresql", "sqlite"):
            report.playlists_new += _store_batch_bulk(
                conn, tracks, artists, albums, track_artist, track_album, ordered, known
            )
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


#: Per table: the columns a new row gets from the slice, and the columns whose defaults are Python-side in
#: `data.models` (INSERT … SELECT does not run them): "now" is the batch's timestamp.
_BULK_COLUMNS: dict[str, tuple[tuple[str, ...], dict[str, Any]]] = {
    Album.__tablename__: (("name", "spotify_id"), {}),
    Artist.__tablename__: (("name", "spotify_id"), {}),
    Track.__tablename__: (("title", "spotify_id", "duration_ms", "album_id"), {"popularity": 0, "added_at": "now"}),
    Playlist.__tablename__: (("name",), {"added_at": "now"}),
}


class _Bulk:
    """The bulk path's SQL on the caller's transaction, with the two dialects' differences in one place: how a
    batch reaches a temporary table (PostgreSQL: COPY, psycopg's `cursor.copy`; SQLite: the driver's executemany,
    without SQLAlchemy building a parameter dict per row) and how an insert skips existing rows."""

    def __init__(self, conn: Connection) -> None:
        self.pg = conn.dialect.name == "postgresql"
        raw: Any = conn.connection.driver_connection  # the DBAPI connection of this very transaction
        self.cur = raw.cursor()
        self.mark = "%s" if self.pg else "?"
        now = datetime.now(UTC)
        # SQLite stores DateTime as text in SQLAlchemy's format; psycopg adapts the datetime itself
        self.now: Any = now if self.pg else now.strftime("%Y-%m-%d %H:%M:%S.%f")
        self.cache_pages: int | None = None
        if not self.pg:
            # SQLite's default page cache is 2 MB: at tens of millions of entries every index insert then reads
            # its B-tree pages back from the OS. A bigger cache for the batch (restored after) cut the import's
            # time by a fifth on 20 MPD slices, more as the tables grow.
            self.cache_pages = int(self.cur.execute("PRAGMA cache_size").fetchone()[0])
            self.cur.execute(f"PRAGMA cache_size={-IMPORT_CACHE_KIB}")

    def close(self) -> None:
        if self.cache_pages is not None:
            self.cur.execute(f"PRAGMA cache_size={self.cache_pages}")
        self.cur.close()

    def temp(self, tmp: str, cols: str, table: str, rows: Iterable[Sequence[Any]]) -> None:
        """A temporary table `tmp` shaped like `table`'s `cols`, filled with `rows`."""
        if self.pg:
            self.cur.execute(f"CREATE TEMP TABLE {tmp} ON COMMIT DROP AS SELECT {cols} FROM {table} WITH NO DATA")
            with self.cur.copy(f"COPY {tmp} ({cols}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            self.cur.execute(f"CREATE TEMP TABLE {tmp} AS SELECT {cols} FROM {table} WHERE 0")
            marks = ", ".join("?" * (cols.count(",") + 1))
            self.cur.executemany(f"INSERT INTO {tmp} ({cols}) VALUES ({marks})", rows)

    def insert_new(self, table: str, cols: str, select_sql: str, params: Sequence[Any] = ()) -> None:
        """INSERT … SELECT that leaves rows already stored (same key) alone."""
        if self.pg:
            self.cur.execute(f"INSERT INTO {table} ({cols}) {select_sql} ON CONFLICT DO NOTHING", params)
        else:
            self.cur.execute(f"INSERT OR IGNORE INTO {table} ({cols}) {select_sql}", params)

    def keyed(
        self, table: str, source: str, rows: Mapping[str, Mapping[str, Any]], known: dict[str, int] | None = None
    ) -> tuple[dict[str, int], set[str], set[str]]:
        """Get-or-create (source, key) rows of `table`: the keys not in `known` (ids this import already has) go
        into a temporary table, the missing rows are inserted from it in one statement (sorted, as `ensure_keyed`
        does, so concurrent importers lock in the same order), and their ids come back by one join. Returns
        (key → id, the keys that existed before: playlists only, the keys looked up in the database this time)."""
        ids = {k: known[k] for k in rows if k in known} if known else {}
        todo = {k: r for k, r in rows.items() if k not in ids}
        existing: set[str] = set()
        if not todo:
            return ids, existing, set()
        cols, defaults = _BULK_COLUMNS[table]
        tmp = f"_mpd_{table}"
        self.temp(
            tmp, ", ".join(("source_key", *cols)), table, ((k, *(r.get(c) for c in cols)) for k, r in todo.items())
        )
        join = f"FROM {tmp} t JOIN {table} x ON x.source = {self.mark} AND x.source_key = t.source_key"
        if table == Playlist.__tablename__:  # only playlists need to know which were there before
            self.cur.execute(f"SELECT t.source_key {join}", (source,))
            existing = {r[0] for r in self.cur.fetchall()}
        values = [self.now if v == "now" else v for v in defaults.values()]
        picks = ", ".join([*(f"t.{c}" for c in cols), *([self.mark] * len(values))])
        self.insert_new(
            table,
            ", ".join(("source", "source_key", *cols, *defaults)),
            f"SELECT {self.mark}, t.source_key, {picks} FROM {tmp} t ORDER BY t.source_key",
            (source, *values),
        )
        self.cur.execute(f"SELECT t.source_key, x.id {join}", (source,))
        found = dict(self.cur.fetchall())
        self.cur.execute(f"DROP TABLE {tmp}")
        if known is not None:
            if len(known) + len(found) > KNOWN_KEYS:  # bounded: popular keys come back within a few batches
                known.clear()
            known.update(found)
        ids.update(found)
        return ids, existing, set(todo)

    def links(self, table: str, cols: tuple[str, str, str], rows: Iterable[tuple[int, int, int]]) -> None:
        """Rows of a link table (entries, track artists), inserted from a temporary table skipping rows another
        importer stored first, instead of failing the batch."""
        tmp = f"_mpd_{table}"
        col_list = ", ".join(cols)
        self.temp(tmp, col_list, table, rows)
        self.insert_new(table, col_list, f"SELECT {col_list} FROM {tmp} ORDER BY 1, 2")
        self.cur.execute(f"DROP TABLE {tmp}")


def _store_batch_bulk(
    conn: Connection,
    tracks: dict[str, dict],
    artists: dict[str, dict],
    albums: dict[str, dict],
    track_artist: dict[str, str],
    track_album: dict[str, str],
    ordered: list[tuple[str, str, list[str]]],
    known: dict[str, dict[str, int]] | None = None,
) -> int:
    """One batch by the bulk path: the same rows as the portable ORM path (`bulk=False`), written through temporary
    tables. On PostgreSQL executemany of ~66 entries per playlist plus chunked IN look-ups made an MPD import 5×
    slower than on SQLite; on SQLite SQLAlchemy's per-row parameter handling was most of the import's time.
    `known` holds the ids of the tracks, albums and artists this import has already met (by table, bounded by
    `KNOWN_KEYS`), so a popular song is looked up once per import, not once per batch: the look-ups were most of
    the database work. Runs in the caller's transaction. Returns how many playlists were new."""
    bulk = _Bulk(conn)
    known = known if known is not None else {}
    try:
        album_ids, _, _ = bulk.keyed(Album.__tablename__, TRACK_SOURCE, albums, known.setdefault("albums", {}))
        for tid, alb in track_album.items():
            tracks[tid]["album_id"] = album_ids.get(alb)
        track_ids, _, looked_up = bulk.keyed(Track.__tablename__, TRACK_SOURCE, tracks, known.setdefault("tracks", {}))
        artist_ids, _, _ = bulk.keyed(Artist.__tablename__, TRACK_SOURCE, artists, known.setdefault("artists", {}))
        bulk.links(  # tracks this import already knew were linked when it first met them
            TrackArtist.__tablename__,
            ("track_id", "artist_id", "position"),
            ((track_ids[t], artist_ids[a], 0) for t, a in track_artist.items() if t in looked_up),
        )
        keyed = {pid: {"name": name[:500]} for pid, name, _ in ordered}
        playlist_ids, existing, _ = bulk.keyed(Playlist.__tablename__, PLAYLIST_SOURCE, keyed)
        bulk.links(
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
        bulk.close()
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


def _import_slice(
    engine: Engine, path: Path, batch: int, report: MpdReport, bulk: bool, known: dict[str, dict[str, int]]
) -> None:
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
        _store_batch(engine, chunk, report, bulk, known)
    del doc, playlists
    _record_slice(engine, key, pids, path.stat().st_size)


def import_mpd(engine: Engine, files: Iterable[Path], batch: int = 1000, *, bulk: bool = True) -> MpdReport:
    """Import MPD slice files (a folder is expanded to its `mpd.slice.*.json`).

    `bulk` (default) writes PostgreSQL and SQLite batches through temporary tables (`_store_batch_bulk`);
    `bulk=False` uses the portable ORM path of the other importers, which the tests compare it with."""
    report = MpdReport()
    known: dict[str, dict[str, int]] = {}  # ids met by this import (bulk path), dropped with it
    paths: list[Path] = []
    for f in files:
        f = Path(f)
        paths.extend(sorted(f.glob("mpd.slice.*.json")) if f.is_dir() else [f])
    with progress("mpd import", total=len(paths), unit="slices") as bar:
        for path in paths:
            _import_slice(engine, path, batch, report, bulk, known)
            bar.update(1)
    log.info("mpd import: %s", report)
    return report

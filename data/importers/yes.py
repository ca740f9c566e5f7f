"""Importer of the Yes.com radio playlists (Chen et al., KDD 2012) as laid out in `../shared/data/yes_big`.

`song_hash.txt`: id, title, artist (tab-separated, `/` escaped as `\\/`); `tags.txt`: line i = tag ids of song i or
`#`; `tag_hash.txt`: `id, name`; `train.txt`: two header lines (original Yes.com ids and play frequencies, both in index
order), then one playlist per line.
Idempotent: tracks, artists and playlists are keyed by their Yes.com ids / line numbers; each batch of playlists is
one transaction, so a killed import resumes where it stopped. `yes_spec` counts the source and the database the same
way (playlists, transitions, entries, tracks) so `data.importers.progress` can verify and record completion.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, bindparam, func, select, update

from data.importers.common import (
    ensure_artists,
    ensure_tags,
    ensure_tracks,
    link_track_artists,
    link_track_tags,
    store_playlists,
)
from data.importers.progress import ImportSpec
from data.models import Playlist, PlaylistTrack, Track
from data.progress import progress

log = logging.getLogger(__name__)
SOURCE = "yes"


@dataclass
class ImportReport:
    source: str
    tracks: int = 0
    playlists_seen: int = 0
    playlists_new: int = 0
    entries: int = 0


def _read_lines(path: Path) -> Iterator[str]:
    with path.open(encoding="utf-8", errors="replace") as fh:
        for line in fh:
            yield line.rstrip("\r\n")


def artist_key(name: str) -> str:
    """Artists are matched by their case-folded, whitespace-collapsed name within a source."""
    return " ".join(name.casefold().split())[:200]


def _songs(folder: Path) -> list[tuple[str, str, str]]:
    """(Yes.com id, title, artist) of every song in `song_hash.txt`."""
    songs: list[tuple[str, str, str]] = []
    for line in _read_lines(folder / "song_hash.txt"):
        parts = line.split("\t")
        if len(parts) < 3:
            continue
        songs.append((parts[0].strip(), parts[1].replace("\\/", "/").strip(), parts[2].replace("\\/", "/").strip()))
    return songs


def source_counts(folder: Path, limit: int | None = None) -> dict[str, int]:
    """What a complete import of `folder` stores: non-empty playlists, their transitions and entries, tracks."""
    folder = Path(folder)
    known = {sid for sid, _, _ in _songs(folder)}
    counts = {"playlists": 0, "transitions": 0, "entries": 0, "tracks": len(known)}
    train = _read_lines(folder / "train.txt")
    next(train, "")
    next(train, "")
    for n, line in enumerate(train):
        if limit is not None and n >= limit:
            break
        size = sum(1 for s in line.split() if s in known)
        if size:
            counts["playlists"] += 1
            counts["entries"] += size
            counts["transitions"] += size - 1
    return counts


def stored_counts(engine: Engine) -> dict[str, int]:
    """The same counts over what the database holds for the Yes.com source."""
    entries = (
        select(PlaylistTrack.position)
        .join(Playlist, Playlist.id == PlaylistTrack.playlist_id)
        .where(Playlist.source == SOURCE)
        .subquery()
    )
    with engine.connect() as conn:
        playlists = conn.scalar(select(func.count()).select_from(Playlist).where(Playlist.source == SOURCE))
        n_entries = conn.scalar(select(func.count()).select_from(entries))
        transitions = conn.scalar(select(func.count()).select_from(entries).where(entries.c.position > 0))
        tracks = conn.scalar(select(func.count()).select_from(Track).where(Track.source == SOURCE))
    return {
        "playlists": int(playlists or 0),
        "transitions": int(transitions or 0),
        "entries": int(n_entries or 0),
        "tracks": int(tracks or 0),
    }


def yes_spec(folder: Path, limit: int | None = None) -> ImportSpec:
    """The Yes.com import as `data.importers.progress.ensure_imported` runs and verifies it."""
    return ImportSpec(
        source=SOURCE,
        expected=lambda: source_counts(folder, limit),
        stored=stored_counts,
        run=lambda engine, replace: import_yes(engine, folder, limit=limit, replace=replace),
    )


def import_yes(
    engine: Engine, folder: Path, batch: int = 2000, limit: int | None = None, *, replace: bool = False
) -> ImportReport:
    """Import songs, tags and playlists from a `yes_big` folder; `limit` caps the playlists (for small tests).

    `replace` rewrites the entries of playlists already stored (redoing an import whose counts do not match).
    """
    folder = Path(folder)
    report = ImportReport(SOURCE)
    songs = _songs(folder)
    tag_names: dict[str, str] = {}
    for line in _read_lines(folder / "tag_hash.txt"):
        tag_id, _, name = line.partition(",")
        if name.strip():
            tag_names[tag_id.strip()] = name.strip()
    song_tags = [line.split() if line.strip() != "#" else [] for line in _read_lines(folder / "tags.txt")]

    train = _read_lines(folder / "train.txt")
    next(train, "")  # the songs' original Yes.com ids, in index order: not needed
    freq = {str(i): int(f) for i, f in enumerate(next(train, "").split())}

    with engine.begin() as conn:
        artist_ids = ensure_artists(conn, SOURCE, {artist_key(a): {"name": a[:500]} for _, _, a in songs})
        track_ids = ensure_tracks(conn, SOURCE, {sid: {"title": title[:500]} for sid, title, _ in songs})
        pops = [{"tid": track_ids[sid], "pop": count} for sid, count in freq.items() if sid in track_ids]
        if pops:
            conn.execute(update(Track).where(Track.id == bindparam("tid")).values(popularity=bindparam("pop")), pops)
        link_track_artists(conn, ((track_ids[sid], artist_ids[artist_key(a)], 0) for sid, _, a in songs))
        tag_ids = ensure_tags(conn, tag_names.values())
        link_track_tags(
            conn,
            (
                (track_ids[str(i)], tag_ids[tag_names[t]], 1.0)
                for i, tags in enumerate(song_tags)
                if str(i) in track_ids
                for t in tags
                if t in tag_names
            ),
        )
    report.tracks = len(track_ids)

    pending: list[tuple[str, str, list[int]]] = []

    def flush() -> None:
        with engine.begin() as conn:
            report.playlists_new += store_playlists(conn, SOURCE, pending, replace=replace)
        pending.clear()

    with progress("yes import", total=limit, unit="playlists") as bar:
        for n, line in enumerate(train):
            if limit is not None and n >= limit:
                break
            bar.update(1)
            tracks = [track_ids[s] for s in line.split() if s in track_ids]
            report.playlists_seen += 1
            if not tracks:
                continue
            report.entries += len(tracks)
            pending.append((str(n), f"Yes.com playlist {n}", tracks))
            if len(pending) >= batch:
                flush()
        if pending:
            flush()
    log.info("yes import: %s", report)
    return report

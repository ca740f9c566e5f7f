"""Importer of the Yes.com radio playlists (Chen et al., KDD 2012) as laid out in `../shared/data/yes_big`.

`song_hash.txt`: id, title, artist (tab-separated, `/` escaped as `\\/`); `tags.txt`: line i = tag ids of song i or
`#`; `tag_hash.txt`: `id, name`; `train.txt`: two header lines (original Yes.com ids and play frequencies, both in index
order), then one playlist per line.
Idempotent: tracks, artists and playlists are keyed by their Yes.com ids / line numbers.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, bindparam, update

from data.importers.common import (
    ensure_artists,
    ensure_tags,
    ensure_tracks,
    link_track_artists,
    link_track_tags,
    store_playlists,
)
from data.models import Track

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


def import_yes(engine: Engine, folder: Path, batch: int = 2000, limit: int | None = None) -> ImportReport:
    """Import songs, tags and playlists from a `yes_big` folder; `limit` caps the playlists (for small tests)."""
    folder = Path(folder)
    report = ImportReport(SOURCE)
    songs: list[tuple[str, str, str]] = []
    for line in _read_lines(folder / "song_hash.txt"):
        parts = line.split("\t")
        if len(parts) < 3:
            continue
        songs.append((parts[0].strip(), parts[1].replace("\\/", "/").strip(), parts[2].replace("\\/", "/").strip()))
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
            report.playlists_new += store_playlists(conn, SOURCE, pending)
        pending.clear()

    for n, line in enumerate(train):
        if limit is not None and n >= limit:
            break
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

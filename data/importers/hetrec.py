"""Importer of the HetRec 2011 Last.fm-2k dataset (GroupLens): artists, listeners' play counts, artist tags.

Play counts are real graded implicit feedback (the signal Surprise's KNNBaseline needs). Files are tab-separated
with a header; `artists.dat` is UTF-8, `tags.dat` Latin-1, the rest ASCII with CRLF ends. Tag assignments come
in two files (the original split in two); an artist's tag weight is how many listeners gave it that tag.
Idempotent: listeners and artists are keyed by their HetRec ids, play counts and tags by their pairs, so a killed
import resumes by running again; `hetrec_spec` counts the source and the database the same way for
`data.importers.progress`.
"""

from __future__ import annotations

import csv
import logging
from collections import Counter
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, func, select

from data.importers.common import ensure_artists, ensure_keyed, ensure_tags, insert_rows
from data.importers.progress import ImportSpec
from data.models import Artist, ArtistTag, Listener, ListenerArtist
from data.progress import progress

log = logging.getLogger(__name__)
SOURCE = "hetrec"


@dataclass
class HetrecReport:
    artists: int = 0
    listeners: int = 0
    plays: int = 0
    artist_tags: int = 0


def _rows(path: Path, encoding: str = "utf-8") -> Iterator[list[str]]:
    with path.open(encoding=encoding, newline="") as fh:
        reader = csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
        next(reader, None)
        for row in reader:
            if row and any(cell.strip() for cell in row):
                yield [cell.strip() for cell in row]


def _artist_names(folder: Path) -> dict[str, str]:
    return {row[0]: row[1] for row in _rows(folder / "artists.dat") if len(row) >= 2}


def _tag_names(folder: Path) -> dict[str, str]:
    return {row[0]: row[1] for row in _rows(folder / "tags.dat", encoding="latin-1") if len(row) >= 2}


def _artist_tag_counts(
    folder: Path, artists: Collection[str], tag_names: Mapping[str, str]
) -> Counter[tuple[str, str]]:
    """How many listeners gave each (artist, tag) pair, over both halves of the assignments."""
    counts: Counter[tuple[str, str]] = Counter()
    for name in ("user_taggedartists.dat", "user_taggedartists_2.dat"):
        path = folder / name
        if path.exists():
            for row in _rows(path):
                if len(row) >= 3 and row[1] in artists and row[2] in tag_names:
                    counts[(row[1], row[2])] += 1
    return counts


def source_counts(folder: Path) -> dict[str, int]:
    """What a complete import of `folder` stores: artists, listeners, play counts, artist tags."""
    folder = Path(folder)
    artists = _artist_names(folder)
    listeners: set[str] = set()
    plays = 0
    for row in _rows(folder / "user_artists.dat"):
        if len(row) >= 3:
            listeners.add(row[0])
            plays += row[1] in artists
    tags = _artist_tag_counts(folder, artists.keys(), _tag_names(folder))
    return {"artists": len(artists), "listeners": len(listeners), "plays": plays, "artist_tags": len(tags)}


def stored_counts(engine: Engine) -> dict[str, int]:
    """The same counts over what the database holds for the HetRec source."""
    with engine.connect() as conn:
        artists = conn.scalar(select(func.count()).select_from(Artist).where(Artist.source == SOURCE))
        listeners = conn.scalar(select(func.count()).select_from(Listener).where(Listener.source == SOURCE))
        plays = conn.scalar(
            select(func.count())
            .select_from(ListenerArtist)
            .join(Listener, Listener.id == ListenerArtist.listener_id)
            .where(Listener.source == SOURCE)
        )
        tags = conn.scalar(
            select(func.count())
            .select_from(ArtistTag)
            .join(Artist, Artist.id == ArtistTag.artist_id)
            .where(Artist.source == SOURCE)
        )
    return {
        "artists": int(artists or 0),
        "listeners": int(listeners or 0),
        "plays": int(plays or 0),
        "artist_tags": int(tags or 0),
    }


def hetrec_spec(folder: Path) -> ImportSpec:
    """The HetRec import for `data.importers.progress.ensure_imported` (a redo is a rerun: rows are keyed)."""
    return ImportSpec(
        source=SOURCE,
        expected=lambda: source_counts(folder),
        stored=stored_counts,
        run=lambda engine, _replace: import_hetrec(engine, folder),
    )


def import_hetrec(engine: Engine, folder: Path, batch: int = 5000) -> HetrecReport:
    """Import a `hetrec-lastfm-2k` folder into artists, listeners, listener_artists and artist_tags."""
    folder = Path(folder)
    report = HetrecReport()
    artist_names = _artist_names(folder)
    with engine.begin() as conn:
        artist_ids = ensure_artists(conn, SOURCE, {k: {"name": v[:500]} for k, v in artist_names.items()})
    report.artists = len(artist_ids)

    pending: list[list[str]] = []

    def flush() -> None:
        with engine.begin() as conn:
            users = ensure_keyed(conn, Listener, SOURCE, {row[0]: {} for row in pending})
            values = [
                {"listener_id": users[u], "artist_id": artist_ids[a], "plays": int(w)}
                for u, a, w in pending
                if a in artist_ids
            ]
            insert_rows(conn, ListenerArtist, values)
            report.plays += len(values)
        pending.clear()

    listeners: set[str] = set()
    with progress("hetrec import", unit="plays") as bar:
        for row in _rows(folder / "user_artists.dat"):
            if len(row) < 3:
                continue
            pending.append(row[:3])
            listeners.add(row[0])
            if len(pending) >= batch:
                bar.update(len(pending))
                flush()
        if pending:
            bar.update(len(pending))
            flush()
    report.listeners = len(listeners)

    tag_names = _tag_names(folder)
    counts = _artist_tag_counts(folder, artist_ids.keys(), tag_names)
    with engine.begin() as conn:
        tag_ids = ensure_tags(conn, {tag_names[t][:200] for _, t in counts})
        values = [
            {"artist_id": artist_ids[a], "tag_id": tag_ids[tag_names[t][:200]], "weight": float(n)}
            for (a, t), n in counts.items()
        ]
        insert_rows(conn, ArtistTag, values)
    report.artist_tags = len(counts)
    log.info("hetrec import: %s", report)
    return report

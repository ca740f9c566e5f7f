"""Importer of the HetRec 2011 Last.fm-2k dataset (GroupLens): artists, listeners' play counts, artist tags.

Play counts are real graded implicit feedback (the signal Surprise's KNNBaseline needs). Files are tab-separated
with a header; `artists.dat` is UTF-8, `tags.dat` Latin-1, the rest ASCII with CRLF ends. Tag assignments come
in two files (the original split in two); an artist's tag weight is how many listeners gave it that tag.
Idempotent: listeners and artists are keyed by their HetRec ids.
"""

from __future__ import annotations

import csv
import logging
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from data.importers.common import ensure_artists, ensure_keyed, ensure_tags, insert_rows
from data.models import ArtistTag, Listener, ListenerArtist

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


def import_hetrec(engine: Engine, folder: Path, batch: int = 5000) -> HetrecReport:
    """Import a `hetrec-lastfm-2k` folder into artists, listeners, listener_artists and artist_tags."""
    folder = Path(folder)
    report = HetrecReport()
    artist_names = {row[0]: row[1] for row in _rows(folder / "artists.dat") if len(row) >= 2}
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
    for row in _rows(folder / "user_artists.dat"):
        if len(row) < 3:
            continue
        pending.append(row[:3])
        listeners.add(row[0])
        if len(pending) >= batch:
            flush()
    if pending:
        flush()
    report.listeners = len(listeners)

    tag_names = {row[0]: row[1] for row in _rows(folder / "tags.dat", encoding="latin-1") if len(row) >= 2}
    counts: Counter[tuple[str, str]] = Counter()
    for name in ("user_taggedartists.dat", "user_taggedartists_2.dat"):
        path = folder / name
        if path.exists():
            for row in _rows(path):
                if len(row) >= 3 and row[1] in artist_ids and row[2] in tag_names:
                    counts[(row[1], row[2])] += 1
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

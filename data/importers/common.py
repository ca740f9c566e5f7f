"""Batch get-or-create of corpus rows, shared by every importer.

Each call handles one bounded batch: it looks the batch's keys up, inserts only the missing rows with
INSERT … ON CONFLICT DO NOTHING (so two writers racing on the same key cannot fail or duplicate), and returns
key → id. Memory stays proportional to the batch, not to the corpus, which is what lets a 1M-playlist import
stream. Parameterised statements only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, delete, insert, select
from sqlalchemy.dialects import postgresql, sqlite

from data.models import Album, Artist, Playlist, PlaylistTrack, Tag, Track, TrackArtist, TrackTag

CHUNK = 500


def insert_ignore(conn: Connection, model: Any):
    dialect = conn.dialect.name
    if dialect == "sqlite":
        return sqlite.insert(model).on_conflict_do_nothing()
    if dialect == "postgresql":
        return postgresql.insert(model).on_conflict_do_nothing()
    return insert(model)


def chunks(items: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def insert_rows(conn: Connection, model: Any, rows: Sequence[dict[str, Any]], size: int = CHUNK) -> None:
    """Insert rows, skipping conflicts, as one executemany per chunk.

    Rows are grouped by their set of columns so that a column missing from a row keeps its default.
    """
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(sorted(row)), []).append(row)
    stmt = insert_ignore(conn, model)
    for group in groups.values():
        for chunk in chunks(group, size):
            conn.execute(stmt, list(chunk))


def ensure_keyed(conn: Connection, model: Any, source: str, rows: Mapping[str, dict[str, Any]]) -> dict[str, int]:
    """Get-or-create rows of a (source, source_key) model; `rows` maps key → column values for new rows."""
    keys = list(rows)
    ids: dict[str, int] = {}
    for chunk in chunks(keys):
        ids.update(
            conn.execute(
                select(model.source_key, model.id).where(model.source == source, model.source_key.in_(chunk))
            ).all()
        )
    # sorted, so concurrent writers take row locks in the same order and cannot deadlock each other
    missing = sorted(k for k in keys if k not in ids)
    if missing:
        insert_rows(conn, model, [{"source": source, "source_key": k, **rows[k]} for k in missing])
        for chunk in chunks(missing):
            ids.update(
                conn.execute(
                    select(model.source_key, model.id).where(model.source == source, model.source_key.in_(chunk))
                ).all()
            )
    return ids


def ensure_artists(conn: Connection, source: str, names: Mapping[str, dict[str, Any]]) -> dict[str, int]:
    return ensure_keyed(conn, Artist, source, names)


def ensure_albums(conn: Connection, source: str, names: Mapping[str, dict[str, Any]]) -> dict[str, int]:
    return ensure_keyed(conn, Album, source, names)


def ensure_tracks(conn: Connection, source: str, tracks: Mapping[str, dict[str, Any]]) -> dict[str, int]:
    return ensure_keyed(conn, Track, source, tracks)


def ensure_tags(conn: Connection, names: Iterable[str]) -> dict[str, int]:
    wanted = sorted(set(names))
    ids: dict[str, int] = {}
    for chunk in chunks(wanted):
        ids.update(conn.execute(select(Tag.name, Tag.id).where(Tag.name.in_(chunk))).all())
    missing = [n for n in wanted if n not in ids]
    insert_rows(conn, Tag, [{"name": n} for n in missing])
    for chunk in chunks(missing):
        ids.update(conn.execute(select(Tag.name, Tag.id).where(Tag.name.in_(chunk))).all())
    return ids


def link_track_artists(conn: Connection, links: Iterable[tuple[int, int, int]]) -> None:
    """(track id, artist id, position) rows; existing links are left alone."""
    rows = sorted({(t, a): p for t, a, p in links}.items())
    insert_rows(conn, TrackArtist, [{"track_id": t, "artist_id": a, "position": p} for (t, a), p in rows])


def link_track_tags(conn: Connection, links: Iterable[tuple[int, int, float]]) -> None:
    insert_rows(conn, TrackTag, [{"track_id": t, "tag_id": g, "weight": w} for t, g, w in links])


def store_playlists(
    conn: Connection, source: str, playlists: Sequence[tuple[str, str, Sequence[int]]], *, replace: bool = False
) -> int:
    """Store (key, name, track ids in play order) playlists; returns how many were new.

    A playlist already stored is left as it is, unless `replace` (an import redone because its counts did not match),
    which rewrites its entries in one transaction.
    """
    keyed = {key: {"name": name[:500]} for key, name, _ in playlists}
    existing: set[str] = set()
    keys = list(keyed)
    for chunk in chunks(keys):
        existing.update(
            conn.scalars(
                select(Playlist.source_key).where(Playlist.source == source, Playlist.source_key.in_(chunk))
            ).all()
        )
    ids = ensure_keyed(conn, Playlist, source, keyed)
    entries: list[dict[str, Any]] = []
    for key, _name, tracks in playlists:
        if key in existing and not replace:
            continue
        if key in existing:
            conn.execute(delete(PlaylistTrack).where(PlaylistTrack.playlist_id == ids[key]))
        entries.extend({"playlist_id": ids[key], "position": pos, "track_id": t} for pos, t in enumerate(tracks))
    insert_rows(conn, PlaylistTrack, entries, size=2000)
    return len([k for k in keys if k not in existing])

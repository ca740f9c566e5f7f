"""Storing recordings from the open databases (MusicBrainz, ListenBrainz) in the corpus, matched to the tracks it
already has so that one song stays one track whatever source named it.

A recording is matched, in this order, to an existing track
1. with its MusicBrainz recording id,
2. else with one of its ISRCs,
3. else with the same normalised title and artist (`data.search.normalize` of the title without "(feat. …)" parts,
   and of the first credited artist), among the tracks of artists with that name;
else it is added as a new track of `source` ("musicbrainz" / "listenbrainz"), keyed by its MBID (or by the normalised
title and artist when it has none), with its artists found by artist MBID, then by name, else added. A matched track
that had no MBID / ISRC gets the recording's, so the next match is by id.

A playlist is stored in one transaction with the tracks and artists it brings: it is there whole or not at all, and
a playlist already stored is skipped before anything is written, so storing again adds nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, func, select, update

from data.importers.common import chunks, ensure_artists, ensure_tracks, link_track_artists, store_playlists
from data.importers.yes import artist_key
from data.models import Artist, Playlist, Track, TrackArtist
from data.recordings import Recording
from data.search import core_title, normalize

SOURCES = ("musicbrainz", "listenbrainz")


@dataclass
class StoreReport:
    """What storing did: playlists new / already there, and how each recording found its track."""

    playlists_new: int = 0
    playlists_skipped: int = 0
    tracks_new: int = 0
    matched: Counter[str] = field(default_factory=Counter)  # "mbid" / "isrc" / "name" / "new"

    def add(self, other: StoreReport) -> None:
        self.playlists_new += other.playlists_new
        self.playlists_skipped += other.playlists_skipped
        self.tracks_new += other.tracks_new
        self.matched.update(other.matched)


def title_key(title: str) -> str:
    return normalize(core_title(title))


def name_key(recording: Recording) -> tuple[str, str]:
    """(normalised title, normalised first artist): what a recording without ids is matched by."""
    first = recording.artists[0].name if recording.artists else ""
    return title_key(recording.title), normalize(first)


def _by_mbid(conn: Connection, mbids: set[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for chunk in chunks(sorted(mbids)):
        found.update(conn.execute(select(Track.mbid, Track.id).where(Track.mbid.in_(chunk))).all())  # type: ignore[arg-type]
    return found


def _by_isrc(conn: Connection, isrcs: set[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for chunk in chunks(sorted(isrcs)):
        for isrc, tid in conn.execute(select(Track.isrc, Track.id).where(Track.isrc.in_(chunk)).order_by(Track.id)):
            found.setdefault(str(isrc), tid)
    return found


def _artists_named(conn: Connection, names: set[str]) -> list[tuple[int, str, str | None]]:
    """(id, name, mbid) of the artists whose case-folded name is one of `names` (candidates; callers compare keys)."""
    rows: list[tuple[int, str, str | None]] = []
    lowered = sorted({n.lower() for n in names if n})
    for chunk in chunks(lowered):
        rows.extend(
            (aid, name, mbid)
            for aid, name, mbid in conn.execute(
                select(Artist.id, Artist.name, Artist.mbid)
                .where(func.lower(Artist.name).in_(chunk))
                .order_by(Artist.id)
            )
        )
    return rows


def _by_name(conn: Connection, wanted: set[tuple[str, str]], artist_names: set[str]) -> dict[tuple[str, str], int]:
    """Tracks of artists with these names whose (title, first artist) keys are wanted: the lowest track id wins."""
    artists = {aid: normalize(name) for aid, name, _ in _artists_named(conn, artist_names)}
    found: dict[tuple[str, str], int] = {}
    for chunk in chunks(sorted(artists)):
        rows = conn.execute(
            select(Track.id, Track.title, TrackArtist.artist_id)
            .join(TrackArtist, TrackArtist.track_id == Track.id)
            .where(TrackArtist.artist_id.in_(chunk), TrackArtist.position == 0)
            .order_by(Track.id)
        )
        for tid, title, aid in rows:
            key = (title_key(title), artists[aid])
            if key in wanted:
                found.setdefault(key, tid)
    return found


def _ensure_open_artists(conn: Connection, source: str, recordings: Sequence[Recording]) -> dict[str, int]:
    """Artist ids for the credits of `recordings`, keyed by `credit_key`: by artist MBID, then by name, else new."""
    credits = {credit_key(c.name, c.mbid): (c.name, c.mbid) for r in recordings for c in r.artists if c.name}
    ids: dict[str, int] = {}
    mbids = {m for _, m in credits.values() if m}
    by_mbid: dict[str, int] = {}
    for chunk in chunks(sorted(mbids)):
        by_mbid.update(conn.execute(select(Artist.mbid, Artist.id).where(Artist.mbid.in_(chunk))).all())  # type: ignore[arg-type]
    named: dict[str, tuple[int, str | None]] = {}
    for aid, name, mbid in _artists_named(conn, {n for n, _ in credits.values()}):
        named.setdefault(artist_key(name), (aid, mbid))
    new: dict[str, dict[str, Any]] = {}
    for key, (name, mbid) in credits.items():
        if mbid and mbid in by_mbid:
            ids[key] = by_mbid[mbid]
        elif artist_key(name) in named:
            aid, has = named[artist_key(name)]
            ids[key] = aid
            if mbid and not has:  # the name's artist learns its MBID (the next match is by id)
                conn.execute(update(Artist).where(Artist.id == aid, Artist.mbid.is_(None)).values(mbid=mbid))
                by_mbid[mbid] = aid
        else:
            new[mbid or artist_key(name)] = {"name": name[:500], **({"mbid": mbid} if mbid else {})}
    created = ensure_artists(conn, source, new) if new else {}
    for key, (name, mbid) in credits.items():
        if key not in ids:
            ids[key] = created[mbid or artist_key(name)]
    return ids


def credit_key(name: str, mbid: str | None) -> str:
    return mbid or f"name:{artist_key(name)}"


def track_key(recording: Recording) -> str:
    """The source key of a new track: its MBID, else its normalised title and artist."""
    if recording.mbid:
        return recording.mbid
    title, artist = name_key(recording)
    return f"name:{title}|{artist}"[:300]


def match_recordings(conn: Connection, recordings: Sequence[Recording]) -> list[int | None]:
    """The corpus track each recording is (by MBID, then ISRC, then name), or None; reads only."""
    ids, _ = _match(conn, recordings, StoreReport())
    return [ids.get(i) for i in range(len(recordings))]


def _match(
    conn: Connection, recordings: Sequence[Recording], report: StoreReport
) -> tuple[dict[int, int], dict[str, int]]:
    """(index in recordings → matched track id, the MBIDs already on tracks), counting matches in `report`."""
    ids: dict[int, int] = {}
    by_mbid = _by_mbid(conn, {r.mbid for r in recordings if r.mbid})
    for i, r in enumerate(recordings):
        if r.mbid and r.mbid in by_mbid:
            ids[i] = by_mbid[r.mbid]
            report.matched["mbid"] += 1
    by_isrc = _by_isrc(conn, {c for i, r in enumerate(recordings) if i not in ids for c in r.isrcs})
    for i, r in enumerate(recordings):
        hit = next((by_isrc[c] for c in r.isrcs if c in by_isrc), None) if i not in ids else None
        if hit is not None:
            ids[i] = hit
            report.matched["isrc"] += 1
    rest = [i for i in range(len(recordings)) if i not in ids]
    by_name = _by_name(
        conn,
        {name_key(recordings[i]) for i in rest},
        {recordings[i].artists[0].name for i in rest if recordings[i].artists},
    )
    for i in rest:
        hit = by_name.get(name_key(recordings[i]))
        if hit is not None:
            ids[i] = hit
            report.matched["name"] += 1
    return ids, by_mbid


def store_recordings(conn: Connection, source: str, recordings: Sequence[Recording]) -> tuple[list[int], StoreReport]:
    """The track id of each recording (in order), matched or added as the module docstring says; in `conn`'s
    transaction."""
    report = StoreReport()
    ids, by_mbid = _match(conn, recordings, report)
    _learn_ids(conn, recordings, ids, set(by_mbid))
    missing = [i for i in range(len(recordings)) if i not in ids]
    if missing:
        created = _add_tracks(conn, source, [recordings[i] for i in missing])
        report.tracks_new += len({track_key(recordings[i]) for i in missing})
        for i in missing:
            ids[i] = created[track_key(recordings[i])]
            report.matched["new"] += 1
    return [ids[i] for i in range(len(recordings))], report


def _learn_ids(conn: Connection, recordings: Sequence[Recording], ids: dict[int, int], known: set[str]) -> None:
    """A track matched by ISRC or name takes the recording's MBID and first ISRC when it had none."""
    taken = set(known)
    for i, tid in sorted(ids.items()):
        r = recordings[i]
        if r.mbid and r.mbid not in taken:
            taken.add(r.mbid)
            conn.execute(update(Track).where(Track.id == tid, Track.mbid.is_(None)).values(mbid=r.mbid))
        if r.isrcs:
            conn.execute(update(Track).where(Track.id == tid, Track.isrc.is_(None)).values(isrc=r.isrcs[0][:12]))


def _add_tracks(conn: Connection, source: str, recordings: Sequence[Recording]) -> dict[str, int]:
    """New tracks (and their artists, linked in credit order), keyed by `track_key`."""
    rows: dict[str, dict[str, Any]] = {}
    for r in recordings:
        row: dict[str, Any] = {"title": r.title[:500]}
        if r.mbid:
            row["mbid"] = r.mbid
        if r.isrcs:
            row["isrc"] = r.isrcs[0][:12]
        if r.length_ms:
            row["duration_ms"] = r.length_ms
        rows.setdefault(track_key(r), row)
    track_ids = ensure_tracks(conn, source, rows)
    artist_ids = _ensure_open_artists(conn, source, recordings)
    link_track_artists(
        conn,
        (
            (track_ids[track_key(r)], artist_ids[credit_key(c.name, c.mbid)], pos)
            for r in recordings
            for pos, c in enumerate(r.artists)
            if c.name
        ),
    )
    return track_ids


def playlist_exists(conn: Connection, source: str, key: str) -> bool:
    return conn.scalar(select(Playlist.id).where(Playlist.source == source, Playlist.source_key == key)) is not None


def store_open_playlist(
    engine: Engine, source: str, key: str, name: str, recordings: Sequence[Recording]
) -> StoreReport:
    """Store one playlist with its recordings in one transaction (whole or not at all); an existing one is skipped."""
    with engine.begin() as conn:
        if playlist_exists(conn, source, key):
            return StoreReport(playlists_skipped=1)
        track_ids, report = store_recordings(conn, source, recordings)
        if track_ids:
            report.playlists_new += store_playlists(conn, source, [(key, name, track_ids)])
        return report


def store_open_playlists(
    engine: Engine, source: str, playlists: Iterable[tuple[str, str, Sequence[Recording]]]
) -> StoreReport:
    """Store (key, name, recordings) playlists, each in its own transaction."""
    total = StoreReport()
    for key, name, recordings in playlists:
        total.add(store_open_playlist(engine, source, key, name, recordings))
    return total

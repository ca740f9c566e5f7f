"""Importer of a ListenBrainz listens dump (CC0): listening sessions become corpus playlists of source "listenbrainz".

The dump's listens are JSON documents, one per line, in `listens/YYYY/MM.listens` files (a folder, or a tar archive
of it — `.tar`, `.tar.gz`, `.tar.xz`; a `.tar.zst` must be decompressed first, Python has no zstd reader here). A
listen has `listened_at` (UNIX seconds), `user_name` (or `user_id`) and `track_metadata` with `track_name`,
`artist_name`, `additional_info` (`recording_mbid`, `artist_mbids`, `isrc` …) and, when ListenBrainz mapped it,
`mbid_mapping` (`recording_mbid`, `artist_mbids`, `artists` …).

Each file is read on its own (memory: one month's file), each user's listens in it sorted by time and cut into
sessions where the gap between two listens exceeds `gap` (30 minutes); a session also ends with its month's file
(a listening session across midnight at a month's end is cut there). Consecutive repeats collapse to one entry, and
a session of at least two distinct recordings becomes the playlist `session:<user>:<first listened_at>`, stored with
`data.importers.open_recordings` (tracks matched by MBID, ISRC, then title + artist; one transaction per playlist).
Resumable: after each file its name is recorded in `kv_state` under `import:listenbrainz-dump:<dump name>`, and a
rerun skips recorded files; a file cut short is redone, its stored playlists skipped — a rerun adds nothing.
"""

from __future__ import annotations

import json
import logging
import re
import tarfile
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from data.importers.open_recordings import StoreReport, name_key, store_open_playlist
from data.kv import read_state, write_state
from data.progress import progress
from data.recordings import ArtistCredit, Recording

log = logging.getLogger(__name__)
SOURCE = "listenbrainz"
#: A gap longer than this between two listens of a user starts a new session (seconds).
SESSION_GAP = 30 * 60
_MONTH_FILE = re.compile(r"(?:^|/)listens/(\d{4})/(\d{1,2})\.listens$")


@dataclass(frozen=True)
class Listen:
    user: str
    at: int
    recording: Recording


@dataclass
class DumpReport:
    files: int = 0
    files_skipped: int = 0
    listens: int = 0
    sessions: int = 0
    playlists_new: int = 0
    playlists_known: int = 0
    tracks_new: int = 0
    tracks_matched: int = 0


def _timestamp(value: Any) -> int | None:
    if isinstance(value, int | float):
        return int(value)
    if isinstance(value, str) and value.strip():
        text = value.strip()
        if text.isdigit():
            return int(text)
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
        return int((parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp())
    return None


def _credits(meta: dict[str, Any], info: dict[str, Any], mapping: dict[str, Any]) -> tuple[ArtistCredit, ...]:
    """Credited artists: ListenBrainz's mapped credits when present, else the artist line with its MBID when the
    listen names exactly one."""
    mapped = [a for a in mapping.get("artists") or [] if isinstance(a, dict) and a.get("artist_credit_name")]
    if mapped:
        return tuple(ArtistCredit(str(a["artist_credit_name"]), a.get("artist_mbid")) for a in mapped)
    name = str(meta.get("artist_name") or "").strip()
    mbids = mapping.get("artist_mbids") or info.get("artist_mbids") or []
    return (ArtistCredit(name, str(mbids[0]) if len(mbids) == 1 else None),) if name else ()


def listen_from_json(doc: Any) -> Listen | None:
    """One dump line as a Listen; None for a line without a user, a time, a title or an artist."""
    if not isinstance(doc, dict):
        return None
    meta = doc.get("track_metadata") or {}
    info = meta.get("additional_info") or {}
    mapping = meta.get("mbid_mapping") or doc.get("mbid_mapping") or {}
    user = str(doc.get("user_name") or doc.get("user_id") or "").strip()
    at = _timestamp(doc.get("listened_at"))
    title = str(meta.get("track_name") or "").strip()
    artists = _credits(meta, info, mapping)
    if not (user and at is not None and title and artists):
        return None
    isrc = str(info.get("isrc") or "").strip().upper()
    recording = Recording(
        title=title,
        artists=artists,
        mbid=str(mapping.get("recording_mbid") or info.get("recording_mbid") or "").strip() or None,
        isrcs=(isrc,) if len(isrc) == 12 else (),
        length_ms=int(info["duration_ms"]) if isinstance(info.get("duration_ms"), int) else None,
    )
    return Listen(user, at, recording)


def read_listens(lines: Iterable[str]) -> Iterator[Listen]:
    """The listens of JSON lines; lines that are not a listen are skipped (counted in the log)."""
    bad = 0
    for line in lines:
        if not line.strip():
            continue
        try:
            listen = listen_from_json(json.loads(line))
        except ValueError:
            listen = None
        if listen is None:
            bad += 1
            continue
        yield listen
    if bad:
        log.info("listenbrainz dump: %d lines were not listens", bad)


def identity(recording: Recording) -> str:
    """What makes two listens the same track within a session: the MBID, else the normalised title and artist."""
    return recording.mbid or "|".join(name_key(recording))


def sessions(listens: Iterable[Listen], gap: int = SESSION_GAP) -> Iterator[list[Listen]]:
    """Each user's listens in time order, cut where two listens are more than `gap` seconds apart."""
    by_user: dict[str, list[Listen]] = defaultdict(list)
    for listen in listens:
        by_user[listen.user].append(listen)
    for user in sorted(by_user):
        current: list[Listen] = []
        for listen in sorted(by_user[user], key=lambda x: x.at):
            if current and listen.at - current[-1].at > gap:
                yield current
                current = []
            current.append(listen)
        if current:
            yield current


def session_playlist(session: list[Listen]) -> tuple[str, str, list[Recording]] | None:
    """(key, name, recordings) of a session worth a playlist (two or more distinct recordings), consecutive
    repeats collapsed; None otherwise."""
    recordings: list[Recording] = []
    for listen in session:
        if not recordings or identity(recordings[-1]) != identity(listen.recording):
            recordings.append(listen.recording)
    if len({identity(r) for r in recordings}) < 2:
        return None
    first = session[0]
    day = datetime.fromtimestamp(first.at, UTC).strftime("%Y-%m-%d %H:%M")
    return f"session:{first.user}:{first.at}"[:200], f"{first.user}'s listening, {day} UTC", recordings


def month_of(name: str) -> tuple[int, int] | None:
    """(year, month) of a `listens/YYYY/MM.listens` file name; None for any other file of the dump."""
    m = _MONTH_FILE.search(name)
    return (int(m.group(1)), int(m.group(2))) if m else None


def _month_order(name: str) -> tuple[int, int]:
    return month_of(name) or (0, 0)


def dump_files(path: Path) -> Iterator[tuple[str, list[str]]]:
    """(name, lines) of each `listens/YYYY/MM.listens` file of a dump folder or tar archive, oldest month first."""
    path = Path(path)
    if path.is_dir():
        files = sorted(
            (p for p in path.rglob("*.listens") if month_of(p.as_posix())), key=lambda p: _month_order(p.as_posix())
        )
        for p in files:
            rel = p.relative_to(path).as_posix()
            yield rel, p.read_text(encoding="utf-8", errors="replace").splitlines()
        return
    if path.name.endswith((".zst", ".zstd")):
        raise ValueError(f"{path.name}: decompress it first (zstd -d), then import the .tar or its folder")
    with tarfile.open(path, "r:*") as tar:
        members = sorted(
            (m for m in tar.getmembers() if m.isfile() and month_of(m.name)), key=lambda m: _month_order(m.name)
        )
        for member in members:
            fh = tar.extractfile(member)
            if fh is not None:
                yield member.name, fh.read().decode("utf-8", errors="replace").splitlines()


def state_key(path: Path) -> str:
    name = Path(path).name
    for suffix in (".tar.xz", ".tar.gz", ".tar.bz2", ".tar"):
        name = name.removesuffix(suffix)
    return f"import:listenbrainz-dump:{name}"[:200]


def import_listenbrainz_dump(
    engine: Engine, path: Path, *, gap: int = SESSION_GAP, max_files: int | None = None
) -> DumpReport:
    """Import a listens dump's sessions as playlists, resuming after the files already recorded as done;
    `max_files` stops after that many files of this run (a partial import, for tests and trials)."""
    key = state_key(path)
    done = set((read_state(engine, key) or {}).get("files_done", []))
    report = DumpReport()
    with progress("listenbrainz dump import", unit="files") as bar:
        for name, lines in dump_files(path):
            if name in done:
                report.files_skipped += 1
                bar.update(1)
                continue
            if max_files is not None and report.files >= max_files:
                break
            _import_file(engine, lines, gap, report)
            done.add(name)
            with engine.begin() as conn:
                write_state(conn, key, {"files_done": sorted(done), "updated": time.time()})
            report.files += 1
            bar.update(1)
    log.info("listenbrainz dump %s: %s", Path(path).name, report)
    return report


def _import_file(engine: Engine, lines: list[str], gap: int, report: DumpReport) -> None:
    listens = list(read_listens(lines))
    report.listens += len(listens)
    for session in sessions(listens, gap):
        report.sessions += 1
        playlist = session_playlist(session)
        if playlist is None:
            continue
        stored: StoreReport = store_open_playlist(engine, SOURCE, *playlist)
        report.playlists_new += stored.playlists_new
        report.playlists_known += stored.playlists_skipped
        report.tracks_new += stored.tracks_new
        report.tracks_matched += sum(n for how, n in stored.matched.items() if how != "new")

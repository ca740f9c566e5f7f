"""`murecom import listenbrainz DUMP` on a sample in the dump's real layout built from REAL data.

There is no ListenBrainz data on this machine, so the sample is made of the Yes.com playlists (yes_big: the songs'
real titles and artists from song_hash.txt, the real playlists of train.txt in their real play order), each rendered
as a run of one user's listens 3.5 minutes apart; each user plays two playlists two hours apart, January's users in
`listens/2012/01.listens` and February's in `listens/2012/02.listens`, latest listen first, one JSON listen per line
(listened_at, user_name, track_metadata{artist_name, track_name, additional_info{isrc}, mbid_mapping{recording_mbid,
artist_mbids}}). Only the ids are made up (every other song carries an MBID, every third an ISRC), never a song.
So the sample implies its sessions (each playlist one session, cut by the two-hour gap), its playlists (those of two
or more distinct songs, consecutive repeats collapsed) and its tracks (the distinct songs).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from sqlalchemy import func, select

from data.importers.listenbrainz_dump import import_listenbrainz_dump
from data.importers.open_recordings import name_key
from data.importers.yes import import_yes
from data.models import Playlist, PlaylistTrack, Track
from data.recordings import ArtistCredit, Recording
from data.settings import PROJECT_ROOT
from tests.jobs.open_catalogue import OpenCatalogue, artist_mbid, song_isrc, song_mbid

JAN_2012, FEB_2012 = 1_325_376_000, 1_328_054_400
N_PLAYLISTS = 40  # train.txt's first 40 playlists, 20 users
STEP, GAP = 210, 2 * 3600


@pytest.fixture(scope="module")
def catalogue(shared_data) -> OpenCatalogue:
    return OpenCatalogue.load(shared_data / "yes_big", n_playlists=0)


def yes_playlists(shared_data: Path) -> list[list[int]]:
    lines = (shared_data / "yes_big" / "train.txt").read_text().splitlines()[2 : 2 + N_PLAYLISTS]
    return [[int(s) for s in line.split()] for line in lines]


def listen(user: str, at: int, song_id: int, cat: OpenCatalogue) -> dict:
    song = cat.songs[song_id]
    meta: dict = {"artist_name": song.artist, "track_name": song.title, "additional_info": {}}
    if song_id % 3 == 0:
        meta["additional_info"]["isrc"] = song_isrc(song_id)
    if song_id % 2 == 0:
        meta["mbid_mapping"] = {"recording_mbid": song_mbid(song_id), "artist_mbids": [artist_mbid(song.artist)]}
    return {"listened_at": at, "user_name": user, "track_metadata": meta}


def write_sample(root: Path, shared_data: Path, cat: OpenCatalogue) -> Path:
    """The sample dump folder (see the module docstring)."""
    months: dict[str, list[dict]] = {"01": [], "02": []}
    for k, pair in enumerate(range(0, N_PLAYLISTS, 2)):
        user = f"yes_listener_{k}"
        month, start = ("01", JAN_2012) if k < 10 else ("02", FEB_2012)
        at = start + (k % 10) * 86_400
        for playlist in yes_playlists(shared_data)[pair : pair + 2]:
            for song_id in playlist:
                months[month].append(listen(user, at, song_id, cat))
                at += STEP
            at += GAP
    dump = root / "listenbrainz-listens-dump-sample-yes"
    for month, listens in months.items():
        path = dump / "listens" / "2012" / f"{month}.listens"
        path.parent.mkdir(parents=True, exist_ok=True)
        listens.sort(key=lambda x: -x["listened_at"])  # latest first
        path.write_text("".join(json.dumps(x) + "\n" for x in listens))
    return dump


def implied(shared_data: Path, cat: OpenCatalogue) -> dict[str, int]:
    """Playlists, entries and tracks the sample implies."""
    playlists = entries = 0
    songs: set[int] = set()
    for playlist in yes_playlists(shared_data):
        collapsed = [s for i, s in enumerate(playlist) if i == 0 or playlist[i - 1] != s]
        if len(set(collapsed)) >= 2:
            playlists += 1
            entries += len(collapsed)
            songs.update(collapsed)
    keys = {name_key(Recording(cat.songs[s].title, (ArtistCredit(cat.songs[s].artist),))) for s in songs}
    assert len(keys) == len(songs)  # no two sample songs share a title and artist: one song, one track
    return {"playlists": playlists, "entries": entries, "tracks": len(songs)}


def stored(engine) -> dict[str, int]:
    with engine.connect() as conn:
        entries = (
            select(PlaylistTrack.track_id)
            .join(Playlist, Playlist.id == PlaylistTrack.playlist_id)
            .where(Playlist.source == "listenbrainz")
            .subquery()
        )
        return {
            "playlists": int(conn.scalar(select(func.count()).where(Playlist.source == "listenbrainz")) or 0),
            "entries": int(conn.scalar(select(func.count()).select_from(entries)) or 0),
            "tracks": int(conn.scalar(select(func.count(func.distinct(entries.c.track_id)))) or 0),
        }


@pytest.fixture
def sample(tmp_path, shared_data, catalogue) -> Path:
    return write_sample(tmp_path, shared_data, catalogue)


@pytest.mark.fast
def test_the_sample_becomes_the_playlists_it_implies_and_a_rerun_adds_nothing(
    sample, empty_engine, shared_data, catalogue
) -> None:
    want = implied(shared_data, catalogue)
    report = import_listenbrainz_dump(empty_engine, sample)
    assert report.files == 2 and report.sessions == N_PLAYLISTS  # the two-hour gaps cut every user's listens in two
    assert report.playlists_new == want["playlists"] and report.tracks_new == want["tracks"]
    assert stored(empty_engine) == want
    with empty_engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Track)) == want["tracks"]
    again = import_listenbrainz_dump(empty_engine, sample)
    assert again.files_skipped == 2 and again.playlists_new == 0 and stored(empty_engine) == want


@pytest.mark.fast
def test_an_interrupted_import_resumes_and_the_tar_layout_reads_the_same(
    sample, tmp_path, empty_engine, shared_data, catalogue
) -> None:
    want = implied(shared_data, catalogue)
    first = import_listenbrainz_dump(empty_engine, sample, max_files=1)  # stopped after January
    assert first.files == 1 and 0 < stored(empty_engine)["playlists"] < want["playlists"]
    rest = import_listenbrainz_dump(empty_engine, sample)
    assert rest.files_skipped == 1 and rest.files == 1 and stored(empty_engine) == want
    archive = tmp_path / "listenbrainz-listens-dump-sample-yes.tar.xz"
    with tarfile.open(archive, "w:xz") as tar:
        tar.add(sample, arcname=sample.name)
    from data.db import make_engine, migrate

    other = make_engine(f"sqlite:///{tmp_path / 'tar.db'}")
    migrate(other)
    assert import_listenbrainz_dump(other, archive).files == 2 and stored(other) == want
    other.dispose()


@pytest.mark.fast
def test_in_the_real_corpus_every_sample_song_is_matched_to_its_yes_track(
    sample, empty_engine, shared_data, catalogue
) -> None:
    import_yes(empty_engine, shared_data / "yes_big", limit=10)
    with empty_engine.connect() as conn:
        tracks_before = conn.scalar(select(func.count()).select_from(Track))
    report = import_listenbrainz_dump(empty_engine, sample)
    assert report.tracks_new == 0 and report.playlists_new == implied(shared_data, catalogue)["playlists"]
    with empty_engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Track)) == tracks_before


def test_the_command(sample, tmp_path) -> None:
    env = {**os.environ, "MUREC_HOME": str(tmp_path / "home"), "DATABASE_URL": ""}
    cmd = [sys.executable, "-m", "murecom_cli", "import", "listenbrainz"]
    res = subprocess.run([*cmd, str(sample)], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "DumpReport(files=2" in res.stdout and "playlists_new=0" not in res.stdout
    again = subprocess.run([*cmd, str(sample)], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert "files_skipped=2" in again.stdout and "playlists_new=0" in again.stdout
    missing = subprocess.run(cmd, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert missing.returncode == 2 and "needs the path" in missing.stdout


@pytest.mark.fast
def test_sessions_cut_at_gaps_over_30_minutes_and_repeats_collapse(catalogue) -> None:
    from data.importers.listenbrainz_dump import listen_from_json, session_playlist, sessions

    songs = [1167, 557, 557, 473]  # Hotel California, Bohemian Rhapsody played twice in a row, Let It Be
    at = [JAN_2012, JAN_2012 + 30 * 60, JAN_2012 + 31 * 60, JAN_2012 + 31 * 60 + 30 * 60 + 1]
    listens = [listen_from_json(listen("u", t, s, catalogue)) for t, s in zip(at, songs, strict=True)]
    cut = list(sessions([x for x in reversed(listens) if x is not None]))
    assert [[x.recording.title for x in s] for s in cut] == [
        ["Hotel California", "Bohemian Rhapsody", "Bohemian Rhapsody"],  # a gap of exactly 30 minutes keeps going
        ["Let It Be"],  # 30 minutes and a second later: a new session
    ]
    first = session_playlist(cut[0])
    assert first is not None and [r.title for r in first[2]] == ["Hotel California", "Bohemian Rhapsody"]
    assert first[0] == f"session:u:{JAN_2012}" and session_playlist(cut[1]) is None  # one song is no playlist

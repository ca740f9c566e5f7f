"""Storing open-data recordings in a real corpus (the Yes.com import, by the real importer): matched by MBID, then
ISRC, then normalised title and artist, else added; idempotent; one playlist whole or not at all. The songs are real
Yes.com songs (titles and artists of song_hash.txt); only their MBIDs and ISRCs are the fakes' made-up ids."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text

from data.importers.open_recordings import store_open_playlist
from data.importers.yes import import_yes
from data.models import Artist, Playlist, PlaylistTrack, Track, TrackArtist
from data.recordings import ArtistCredit, Recording
from tests.jobs.open_catalogue import OpenCatalogue, Song

pytestmark = pytest.mark.fast


@pytest.fixture(scope="module")
def catalogue(shared_data) -> OpenCatalogue:
    return OpenCatalogue.load(shared_data / "yes_big", n_playlists=5)


@pytest.fixture
def corpus(empty_engine, shared_data):
    """A writable copy of the real corpus: every Yes.com song and artist, the first 50 playlists."""
    import_yes(empty_engine, shared_data / "yes_big", limit=50)
    return empty_engine


def rec(song: Song, *, title: str | None = None, mbid: str | None = "song", isrc: bool = True) -> Recording:
    return Recording(
        title=title or song.title,
        artists=(ArtistCredit(song.artist, song.artist_mbid),),
        mbid=song.mbid if mbid == "song" else mbid,
        isrcs=(song.isrc,) if isrc else (),
    )


def counts(engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            m.__tablename__: int(conn.scalar(select(func.count()).select_from(m)) or 0)
            for m in (Track, Artist, Playlist, PlaylistTrack, TrackArtist)
        }


def yes_track(engine, song: Song) -> tuple[int, str | None, str | None]:
    with engine.connect() as conn:
        row = conn.execute(
            select(Track.id, Track.mbid, Track.isrc).where(Track.source == "yes", Track.source_key == str(song.id))
        ).one()
    return row[0], row[1], row[2]


def playlist_tracks(engine, key: str) -> list[int]:
    with engine.connect() as conn:
        return list(
            conn.scalars(
                select(PlaylistTrack.track_id)
                .join(Playlist, Playlist.id == PlaylistTrack.playlist_id)
                .where(Playlist.source == "listenbrainz", Playlist.source_key == key)
                .order_by(PlaylistTrack.position)
            )
        )


def test_a_playlist_of_corpus_songs_matches_every_song_by_name_then_by_id(corpus, catalogue) -> None:
    _, ids = catalogue.playlists[0]
    songs = [catalogue.songs[i] for i in ids]
    before = counts(corpus)
    report = store_open_playlist(corpus, "listenbrainz", "p1", "first", [rec(s) for s in songs])
    assert report.playlists_new == 1 and report.tracks_new == 0 and report.matched["name"] == len(songs)
    assert playlist_tracks(corpus, "p1") == [yes_track(corpus, s)[0] for s in songs]  # the Yes.com tracks, in order
    after = counts(corpus)
    assert after["tracks"] == before["tracks"] and after["artists"] == before["artists"]
    assert after["playlists"] == before["playlists"] + 1
    # the matched tracks learned their ids, so the next playlist is matched by MBID
    assert yes_track(corpus, songs[0])[1:] == (songs[0].mbid, songs[0].isrc)
    again = store_open_playlist(corpus, "listenbrainz", "p2", "same songs", [rec(s) for s in songs])
    assert again.matched["mbid"] == len(songs) and again.tracks_new == 0


def test_isrc_and_title_variants_match_the_same_track(corpus, catalogue) -> None:
    hotel = catalogue.songs[1167]  # Hotel California, The Eagles
    gucci = catalogue.songs[0]  # Gucci Time (w/ Swizz Beatz), Gucci Mane
    store_open_playlist(corpus, "listenbrainz", "a", "a", [rec(hotel), rec(gucci)])
    hotel_id = yes_track(corpus, hotel)[0]
    # another recording (a re-release: other MBID, other title) carrying the same ISRC
    live = rec(hotel, title="Hotel California (Remastered)", mbid="11111111-1111-4111-8111-111111111111")
    # the title without its "(w/ …)" part, with other case and punctuation, and no ids at all
    bare = Recording(title="gucci time!", artists=(ArtistCredit("GUCCI MANE"),))
    report = store_open_playlist(corpus, "listenbrainz", "b", "b", [live, bare])
    assert report.matched == {"isrc": 1, "name": 1} and report.tracks_new == 0
    assert playlist_tracks(corpus, "b") == [hotel_id, yes_track(corpus, gucci)[0]]


def test_unknown_songs_are_added_with_their_artists_found_by_id_then_name(corpus, catalogue) -> None:
    let_it_be = catalogue.songs[473]  # The Beatles are in the corpus
    yesterday = Recording(  # a real Beatles song the Yes.com data does not have (its "Yesterday" is Mary Mary's)
        title="Yesterday",
        artists=(ArtistCredit("The Beatles", "b10bbbfc-cf9e-42e0-be17-e2c3e1d2600d"),),
        mbid="22222222-2222-4222-8222-222222222222",
    )
    before = counts(corpus)
    report = store_open_playlist(corpus, "listenbrainz", "c", "c", [rec(let_it_be), yesterday])
    assert report.tracks_new == 1 and report.matched == {"name": 1, "new": 1}
    after = counts(corpus)
    assert after["tracks"] == before["tracks"] + 1 and after["artists"] == before["artists"]  # the Beatles reused
    with corpus.connect() as conn:
        new = conn.execute(select(Track.source, Track.title, Track.mbid).where(Track.mbid == yesterday.mbid)).one()
        artist = conn.execute(
            select(Artist.name, Artist.mbid).join(TrackArtist).join(Track).where(Track.mbid == yesterday.mbid)
        ).one()
    assert tuple(new) == ("listenbrainz", "Yesterday", yesterday.mbid)
    assert tuple(artist) == ("The Beatles", "b10bbbfc-cf9e-42e0-be17-e2c3e1d2600d")  # learned its MBID


def test_storing_again_adds_nothing(corpus, catalogue) -> None:
    playlists = [(f"p{line}", [rec(catalogue.songs[i]) for i in ids]) for line, ids in catalogue.playlists]
    for key, recs in playlists:
        store_open_playlist(corpus, "listenbrainz", key, key, recs)
    once = counts(corpus)
    for key, recs in playlists:
        assert store_open_playlist(corpus, "listenbrainz", key, key, recs).playlists_skipped == 1
    assert counts(corpus) == once


def test_a_playlist_that_fails_half_way_leaves_nothing(corpus, catalogue) -> None:
    _, ids = catalogue.playlists[1]
    new_songs = [
        Recording(title=catalogue.songs[i].title, artists=(ArtistCredit(f"{catalogue.songs[i].artist} Tribute Band"),))
        for i in ids
    ]
    before = counts(corpus)
    with corpus.begin() as conn:  # the database refuses the playlist's entries, after its tracks were written
        conn.execute(
            text("CREATE TRIGGER refuse BEFORE INSERT ON playlist_tracks BEGIN SELECT RAISE(ABORT, 'refused'); END")
        )
    with pytest.raises(Exception, match="refused"):
        store_open_playlist(corpus, "listenbrainz", "half", "half", new_songs)
    assert counts(corpus) == before  # no tracks, artists or playlist of it remain
    with corpus.begin() as conn:
        conn.execute(text("DROP TRIGGER refuse"))
    report = store_open_playlist(corpus, "listenbrainz", "half", "half", new_songs)
    assert report.playlists_new == 1 and report.tracks_new == len({r.title for r in new_songs})

"""A song the corpus lacks, named in the chat: looked up on MusicBrainz, answered at once with labelled picks from
ListenBrainz's co-listening and the fallback chain, queued, learnt by the `listenbrainz` job, and after a retrain
answered by the CF model like any other song.

The world is real data: the fakes serve every Yes.com song (MusicBrainz) and the Yes.com playlists as listening
sessions (ListenBrainz, `tests/jobs/open_catalogue.py`); the bot's corpus is the first 6,000 Yes.com playlists with
one real song taken out — "Take It Easy" by The Eagles — so the bot has never heard of it, while the world has.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time

import pytest
from sqlalchemy import delete, func, select

from bot.app import build_core
from bot.replies import ChatContext, Reply
from data.corpus import Corpus
from data.db import make_engine, migrate
from data.importers.yes import import_yes
from data.kv import read_prefixed
from data.models import Playlist, PlaylistTrack, Track, TrackArtist
from data.settings import Settings
from jobs import tasks
from jobs.listenbrainz import ListenBrainzClient
from jobs.open_playlists import WANTED_PREFIX
from jobs.song_lookup import LOOKUP_QUEUE, LOOKUP_WAIT_BUDGET, LOOKUP_WORKERS
from recommenders.artifacts import ArtifactStore
from recommenders.cf.training import train_and_publish
from tests.jobs.fake_listenbrainz import FakeListenBrainz
from tests.jobs.fake_musicbrainz import FakeMusicBrainz
from tests.jobs.fake_spotify import Catalogue, FakeSpotify
from tests.jobs.fake_spotify import _id as spotify_id_of
from tests.jobs.open_catalogue import OpenCatalogue, song_isrc

pytestmark = pytest.mark.heavy  # two item-kNN fits on 6,000 real playlists, real processes of the fakes
ANN = ChatContext("telegram", "new-songs", "u-ann", "Ann", private=True, admin=True)
TAKE_IT_EASY = "1858"  # Yes.com's id of "Take It Easy" by The Eagles


@pytest.fixture(scope="module")
def world(shared_data):
    """Both fakes on real time (the clients wait real seconds: one MusicBrainz request a second)."""
    catalogue = OpenCatalogue.load(shared_data / "yes_big", n_playlists=3000)
    musicbrainz = FakeMusicBrainz(catalogue, time.monotonic).start()  # type: ignore[arg-type]
    listenbrainz = FakeListenBrainz(catalogue, time.monotonic, limit=100, window=10.0).start()  # type: ignore[arg-type]
    yield musicbrainz, listenbrainz
    musicbrainz.stop()
    listenbrainz.stop()


@pytest.fixture
def home(tmp_path, shared_data, world):
    """A bot home over 6,000 real playlists without "Take It Easy", item-kNN published, pointed at the fakes."""
    musicbrainz, listenbrainz = world
    settings = Settings.from_env({"MUREC_HOME": str(tmp_path), **musicbrainz.env(), **listenbrainz.env()}, dotenv=False)
    engine = make_engine(settings.database_url)
    migrate(engine)
    import_yes(engine, shared_data / "yes_big", limit=6000)
    with engine.begin() as conn:
        [track] = conn.execute(select(Track.id).where(Track.source == "yes", Track.source_key == TAKE_IT_EASY)).one()
        conn.execute(delete(PlaylistTrack).where(PlaylistTrack.track_id == track))
        conn.execute(delete(TrackArtist).where(TrackArtist.track_id == track))
        conn.execute(delete(Track).where(Track.id == track))
    train_and_publish(Corpus(engine), ArtifactStore(settings.models_dir), models=["itemknn"], evaluate=False)
    yield settings, engine
    engine.dispose()


def spotify_track_id(song: int) -> str:
    """The fake Spotify's id of a Yes.com song."""
    return spotify_id_of("t", song)


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment these settings were built from (the home and the fakes' addresses)."""
    return {"MUREC_HOME": str(settings.home), "MUREC_CONTACT": settings.contact,
            "MUSICBRAINZ_URL": settings.musicbrainz_url, "LISTENBRAINZ_URL": settings.listenbrainz_url,
            "LISTENBRAINZ_LABS_URL": settings.listenbrainz_labs_url}  # fmt: skip


@contextlib.contextmanager
def settings_engine(settings: Settings):
    engine = make_engine(settings.database_url)
    try:
        yield engine
    finally:
        engine.dispose()


def ask(settings: Settings, text: str):
    core = build_core(settings)
    try:
        [reply] = asyncio.run(core.handle_text(ANN, text))
        return reply
    finally:
        core.close()


def test_a_song_the_corpus_lacks_is_answered_then_learnt(home, world, shared_data) -> None:
    settings, engine = home
    reply = ask(settings, "/similar take it easy eagles")
    assert reply.kind == "recommendations", reply.text
    assert reply.title == "Similar to Take It Easy — The Eagles"
    assert "is new to me: I looked it up on MusicBrainz" in reply.text and "queued it" in reply.text
    reasons = [t.reason for t in reply.tracks]
    assert len(reply.tracks) == 10 and all(r.startswith("new to me · ") for r in reasons), reasons
    assert reasons[0] == "new to me · listened with it on ListenBrainz"  # the co-listened recordings come first
    assert "Take It Easy" not in {t.title for t in reply.tracks}
    with engine.connect() as conn:
        stored = conn.execute(select(Track.source, Track.mbid).where(Track.title == "Take It Easy")).all()
    assert [s for s, _ in stored].count("musicbrainz") == 1  # stored once, with its MusicBrainz id
    assert len(read_prefixed(engine, WANTED_PREFIX)) == 1

    musicbrainz, _ = world
    asked = len(musicbrainz.requests)
    again = ask(settings, "/similar Take It Easy - The Eagles")  # now a corpus track, not yet in the CF model
    assert again.title == reply.title and len(musicbrainz.requests) == asked  # found in the corpus: no look-up
    assert {t.reason for t in again.tracks} == {"by the same artist"}  # the fallback chain, until it is learnt

    learnt = tasks.listenbrainz(settings, client=ListenBrainzClient(settings))
    assert learnt["wanted"]["playlists_new"] == 1 and not read_prefixed(engine, WANTED_PREFIX)
    with engine.connect() as conn:
        [key] = conn.execute(select(Playlist.source_key).where(Playlist.source == "listenbrainz")).scalars()
    assert key.startswith("similar:")
    train_and_publish(Corpus(engine), ArtifactStore(settings.models_dir), models=["itemknn"], evaluate=False)

    learnt_reply = ask(settings, "/similar take it easy eagles")
    assert learnt_reply.title == "Similar to Take It Easy — The Eagles"
    assert learnt_reply.tracks[0].reason.startswith("appears with it in "), learnt_reply.tracks[0].reason
    # a link to it now too: MusicBrainz's recording (by ISRC) is the corpus track the model has learnt
    spotify = FakeSpotify(Catalogue(shared_data / "yes_big", n_playlists=3000)).start()
    try:
        with_spotify = Settings.from_env({**settings_env(settings), **spotify.env()}, dotenv=False)
        linked = ask(with_spotify, f"/similar https://open.spotify.com/track/{spotify_track_id(1858)}")
    finally:
        spotify.stop()
    assert linked.title == learnt_reply.title and [t.track_id for t in linked.tracks] == [
        t.track_id for t in learnt_reply.tracks
    ]


def test_without_a_contact_nothing_calls_out_and_the_song_is_said_to_be_unknown(home, world) -> None:
    settings, _ = home
    musicbrainz, _ = world
    before = len(musicbrainz.requests)
    reply = ask(dataclasses.replace(settings, contact=""), "/similar take it easy eagles")
    assert reply.text.startswith("I don't know “take it easy eagles” yet.") and not reply.tracks
    assert len(musicbrainz.requests) == before


def test_a_name_musicbrainz_does_not_surely_know_is_not_guessed(home) -> None:
    settings, _ = home
    reply = ask(settings, "/similar zqxv wobbly nonsense tune")
    assert reply.text.startswith("I don't know “zqxv wobbly nonsense tune” yet. MusicBrainz has nothing")


def test_a_spotify_link_is_resolved_through_its_isrc_and_nothing_of_spotifys_is_kept(home, world, shared_data) -> None:
    """Spotify says the link's title, artists and ISRC (GET /tracks/{id}, its only call); MusicBrainz's recording of
    that ISRC is what is stored and answered. An episode link is refused before any request."""
    settings, engine = home
    musicbrainz, _ = world
    spotify = FakeSpotify(Catalogue(shared_data / "yes_big", n_playlists=3000)).start()
    try:
        with_spotify = Settings.from_env({**settings_env(settings), **spotify.env()}, dotenv=False)
        link = f"https://open.spotify.com/track/{spotify_track_id(1858)}?si=abc"
        reply = ask(with_spotify, f"/similar {link}")
        assert reply.title == "Similar to Take It Easy — The Eagles" and "is new to me" in reply.text
        assert any(f"/ws/2/isrc/{song_isrc(1858)}?" in r for r in musicbrainz.requests)
        assert [r.split("?")[0] for r in spotify.api_requests()] == [f"GET /v1/tracks/{spotify_track_id(1858)}"]
        with engine.connect() as conn:
            sources = set(conn.execute(select(Track.source).where(Track.title == "Take It Easy")).scalars())
        assert "spotify" not in sources
        asked = len(spotify.requests)
        episode = ask(with_spotify, "/similar https://open.spotify.com/episode/4rOoJ6Egrf8K2IrywzwOMk")
        assert episode.text == (
            "I cannot use that Spotify link: that is a podcast episode or show, not a song; send me a link to a song."
        )
        assert len(spotify.requests) == asked
    finally:
        spotify.stop()
    without = ask(settings, f"/similar https://open.spotify.com/track/{spotify_track_id(1107)}")
    assert "I can look up Spotify links only when I am set up to" in without.text  # no Spotify credentials


def test_musicbrainz_down_gets_a_clear_reply_in_bounded_time_and_nothing_stored(home, world) -> None:
    settings, engine = home
    musicbrainz, _ = world
    with engine.connect() as conn:
        before = conn.scalar(select(func.count()).select_from(Track))
    musicbrainz.outage = 503
    try:
        t0 = time.monotonic()
        reply = ask(settings, "/similar take it easy eagles")
        took = time.monotonic() - t0
    finally:
        musicbrainz.outage = None
    assert reply.text == (
        "I don't know “take it easy eagles” yet. I could not ask MusicBrainz about it now; please try again later. "
        "These are the songs by The Eagles I know:"  # what it can do meanwhile: the artist named
    )
    assert reply.buttons and all("The Eagles" in row[0].label for row in reply.buttons)
    assert took < LOOKUP_WAIT_BUDGET + 10, took  # the look-up's waits are bounded by its budget
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Track)) == before


def test_fifty_links_at_once_are_one_look_up_per_song(home, world, shared_data) -> None:
    """50 people paste links to 10 songs at the same moment: each song is looked up at most once (one Spotify request
    per track), every paste of a song gets the same answer, and past what MusicBrainz's pace allows within the wait
    budget (`LOOKUP_WORKERS + LOOKUP_QUEUE` songs at once) the rest are told at once to try again."""
    settings, _ = home
    catalogue = Catalogue(shared_data / "yes_big", n_playlists=3000)
    known = sorted(int(track["id"][1:]) for track in catalogue.tracks.values())
    with settings_engine(settings) as engine, engine.connect() as conn:
        in_corpus = {int(k) for k in conn.execute(select(Track.source_key).where(Track.source == "yes")).scalars()}
    songs = [s for s in known if s not in in_corpus][:1] + [s for s in known if s in in_corpus][:9]
    spotify = FakeSpotify(catalogue).start()
    spotify.stall(
        "/v1/tracks/", 2.0
    )  # Spotify answers slowly: every look-up is still running when the last paste comes
    try:
        with_spotify = Settings.from_env({**settings_env(settings), **spotify.env()}, dotenv=False)
        core = build_core(with_spotify)

        async def paste(i: int) -> tuple[int, Reply]:
            who = ChatContext("telegram", f"chat-{i}", f"u-{i}", f"U{i}", private=True)
            song = songs[i % len(songs)]
            [reply] = await core.handle_text(who, f"/similar https://open.spotify.com/track/{spotify_track_id(song)}")
            return song, reply

        async def everyone() -> list[tuple[int, Reply]]:
            return await asyncio.gather(*(paste(i) for i in range(50)))

        t0 = time.monotonic()
        try:
            answers = asyncio.run(everyone())
        finally:
            core.close()
        took = time.monotonic() - t0
        lookups = [r for r in spotify.api_requests() if r.startswith("GET /v1/tracks/")]
    finally:
        spotify.stop()
    busy = "I am looking up many new songs right now; please try again in a minute."
    outcomes = {song: {(r.kind, r.title or r.text) for s, r in answers if s == song} for song in songs}
    assert all(len(o) == 1 for o in outcomes.values()), outcomes  # every paste of a song: the same answer
    answered = [song for song, o in outcomes.items() if next(iter(o))[0] == "recommendations"]
    told_busy = [song for song, o in outcomes.items() if next(iter(o)) == ("error", busy)]
    assert len(answered) == LOOKUP_WORKERS + LOOKUP_QUEUE and len(told_busy) == len(songs) - len(answered), outcomes
    assert len(lookups) == len(set(lookups)) == len(answered)  # one Spotify request per song looked up
    assert took < 3 * LOOKUP_WAIT_BUDGET, took


def test_a_name_typed_in_a_private_chat_is_looked_up_too(home) -> None:
    """Plain text in a private chat goes to /ask; a name it cannot read as anything it knows is looked up like
    /similar's."""
    settings, _ = home
    reply = ask(settings, "take it easy eagles")
    assert reply.title == "Similar to Take It Easy — The Eagles" and "is new to me" in reply.text

"""Radio and tag stations with an injected wall clock: picks follow each track, steer with likes, stop when nobody
listens, survive a restart, and two processes never post one slot twice; session export as a playlist file."""

from __future__ import annotations

import asyncio
import json
import shutil

import pytest

from bot.app import build_app
from bot.radio import RadioScheduler
from bot.replies import ChatContext, Reply
from data.settings import Settings

ANN = ChatContext("console", "radio-chat", "u-ann", "Ann")
BOB = ChatContext("console", "radio-chat", "u-bob", "Bob")
TRACK = 210.0  # Yes.com has no durations: the default length of a track


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


class Chat:
    """An announcer: what the radio posts to each chat, as a bot's platform adapter would send it."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, list[Reply]]] = []

    async def __call__(self, chat_id: str, replies: list[Reply]) -> None:
        self.posts.append((chat_id, replies))


@pytest.fixture
def home(tmp_path, bot_home):
    shutil.copytree(bot_home, tmp_path / "home")
    return tmp_path / "home"


def make(home, clock):
    app = build_app(Settings.from_env({"MUREC_HOME": str(home)}), wall_clock=clock)
    chat = Chat()
    return app, chat, RadioScheduler(app.core, {"console": chat})


def say(app, ctx, text):
    return asyncio.run(app.core.handle_text(ctx, text))


def played_ids(replies: list[Reply]) -> list[int]:
    return [t.track_id for r in replies for t in r.tracks]


def test_radio_follows_tracks_steers_stops_when_ignored_and_survives_a_restart(home) -> None:
    clock = Clock()
    app, chat, radio = make(home, clock)
    assert "Radio plays for a session" in say(app, ANN, "/radio")[0].text
    on, first = say(app, ANN, "/radio hotel california")
    assert "Radio on" in on.text and first.title == "📻 Radio" and len(first.tracks) == 1
    played = played_ids([first])
    assert asyncio.run(radio.tick()) == 0, "nothing is due before the first track has played"

    clock.now += TRACK
    assert asyncio.run(radio.tick()) == 1
    assert asyncio.run(radio.tick()) == 0, "one post per slot"
    played += played_ids(chat.posts[-1][1])
    assert "likes" in say(app, BOB, "/session like")[0].text  # a reaction: the radio is being listened to

    # restart: a new process over the same database carries on where the old one stopped
    app, chat, radio = make(home, clock)
    for _ in range(4):
        clock.now += TRACK
        assert asyncio.run(radio.tick()) == 1
        played += played_ids(chat.posts[-1][1])
    assert len(played) == len(set(played)) == 6, "a track was played twice"
    assert "Bob" in chat.posts[-1][1][0].tracks[0].reason or "Ann" in chat.posts[-1][1][0].tracks[0].reason

    # nobody reacts any more: after the idle limit the radio says it stops, and then stays quiet
    for _ in range(6):
        clock.now += TRACK
        asyncio.run(radio.tick())
    last = chat.posts[-1][1][0]
    assert "nobody reacted to the last 5 picks" in last.text
    posts = len(chat.posts)
    clock.now += 10 * TRACK
    assert asyncio.run(radio.tick()) == 0 and len(chat.posts) == posts
    assert "not on" in say(app, ANN, "/radio stop")[0].text


def test_two_workers_never_post_the_same_slot(home) -> None:
    clock = Clock()
    one, chat_one, radio_one = make(home, clock)
    two, chat_two, radio_two = make(home, clock)
    say(one, ANN, "/radio black and yellow")
    for _ in range(5):
        clock.now += TRACK

        async def both() -> list[int]:
            return list(await asyncio.gather(radio_one.tick(), radio_two.tick()))

        assert sum(asyncio.run(both())) == 1, "exactly one process posts each slot"
    posted = [t for _, replies in chat_one.posts + chat_two.posts for t in played_ids(replies)]
    assert len(posted) == 5 == len(set(posted))


def test_radio_stop_and_session_end_silence_it(home) -> None:
    clock = Clock()
    app, chat, radio = make(home, clock)
    say(app, ANN, "/radio hotel california")
    assert "Radio off" in say(app, ANN, "/radio stop")[0].text
    clock.now += TRACK
    assert asyncio.run(radio.tick()) == 0
    say(app, ANN, "/radio")
    say(app, ANN, "/session end")
    clock.now += 2 * TRACK
    assert asyncio.run(radio.tick()) == 0


def test_a_tag_station_plays_the_tag_beyond_its_hits(home) -> None:
    clock = Clock()
    app, chat, radio = make(home, clock)
    tags = app.watcher.current().tags
    replies = say(app, ANN, "/radio 80s rock")
    assert "80s rock station" in replies[0].text
    played = played_ids(replies)
    for i in range(7):
        clock.now += TRACK
        assert asyncio.run(radio.tick()) == 1
        played += played_ids(chat.posts[-1][1])
        if i % 3 == 2:
            say(app, BOB, "/session like")  # somebody listens: the radio keeps going past its idle limit
    assert len(played) == len(set(played)) == 8
    carrying = [t for t in played if "80s rock" in tags.tags_of(t)]
    assert len(carrying) >= 6, "the station drifted away from its tag"
    hits = {t for t, _ in tags.representative(["80s rock"], k=200)}
    popular = sorted(hits, key=lambda t: -app.corpus.track_info([t])[t].popularity)[:8]
    assert set(played) != set(popular), "the station is only the tag's hits"


def test_an_unknown_tag_is_offered_the_closest_stations(home) -> None:
    app, _, _ = make(home, Clock())
    [choices] = say(app, ANN, "/radio chillwav")
    assert choices.kind == "choices"
    actions = [b.action for row in choices.buttons for b in row]
    assert "radio:tag:chill" in actions
    on, pick = asyncio.run(app.core.handle_action(ANN, "radio:tag:chill"))
    assert "chill station" in on.text and pick.tracks


def test_session_who_shows_taste_match_and_export_is_a_playlist(home) -> None:
    app, _, _ = make(home, Clock())
    say(app, ANN, "/session start")
    say(app, ANN, "/session add hotel california")
    say(app, BOB, "/session add life in the fast lane")
    assert "nothing to export" in say(app, ANN, "/session export")[0].text
    picks = [say(app, ctx, "/session next")[0] for ctx in (ANN, BOB, ANN)]
    assert any("close to Hotel California" in p.tracks[0].reason for p in picks)
    say(app, BOB, "/session like")
    [who] = say(app, ANN, "/session who")
    assert "Taste match:" in who.text and "Ann & Bob:" in who.text
    match = int(who.text.split("Ann & Bob: ")[1].split("%")[0])
    assert match > 10, "two Eagles songs: tastes that match"

    [export] = say(app, ANN, "/session export")
    files = dict(export.files)
    m3u = files[next(n for n in files if n.endswith(".m3u"))].decode()
    entries = parse_m3u(m3u)
    assert [title for title, _ in entries] == [f"{p.tracks[0].artist} - {p.tracks[0].title}" for p in picks]
    assert all(url.startswith("https://open.spotify.com/") for _, url in entries)
    data = json.loads(files[next(n for n in files if n.endswith(".json"))])
    assert [t["title"] for t in data["tracks"]] == [p.tracks[0].title for p in picks]
    assert data["tracks"][-1]["liked_by"] == ["Bob"] and data["tracks"][0]["played_for"] == "Ann"


def parse_m3u(text: str) -> list[tuple[str, str]]:
    """A strict extended-M3U reader: header first, every #EXTINF:<int>,<title> followed by one location line."""
    lines = [line for line in text.splitlines() if line.strip()]
    assert lines[0] == "#EXTM3U"
    entries, pending = [], None
    for line in lines[1:]:
        if line.startswith("#EXTINF:"):
            assert pending is None, "two #EXTINF without a location"
            duration, _, title = line[len("#EXTINF:") :].partition(",")
            int(duration)
            pending = title
        elif line.startswith("#"):
            continue
        else:
            assert pending is not None, f"location without #EXTINF: {line}"
            entries.append((pending, line))
            pending = None
    assert pending is None
    return entries

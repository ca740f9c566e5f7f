"""/ask and plain text in a private chat, through the chat core with the real search, a real model, the real tag
index and the real database: what a person sees over a conversation, and the state kept between turns."""

from __future__ import annotations

import asyncio
import shutil

from bot.app import build_app
from bot.commands import ASK, SIMILAR
from bot.replies import ChatContext
from data.settings import Settings

DM = ChatContext("telegram", "dm-ask", "u-ask", "Asker", private=True)


def run(coro):
    return asyncio.run(coro)


def test_a_sentence_in_a_private_chat_is_a_request_with_reasons(core) -> None:
    [reply] = run(core.handle_text(DM, "something chill like hotel california for a road trip"))
    assert reply.kind == "recommendations", reply.as_text()
    assert "like Hotel California" in reply.title and "chill" in reply.title and "driving" in reply.title
    assert len(reply.tracks) == 10
    assert all(t.reason.startswith("like Hotel California") for t in reply.tracks[:5])
    assert any("tagged" in t.reason for t in reply.tracks)
    assert all(t.title != "Hotel California" for t in reply.tracks)

    [refined] = run(core.handle_text(DM, "no eagles, more 80s"))
    assert refined.kind == "recommendations"
    assert "no The Eagles" in refined.title and "more 80s" in refined.title
    assert all("Eagles" not in t.artist for t in refined.tracks)

    [other] = run(core.handle_text(DM, "/ask something else"))
    assert not {t.track_id for t in other.tracks} & {t.track_id for t in refined.tracks}


def test_a_bare_song_name_still_answers_as_similar(core) -> None:
    [reply] = run(core.handle_text(DM, "hotel califrnia"))
    [similar] = run(core.handle_text(DM, "/similar hotel califrnia"))
    assert reply.title == "Similar to Hotel California — The Eagles"
    assert [t.track_id for t in reply.tracks] == [t.track_id for t in similar.tracks]
    [more] = run(core.handle_text(DM, "more like the second one"))  # the /similar page is the list referred to
    assert more.kind == "recommendations" and reply.tracks[1].title in more.title
    [choices] = run(core.handle_text(DM, "tighten up"))  # a title two songs share: which one, as /similar asks
    assert choices.kind == "choices" and choices.text == "Which one do you mean?"
    [picked] = run(core.handle_action(DM, choices.buttons[0][0].action))
    assert picked.title.startswith("Similar to Tighten Up — ")


def test_bad_input_gets_clear_replies(core) -> None:
    for text, said in [
        ("/ask", "Tell me what you would like to hear"),
        ("/ask " + "la " * 3500, "long request"),
        ("/ask the of and a", "found no song, artist or mood"),
        ("/ask blorf quux zzyzx", "I don't know"),
        ("/ask no rock, only rock", "Which one do you want?"),
        ("/ask <@42> **@bot**", "only saw mentions and markup"),
    ]:
        [reply] = run(core.handle_text(ChatContext("telegram", "bad", "u-bad", "Bad"), text))
        assert reply.kind == "error" and said in reply.text, (text, reply.text)
    fresh = ChatContext("telegram", "fresh", "u-fresh", "Fresh")
    [reply] = run(core.handle_text(fresh, "/ask more like the second one"))
    assert "no earlier list" in reply.text


def test_the_conversation_is_per_user_and_expires(bot_settings) -> None:
    now = [1_000_000.0]
    core = build_app(bot_settings, wall_clock=lambda: now[0]).core
    alice = ChatContext("telegram", "group-ask", "u-a", "A")
    bob = ChatContext("telegram", "group-ask", "u-b", "B")
    [first] = run(core.handle_text(alice, "/ask songs like stairway to heaven"))
    assert first.kind == "recommendations"
    [bobs] = run(core.handle_text(bob, "/ask more like the second one"))
    assert "no earlier list" in bobs.text  # Bob has no conversation in this chat
    [again] = run(core.handle_text(alice, "/ask more like the second one"))
    assert again.kind == "recommendations" and first.tracks[1].title in again.title
    now[0] += 31 * 60
    [late] = run(core.handle_text(alice, "/ask more like the second one"))
    assert "no earlier list" in late.text


def test_plain_text_goes_to_ask_and_a_replied_clip_still_to_similar() -> None:
    assert ASK.plain_text and not SIMILAR.plain_text
    assert SIMILAR.asks_about_replied_clip and not ASK.asks_about_replied_clip


def test_radio_takes_a_station_in_words(tmp_path, bot_home) -> None:
    shutil.copytree(bot_home, tmp_path / "home")
    app = build_app(Settings.from_env({"MUREC_HOME": str(tmp_path / "home")}))
    group = ChatContext("console", "radio-words", "u-r", "R")
    on, pick = run(app.core.handle_text(group, "/radio something chill for a road trip"))
    assert "chill, driving station" in on.text and pick.tracks
    [song] = run(app.core.handle_text(ChatContext("console", "radio-song", "u-s", "S"), "/radio black and yellow"))[1:]
    assert song.tracks  # a song name still starts the song's radio

"""The Discord adapter through discord.py itself, against a strict fake Discord on 127.0.0.1 (fake_discord.py).

Why a fake of our own rather than dpytest or simcord: dpytest knows nothing of interactions, so slash commands and
buttons were called with a hand-written stand-in that bypassed option parsing, view routing, defer/follow-up
mechanics and attachment download. simcord (MIT, PyPI) is, by its own description, an in-process simulation with
no network; a fake behind discord.py's own network seams (`Route.BASE`, `DEFAULT_GATEWAY`) instead keeps every
byte of discord.py on the path users take — JSON and multipart encoding, the interaction-callback protocol,
webhook follow-ups, the rate limiter's 429 handling, CDN downloads — and answers with Discord's own error codes
(10015, 40060, 50035) where the adapter breaks a rule. It is a few hundred lines in the style of the Telegram
fake and adds no dependency.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
import pytest

from bot.app import build_core
from bot.commands import ANALYSING, COMMANDS, SESSION
from bot.core import ChatCore
from bot.discord_adapter import MurecomDiscord, render_embed
from bot.replies import Reply, TrackLine
from tests.bot.fake_discord import (
    APP_ID,
    CHANNEL_ID,
    DM_CHANNEL_ID,
    MEMBER_USER,
    OWNER_USER,
    DiscordError,
    FakeDiscord,
    check_embeds,
)

SONG = 3  # application-command option types
SUBCOMMAND = 1
ATTACHMENT = 11
UNESCAPED_MASKED_LINK = re.compile(r"(?<!\\)\[[^\]]*\]\(https?://")


@asynccontextmanager
async def running_bot(fake: FakeDiscord, settings, core: ChatCore | None = None) -> AsyncIterator[MurecomDiscord]:
    """A bot process: a new core (unless given) and a new discord.py client, connected to the fake until the end."""
    # the fake sends its one guild right after READY: no need for discord.py's 2 s wait for more guilds
    bot = MurecomDiscord(core or build_core(settings), settings, guild_ready_timeout=0.05)
    ready = asyncio.Event()

    async def on_ready() -> None:
        ready.set()

    bot.add_listener(on_ready, "on_ready")
    task = asyncio.create_task(bot.start(fake.token))
    try:
        await asyncio.wait_for(ready.wait(), 30)
        yield bot
    finally:
        await bot.close()
        await asyncio.wait_for(task, 30)


@pytest.fixture
async def dbot(fake, bot_settings) -> AsyncIterator[MurecomDiscord]:
    async with running_bot(fake, bot_settings) as bot:
        yield bot


def text_of(message: dict) -> str:
    return "\n".join(f"{e.get('title') or ''}\n{e.get('description') or ''}" for e in message["embeds"])


def custom_ids(message: dict) -> list[str]:
    return [b["custom_id"] for row in message["components"] for b in row["components"]]


async def answered(fake: FakeDiscord, token: str, count: int = 1) -> list[dict]:
    """The messages that answered an interaction, once `count` of them (follow-ups or edits) have arrived."""
    state = fake.interaction(token)
    await fake.wait_until(lambda: len(state["followups"]) >= count)
    return [fake.messages[m] for m in state["followups"]]


async def test_commands_are_synced_from_the_command_table(fake, dbot) -> None:
    by_name = {c["name"]: c for c in fake.commands}
    assert set(by_name) == {c.name for c in COMMANDS}
    session = by_name["session"]
    assert [(o["name"], o["type"]) for o in session["options"]] == [(s.name, SUBCOMMAND) for s in SESSION.subcommands]
    [song] = by_name["similar"]["options"]
    assert song["name"] == "song" and song["autocomplete"] and song["max_length"] == 200 and song["required"]
    assert by_name["similar_audio"]["options"][0]["type"] == ATTACHMENT


async def test_slash_similar_defers_then_replaces_the_loading_message(fake, dbot) -> None:
    token = await fake.slash("similar", [{"name": "song", "type": SONG, "value": "stairway to heaven"}])
    [answer] = await answered(fake, token)
    state = fake.interaction(token)
    assert state["acked"] == 5  # "thinking" defer first
    assert int(answer["id"]) == state["original"]  # the follow-up replaced the loading message
    assert answer["embeds"][0]["title"] == "Similar to Stairway To Heaven — Led Zeppelin"
    assert text_of(answer).count("](https://open.spotify.com/") == 5
    assert custom_ids(answer) == [next(i for i in custom_ids(answer) if i.startswith("m:page:"))]
    assert fake.errors == []


async def test_autocomplete_offers_song_names(fake, dbot) -> None:
    token = await fake.autocomplete("similar", [{"name": "song", "type": SONG, "value": "hotel cal", "focused": True}])
    choices = await fake.wait_until(lambda: fake.interaction(token)["choices"])
    assert choices[0]["name"] == "Hotel California — The Eagles"
    assert fake.errors == []


async def test_buttons_pick_page_and_survive_a_restart(fake, bot_settings) -> None:
    async with running_bot(fake, bot_settings):
        token = await fake.slash("similar", [{"name": "song", "type": SONG, "value": "eagles"}])
        [choices] = await answered(fake, token)
        picks = custom_ids(choices)
        assert len(picks) == 5 and all(p.startswith("m:pick:") for p in picks)
        press = await fake.click(int(choices["id"]), picks[0])
        await fake.wait_until(lambda: fake.messages[int(choices["id"])]["embeds"][0].get("title"))
        picked = fake.messages[int(choices["id"])]  # edited in place
        assert fake.interaction(press)["acked"] == 6
        assert picked["embeds"][0]["title"].startswith("Similar to ") and "Eagles" in picked["embeds"][0]["title"]
        [nxt] = custom_ids(picked)
    async with running_bot(fake, bot_settings):  # a new process: no view of the old one is in memory
        edited_before = picked["edited_timestamp"]
        press = await fake.click(int(picked["id"]), nxt)
        await fake.wait_until(lambda: fake.messages[int(picked["id"])]["edited_timestamp"] != edited_before)
        page2 = fake.messages[int(picked["id"])]
        assert "**6. [" in text_of(page2) and page2["embeds"][0]["footer"]["text"].startswith("page 2/")
        assert [i.split(":")[1] for i in custom_ids(page2)] == ["page", "page"]  # previous and next
    assert fake.errors == []


async def test_session_subcommands_and_buttons(fake, dbot) -> None:
    def sub(name: str, options: list | None = None) -> list[dict]:
        return [{"name": name, "type": SUBCOMMAND, "options": options or []}]

    for name, options, expected in [
        ("start", [], "Session started by Dana"),
        ("join", [], "Dana, you are already in."),
        ("add", [{"name": "song", "type": SONG, "value": "smells like teen spirit"}], "added Smells Like Teen Spirit"),
        ("next", [], "Now playing for the group"),
        ("like", [], "Dana likes "),
        ("who", [], "Dana: 2 songs, served 1×"),
    ]:
        [answer] = await answered(fake, await fake.slash("session", sub(name, options)))
        assert expected in text_of(answer), (name, text_of(answer))
    skipped, playing = await answered(fake, await fake.slash("session", sub("skip")), count=2)
    assert text_of(skipped).strip().startswith("Skipped ") and "Now playing for the group" in text_of(playing)
    assert [i.split(":", 2)[2] for i in custom_ids(playing)] == ["like", "skip", "next"]
    press = await fake.click(int(playing["id"]), "m:sess:next")  # a session button: the next pick, in place
    await fake.wait_until(
        lambda: fake.interaction(press)["acked"] == 6 and fake.messages[int(playing["id"])] != playing
    )
    assert "Now playing for the group" in text_of(fake.messages[int(playing["id"])])
    [ended] = await answered(fake, await fake.slash("session", sub("end")))
    assert "Session ended after 3 picks" in text_of(ended)
    assert fake.errors == []


async def test_help_and_about(fake, dbot) -> None:
    [help_] = await answered(fake, await fake.slash("help"))
    assert text_of(help_).startswith("\nI recommend music.")
    assert "/session start" in text_of(help_)
    [about] = await answered(fake, await fake.slash("about"))
    assert "18,139 playlists" in text_of(about)


async def test_echoed_masked_link_is_inert(fake, dbot) -> None:
    """An echoed query must not become a clickable masked link (or a ping) in the bot's own embed."""
    query = "[Verify account](https://example.invalid/x) @everyone"
    [answer] = await answered(fake, await fake.slash("similar", [{"name": "song", "type": SONG, "value": query}]))
    text = text_of(answer)
    assert "Verify account" in text
    assert not UNESCAPED_MASKED_LINK.search(text), text
    assert "@everyone" not in text  # escape_mentions breaks the ping with a zero-width space


async def test_bang_message_with_audio_attachment(fake, dbot, wesnoth_clip) -> None:
    before = max(fake.messages, default=0)
    await fake.send_user_message("", attachments=[("clip.ogg", wesnoth_clip, "audio/ogg")], mention_bot=True)
    answer = await fake.wait_until(lambda: [m for m in fake.channel_messages(before) if m["embeds"]])
    [answer] = answer
    assert answer["embeds"][0]["title"].startswith("Tracks that sound like your clip")
    assert answer["embeds"][0]["image"]["url"] == "attachment://chart.png"
    assert [a["filename"] for a in answer["attachments"]] == ["chart.png"]
    assert "**1. [" in text_of(answer) and "— wesnoth" in text_of(answer).split("**2. [")[0]
    await fake.wait_until(lambda: fake.deleted)  # the progress message is gone
    [progress] = [m for m in fake.calls if m[0] == "POST" and (m[2] or {}).get("content") == ANALYSING]
    assert all(m.get("content") != ANALYSING for m in fake.messages.values())
    assert fake.errors == []


async def test_slash_audio_with_an_attachment_option(fake, dbot, wesnoth_clip) -> None:
    option, resolved = fake.attachment_option("clip", "clip.ogg", wesnoth_clip, "audio/ogg")
    [answer] = await answered(fake, await fake.slash("similar_audio", [option], resolved=resolved))
    assert answer["embeds"][0]["title"].startswith("Tracks that sound like your clip")
    assert [a["filename"] for a in answer["attachments"]] == ["chart.png"]
    assert fake.errors == []


@pytest.mark.parametrize(
    ("data", "expected"),
    [(b"", "That file is empty."), (b"ID3 not really an mp3 " * 50, "I could not read that as audio")],
    ids=["empty", "garbage"],
)
async def test_unusable_audio_attachment(fake, dbot, data: bytes, expected: str) -> None:
    before = max(fake.messages, default=0)
    await fake.send_user_message("", attachments=[("clip.mp3", data, "audio/mpeg")], mention_bot=True)
    [answer] = await fake.wait_until(lambda: [m for m in fake.channel_messages(before) if m["embeds"]])
    assert expected in text_of(answer)
    await fake.wait_until(lambda: fake.deleted)


async def test_too_large_attachment_is_refused_before_download(fake, bot_settings) -> None:
    settings = dataclasses.replace(bot_settings, max_audio_bytes=1000)
    async with running_bot(fake, settings):
        before = max(fake.messages, default=0)
        await fake.send_user_message("", attachments=[("long.ogg", b"x" * 5000, "audio/ogg")], mention_bot=True)
        [answer] = await fake.wait_until(lambda: fake.channel_messages(before))
        assert answer["content"] == "That file is too large; please send at most 0 MB."
        option, resolved = fake.attachment_option("clip", "long.ogg", b"x" * 5000, "audio/ogg")
        [answer] = await answered(fake, await fake.slash("similar_audio", [option], resolved=resolved))
        assert text_of(answer).strip() == "That file is too large; please send at most 0 MB."
        assert fake.errors == []


async def test_bang_commands_and_a_rate_limit_retried_by_discord_py(fake, dbot) -> None:
    fake.rate_limit_next("POST", r"/channels/\d+/messages")
    before = max(fake.messages, default=0)
    await fake.send_user_message("!similar hotel califrnia")
    [answer] = await fake.wait_until(lambda: fake.channel_messages(before))
    assert [code for _, _, code in fake.errors] == [429]  # answered 429 once; discord.py waited and retried
    assert answer["embeds"][0]["title"] == "Similar to Hotel California — The Eagles"
    await fake.send_user_message("just chatting")
    await fake.send_user_message("!frobnicate")
    [unknown] = await fake.wait_until(lambda: fake.channel_messages(int(answer["id"])))
    assert "I don't know /frobnicate" in text_of(unknown)


async def test_the_fake_refuses_what_discord_refuses(fake, dbot) -> None:
    """Acknowledging twice → 40060; a follow-up with no acknowledged interaction → 10015; limits → 50035."""
    token = await fake.slash("help")
    await answered(fake, token)
    state = fake.interaction(token)
    completion = await fake.autocomplete("similar", [{"name": "song", "type": SONG, "value": "x", "focused": True}])
    await fake.wait_until(lambda: fake.interaction(completion)["acked"])
    async with aiohttp.ClientSession() as http:
        url = f"{fake.api_base}/interactions/{state['id']}/{token}/callback"
        async with http.post(url, json={"type": 4, "data": {"content": "again"}}) as resp:
            assert resp.status == 400 and (await resp.json())["code"] == 40060
        for never_acked in ("itok-unknown", completion):
            async with http.post(f"{fake.api_base}/webhooks/{APP_ID}/{never_acked}", json={"content": "x"}) as resp:
                assert resp.status == 404 and (await resp.json())["code"] == 10015
    with pytest.raises(DiscordError, match="50035"):
        check_embeds([{"title": "t" * 257}])
    with pytest.raises(DiscordError, match="6000"):
        check_embeds([{"description": "d" * 4000}, {"description": "d" * 2001}])


def test_embeds_fit_discord_limits_by_construction() -> None:
    """However long a reply, its embed fits: whole tracks are dropped and the count of the rest is said."""
    long = "Title with *stars* and [brackets] " * 6
    tracks = tuple(
        TrackLine(i, i, long, "Artist _x_ " * 10, 1.0, "reason " * 30, f"https://open.spotify.com/search/{i}")
        for i in range(1, 41)
    )
    reply = Reply("Intro line\n" * 3, kind="recommendations", title="T" * 400, tracks=tracks, footer="f" * 3000)
    embed = render_embed(reply).to_dict()
    check_embeds([embed])
    assert len(embed["title"]) <= 256 and embed["title"].endswith("…")
    assert re.search(r"… and \d+ more not shown", embed["description"])
    assert "\\*stars\\*" in embed["description"]  # user text is escaped, not formatted


async def test_button_presses_past_the_flood_limit_raise_nothing(fake, dbot, caplog) -> None:
    """Dana pages 14 times at once: her burst is answered, one "Easy there" follows, the rest are dropped — each
    drop logged by the middleware, and none an exception in the button's callback (it used to index the empty reply
    list: an IndexError discord.py logged, the press left unanswered)."""
    caplog.set_level(logging.INFO)
    [answer] = await answered(fake, await fake.slash("similar", [{"name": "song", "type": SONG, "value": "stairway"}]))
    message_id = int(answer["id"])
    presses = [await fake.click(message_id, custom_ids(fake.messages[message_id])[0]) for _ in range(14)]

    def dropped() -> int:
        return sum("dropped unanswered" in r.getMessage() for r in caplog.records)

    def told() -> list[dict]:
        return [m for m in fake.channel_messages(message_id) if "Easy there" in text_of(m)]

    await fake.wait_until(lambda: dropped() >= 4 and told() and all(fake.interaction(t)["acked"] for t in presses))
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert len(told()) == 1
    assert fake.errors == []


async def test_an_unaddressed_clip_in_a_server_channel_gets_nothing(fake, dbot, wesnoth_clip) -> None:
    """Someone shares a song with friends: no mention, no reply to the bot, no command. A bot answering every
    attachment of a server gets removed from it, so the clip gets nothing (it used to get "Analysing…" and a chart)."""
    before = max(fake.messages, default=0)
    await fake.send_user_message("listen to this", attachments=[("clip.ogg", wesnoth_clip, "audio/ogg")])
    await fake.send_user_message("!help")
    await fake.wait_until(lambda: any("I recommend music." in text_of(m) for m in fake.channel_messages(before)))
    assert not [m for m in fake.calls if m[0] == "POST" and (m[2] or {}).get("content") == ANALYSING]
    assert [m["embeds"][0]["description"][:18] for m in fake.channel_messages(before)] == ["I recommend music."]


async def test_a_clip_replied_to_with_a_command_gets_an_answer(fake, dbot, wesnoth_clip) -> None:
    """The same clip, then a friend replies to it with `!similar`: that clip is the question."""
    shared = await fake.send_user_message("listen to this", attachments=[("clip.ogg", wesnoth_clip, "audio/ogg")])
    before = max(fake.messages, default=0)
    await fake.send_user_message("!similar", reply_to=shared)
    [answer] = await fake.wait_until(lambda: [m for m in fake.channel_messages(before) if m["embeds"]])
    assert answer["embeds"][0]["title"].startswith("Tracks that sound like your clip")
    assert "— wesnoth" in text_of(answer).split("**2. [")[0]
    await fake.wait_until(lambda: fake.deleted)  # "Analysing…" went away
    assert fake.errors == []


async def test_a_clip_in_reply_to_the_bot_is_addressed_to_it(fake, dbot, wesnoth_clip) -> None:
    [help_] = await answered(fake, await fake.slash("help"))
    before = max(fake.messages, default=0)
    await fake.send_user_message("", attachments=[("clip.ogg", wesnoth_clip, "audio/ogg")], reply_to=int(help_["id"]))
    [answer] = await fake.wait_until(lambda: [m for m in fake.channel_messages(before) if m["embeds"]])
    assert answer["embeds"][0]["title"].startswith("Tracks that sound like your clip")


async def test_an_admin_opts_a_channel_in_to_every_clip_and_it_outlives_the_process(fake, bot_settings, wesnoth_clip):
    """`/listen on` by a member without Manage Channels is refused; by the owner it makes every clip of the channel the
    bot's, in this process and the next (the choice is the database's); `!listen off` ends it."""

    async def said(text: str) -> str:
        before = max(fake.messages, default=0)
        await fake.send_user_message(text)
        [reply] = await fake.wait_until(lambda: [m for m in fake.channel_messages(before) if m["embeds"]])
        return text_of(reply)

    async def share_clip() -> int:
        before = max(fake.messages, default=0)
        await fake.send_user_message("listen to this", attachments=[("clip.ogg", wesnoth_clip, "audio/ogg")])
        return before

    core = build_core(bot_settings)
    try:
        async with running_bot(fake, bot_settings, core):
            fake.user = MEMBER_USER
            assert "Only an admin of this chat" in await said("!listen on")
            fake.user = OWNER_USER
            option = {"name": "choice", "type": SONG, "value": "on"}
            [switched] = await answered(fake, await fake.slash("listen", [option]))
            assert "From now on I analyse every audio clip posted here" in text_of(switched)
        async with running_bot(fake, bot_settings):  # a new process
            fake.user = MEMBER_USER  # anyone's clip now, not only the admin's
            before = await share_clip()
            title = "Tracks that sound like your clip"
            await fake.wait_until(lambda: [m for m in fake.channel_messages(before) if title in text_of(m)])
            fake.user = OWNER_USER
            assert "only the clips addressed to me" in await said("!listen off")
            calls = len(fake.calls)
            await share_clip()
            assert "I recommend music." in await said("!help")
            assert not [m for m in fake.calls[calls:] if m[0] == "POST" and (m[2] or {}).get("content") == ANALYSING]
            assert fake.errors == []
    finally:
        core.listening.switch("discord", str(CHANNEL_ID), False, by="test")  # the shared bot home stays as it was
        core.close()


async def test_words_for_the_bot_are_a_request_in_a_server_and_in_a_dm(fake, dbot) -> None:
    """A message mentioning the bot is a request in words; so is any text in a DM; `/ask` works as a slash command."""
    before = max(fake.messages, default=0)
    await fake.send_user_message("something chill like hotel california", mention_bot=True)
    [answer] = await fake.wait_until(lambda: [m for m in fake.channel_messages(before) if m["embeds"]])
    title = answer["embeds"][0]["title"]
    assert title.startswith("You asked for like Hotel California") and "chill" in title
    await fake.send_user_message("something upbeat for a party", dm=True)
    [dm] = await fake.wait_until(
        lambda: [m for m in fake.channel_messages(before) if m["channel_id"] == str(DM_CHANNEL_ID) and m["embeds"]]
    )
    assert dm["embeds"][0]["title"].startswith("You asked for") and "party" in dm["embeds"][0]["title"]
    [slash] = await answered(fake, await fake.slash("ask", [{"name": "request", "type": SONG, "value": "80s rock"}]))
    assert slash["embeds"][0]["title"].startswith("You asked for")
    assert fake.errors == []

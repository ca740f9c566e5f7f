"""Delivery through what Discord answers: deadlines on an injected clock, rate limits (headers, 429 storms, the wait
budget), per-channel permissions, ephemeral errors, DMs and voice messages — the real discord.py against the strict
fake (tests/bot/fake_discord.py), whose every rule is cited from Discord's documentation there."""

from __future__ import annotations

import dataclasses
import io
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import aiohttp
import discord
import numpy as np
import pytest
import soundfile as sf
import soxr
import yarl

from bot.command_spec import ANALYSING
from bot.core import ChatCore
from bot.discord_adapter import CHART_NEEDS_ATTACH_FILES, MurecomDiscord
from tests.bot.fake_discord import (
    APP_ID,
    ATTACH_FILES,
    CHANNEL_ID,
    DM_CHANNEL_ID,
    EMBED_LINKS,
    EPHEMERAL,
    IS_VOICE_MESSAGE,
    SEND_MESSAGES,
    FakeDiscord,
)
from tests.bot.test_discord import SONG, answered, running_bot, text_of

MESSAGES_ROUTE = r"/channels/\d+/messages"


@asynccontextmanager
async def fake_on(monkeypatch: pytest.MonkeyPatch, clock: Callable[[], float]) -> AsyncIterator[FakeDiscord]:
    """The strict fake on its own clock, with discord.py pointed at it (as the `fake` fixture does)."""
    fake = FakeDiscord(clock=clock)
    await fake.start()
    monkeypatch.setattr(discord.http.Route, "BASE", fake.api_base)
    monkeypatch.setattr(discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(fake.gateway))
    try:
        yield fake
    finally:
        await fake.stop()


@pytest.fixture
async def dbot(fake, bot_settings) -> AsyncIterator[MurecomDiscord]:
    async with running_bot(fake, bot_settings) as bot:
        yield bot


class ManualClock:
    """Fake seconds that pass only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def waits(core: ChatCore, outcome: str) -> float:
    value = core.metrics.registry.get_sample_value(
        "murecom_platform_waits_total", {"adapter": "discord", "outcome": outcome}
    )
    return value or 0.0


def bot_messages(fake: FakeDiscord, after: int, channel_id: int = CHANNEL_ID) -> list[dict]:
    return [m for m in fake.channel_messages(after) if int(m["channel_id"]) == channel_id]


# --- deadlines -----------------------------------------------------------------------------------------------------
#: Fake seconds per real second. A /similar takes ~10 ms of real work and its defer ~3 ms: too close for any one
#: factor to put them on either side of 3 s on a loaded machine. A clip's analysis takes hundreds of milliseconds, so
#: at ×100 the defer (a few ms → well under 3 s) and the answer (≥ 10 s) are far apart.
DILATION = 100.0


async def test_slow_work_still_acknowledges_within_the_deadline(monkeypatch, bot_settings, wesnoth_clip) -> None:
    """On a clock where the core's real work takes longer than Discord's 3 s, the defer still comes within 3 s (it
    is sent before any work) and the answer arrives as a follow-up, with no error; /similar on the same clock too."""
    start = time.monotonic()
    async with (
        fake_on(monkeypatch, lambda: (time.monotonic() - start) * DILATION) as fake,
        running_bot(fake, bot_settings),
    ):
        option, resolved = fake.attachment_option("clip", "clip.ogg", wesnoth_clip, "audio/ogg")
        token = await fake.slash("similar_audio", [option], resolved=resolved)
        [answer] = await answered(fake, token)
        state = fake.interaction(token)
        assert state["acked"] == 5 and state["acked_at"] - state["created"] <= 3.0
        assert state["answered_at"] - state["created"] > 3.0, "the work was not slower than the deadline"
        assert answer["embeds"][0]["title"].startswith("Tracks that sound like your clip")
        token = await fake.slash("similar", [{"name": "song", "type": SONG, "value": "stairway to heaven"}])
        [answer] = await answered(fake, token)
        assert fake.interaction(token)["acked_at"] - fake.interaction(token)["created"] <= 3.0
        assert answer["embeds"][0]["title"] == "Similar to Stairway To Heaven — Led Zeppelin"
        assert fake.errors == []


async def test_an_answer_after_the_deadline_is_refused_with_unknown_interaction(monkeypatch, bot_settings) -> None:
    """What the adapter would get for doing the work first and answering with a type-4 response: 404 10062. A
    callback within 3 s is accepted; so is autocomplete's, which has the same deadline."""
    clock = ManualClock()
    async with fake_on(monkeypatch, clock) as fake, running_bot(fake, bot_settings):
        late = await fake.slash("help", deliver=False)
        on_time = await fake.slash("help", deliver=False)
        completion = await fake.slash("help", deliver=False)
        fake.interaction(completion)["kind"] = 4  # an autocomplete interaction
        clock.advance(2.9)
        async with aiohttp.ClientSession() as http:

            async def callback(token: str, body: dict) -> tuple[int, dict | None]:
                url = f"{fake.api_base}/interactions/{fake.interaction(token)['id']}/{token}/callback"
                async with http.post(url, json=body) as resp:
                    return resp.status, (await resp.json() if resp.status != 204 else None)

            assert (await callback(on_time, {"type": 4, "data": {"content": "done"}}))[0] == 204
            clock.advance(0.2)  # 3.1 s after creation
            status, error = await callback(late, {"type": 4, "data": {"content": "done after the work"}})
            assert (status, error["code"]) == (404, 10062)
            status, error = await callback(completion, {"type": 8, "data": {"choices": []}})
            assert (status, error["code"]) == (404, 10062)


async def test_an_expired_interaction_token_is_logged_and_the_bot_carries_on(monkeypatch, bot_settings, caplog):
    """The clock jumps 16 minutes as soon as the bot has deferred (on time): its follow-up meets 401 50027 (the token
    lives 15 minutes). The adapter logs it and moves on; the next command is answered."""
    caplog.set_level(logging.WARNING)
    fakes: list[FakeDiscord] = []

    def clock() -> float:
        deferred = fakes and any(state["acked"] for state in fakes[0].interactions.values())
        return 1000.0 + (16 * 60 if deferred else 0.0)

    async with fake_on(monkeypatch, clock) as fake, running_bot(fake, bot_settings):
        fakes.append(fake)
        token = await fake.slash("similar", [{"name": "song", "type": SONG, "value": "stairway to heaven"}])
        await fake.wait_until(lambda: any(code == 50027 for _, _, code in fake.errors))
        assert fake.interaction(token)["followups"] == []
        [help_] = await answered(fake, await fake.slash("help"))  # a new interaction, a new token
        assert "I recommend music." in text_of(help_)
    gone = [r for r in caplog.records if "gone" in r.getMessage()]
    assert gone and "50027" in gone[0].getMessage()
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


# --- rate limits ---------------------------------------------------------------------------------------------------
async def test_messages_carry_rate_limit_headers_and_the_bucket_is_enforced(fake, dbot) -> None:
    """Every channel message answer carries the bucket's headers; a sixth post within 5 s is refused 429 (user
    scope), the global limit 429 (global) — read straight from the fake, as Discord's clients must read them."""
    async with aiohttp.ClientSession(headers={"Authorization": f"Bot {fake.token}"}) as http:
        url = f"{fake.api_base}/channels/{CHANNEL_ID}/messages"
        seen = []
        for i in range(6):
            async with http.post(url, json={"content": f"m{i}"}) as resp:
                seen.append((resp.status, resp.headers.get("X-RateLimit-Remaining"), await resp.json()))
                headers = resp.headers
        assert [s for s, _, _ in seen] == [200] * 5 + [429] and [r for _, r, _ in seen[:5]] == ["4", "3", "2", "1", "0"]
        assert headers["X-RateLimit-Scope"] == "user" and headers["X-RateLimit-Bucket"] and headers["Via"]
        assert 0 < seen[5][2]["retry_after"] <= 5 and seen[5][2]["global"] is False
        for _ in range(60):
            async with http.get(f"{fake.api_base}/users/@me") as resp:
                status, body, headers = resp.status, await resp.json(), resp.headers
            if status == 429:
                break
        assert status == 429 and body["global"] is True
        assert headers["X-RateLimit-Global"] == "true" and headers["X-RateLimit-Scope"] == "global"


async def test_a_429_storm_is_waited_out_and_the_answer_says_it_was_late(fake, bot_settings, core) -> None:
    """Four 429s in a row on the channel's messages (0.2 s each): discord.py waits them out, the answer is sent once,
    and it carries the held-back note; the wait is counted as sent."""
    async with running_bot(fake, bot_settings, core):
        fake.storm("POST", MESSAGES_ROUTE, 4, 0.2)
        before = max(fake.messages, default=0)
        await fake.send_user_message("!similar hotel california")
        await fake.wait_until(lambda: any("late" in text_of(m) + str(m["embeds"]) for m in bot_messages(fake, before)))
        [answer] = bot_messages(fake, before)
        assert answer["embeds"][0]["title"] == "Similar to Hotel California — The Eagles"
        assert answer["embeds"][0]["footer"]["text"].endswith("(Sent 1 s late: Discord asked me to slow down.)")
        assert [code for _, _, code in fake.errors] == [429] * 4
        assert waits(core, "sent") == 1 and waits(core, "dropped") == 0


async def test_a_wait_past_the_budget_drops_the_reply_without_crashing(fake, bot_settings, core, caplog) -> None:
    """Discord asks for 5 s, the budget is 0.5 s: nothing is sent (no 5 s sleep), the drop is logged and counted,
    and the bot answers the next message."""
    caplog.set_level(logging.WARNING)
    settings = dataclasses.replace(bot_settings, platform_wait_budget=0.5)
    async with running_bot(fake, settings, core):
        fake.storm("POST", MESSAGES_ROUTE, 1, 5.0)
        before = max(fake.messages, default=0)
        started = time.monotonic()
        await fake.send_user_message("!similar hotel california")
        await fake.wait_until(lambda: waits(core, "dropped") == 1)
        assert time.monotonic() - started < 5.0
        assert bot_messages(fake, before) == []
        await fake.send_user_message("!help")
        [help_] = await fake.wait_until(lambda: bot_messages(fake, before))
        assert "I recommend music." in text_of(help_)
    assert any("past the budget of 0.5 s" in r.getMessage() for r in caplog.records)
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


# --- permissions ---------------------------------------------------------------------------------------------------
async def test_without_attach_files_the_answer_comes_without_the_chart(fake, dbot, wesnoth_clip) -> None:
    await fake.deny(CHANNEL_ID, ATTACH_FILES)
    before = max(fake.messages, default=0)
    await fake.send_user_message("", attachments=[("clip.ogg", wesnoth_clip, "audio/ogg")], mention_bot=True)
    [answer] = await fake.wait_until(lambda: [m for m in bot_messages(fake, before) if m["embeds"]])
    assert answer["embeds"][0]["title"].startswith("Tracks that sound like your clip")
    assert answer["attachments"] == [] and "image" not in answer["embeds"][0]
    assert CHART_NEEDS_ATTACH_FILES in answer["embeds"][0]["footer"]["text"]
    assert [code for _, _, code in fake.errors] == [50013]


async def test_without_embed_links_the_answer_is_plain_text(fake, dbot) -> None:
    await fake.deny(CHANNEL_ID, EMBED_LINKS)
    before = max(fake.messages, default=0)
    await fake.send_user_message("!similar hotel california")
    [answer] = await fake.wait_until(lambda: bot_messages(fake, before))
    assert answer["embeds"] == [] and len(answer["content"]) <= 2000
    assert answer["content"].startswith("Similar to Hotel California — The Eagles")
    assert [code for _, _, code in fake.errors] == [50013]


async def test_a_channel_refusing_every_message_is_logged_once(fake, dbot, caplog) -> None:
    """No Send Messages: nothing can be posted; the log says what to grant, once for the channel. Slash commands
    there still work: interaction responses are not bound by the channel's permissions."""
    caplog.set_level(logging.WARNING)
    await fake.deny(CHANNEL_ID, SEND_MESSAGES)
    await fake.send_user_message("!help")
    await fake.send_user_message("!about")
    await fake.wait_until(lambda: len(fake.errors) >= 4)  # each reply: embed, then plain text
    [help_] = await answered(fake, await fake.slash("help"))
    assert "I recommend music." in text_of(help_)
    told = [r.getMessage() for r in caplog.records if "grant me Send Messages" in r.getMessage()]
    assert len(told) == 1 and str(CHANNEL_ID) in told[0]
    assert {code for _, _, code in fake.errors} == {50013}


# --- ephemeral errors ----------------------------------------------------------------------------------------------
async def test_an_error_reply_goes_to_its_user_only(fake, dbot) -> None:
    before = max(fake.messages, default=0)
    # only invisible characters: "Tell me a song name" (an error reply: the query cannot be searched)
    token = await fake.slash("similar", [{"name": "song", "type": SONG, "value": "\u200b\u200b"}])
    state = fake.interaction(token)
    [private] = await fake.wait_until(lambda: [fake.ephemeral[m] for m in state["ephemeral"]])
    assert private["flags"] & EPHEMERAL and "Tell me a song name" in text_of(private)
    assert private["embeds"][0]["color"] == discord.Colour.red().value
    assert fake.channel_messages(before) == []  # the loading message is gone and nothing public was posted
    assert state["original"] in fake.deleted
    [public] = await answered(fake, await fake.slash("similar", [{"name": "song", "type": SONG, "value": "stairway"}]))
    assert not public["flags"] & EPHEMERAL and int(public["id"]) in fake.messages
    assert fake.errors == []


async def test_the_first_follow_up_takes_the_defers_ephemerality(fake, dbot) -> None:
    """Why the adapter deletes "thinking…" before an ephemeral error: after a public defer, a first follow-up flagged
    64 still replaces the loading message, in public; only a later one is ephemeral. With the loading message
    deleted, the next follow-up is a new message and its flag holds."""
    async with aiohttp.ClientSession() as http:

        async def deferred() -> tuple[str, str]:
            token = await fake.slash("help", deliver=False)
            url = f"{fake.api_base}/interactions/{fake.interaction(token)['id']}/{token}/callback"
            async with http.post(url, json={"type": 5}) as resp:
                assert resp.status == 204
            return token, f"{fake.api_base}/webhooks/{APP_ID}/{token}"

        token, webhook = await deferred()
        for content in ("first", "second"):
            async with http.post(webhook, json={"content": content, "flags": EPHEMERAL}) as resp:
                assert resp.status == 200
        state = fake.interaction(token)
        assert [fake.messages[m]["content"] for m in state["followups"]] == ["first"]  # public, in place of loading
        assert [fake.ephemeral[m]["content"] for m in state["ephemeral"]] == ["second"]
        token, webhook = await deferred()
        async with http.delete(f"{webhook}/messages/@original") as resp:
            assert resp.status == 204
        async with http.post(webhook, json={"content": "only you", "flags": EPHEMERAL}) as resp:
            assert resp.status == 200
        state = fake.interaction(token)
        assert state["followups"] == [] and [fake.ephemeral[m]["content"] for m in state["ephemeral"]] == ["only you"]


# --- DMs and voice messages ----------------------------------------------------------------------------------------
async def test_direct_messages_are_answered_in_the_dm(fake, dbot, wesnoth_clip) -> None:
    before = max(fake.messages, default=0)
    await fake.send_user_message("!similar hotel california", dm=True)
    [answer] = await fake.wait_until(lambda: bot_messages(fake, before, DM_CHANNEL_ID))
    assert answer["embeds"][0]["title"] == "Similar to Hotel California — The Eagles" and "guild_id" not in answer
    before = int(answer["id"])
    await fake.send_user_message("", attachments=[("clip.ogg", wesnoth_clip, "audio/ogg")], dm=True)  # no mention
    [clip] = await fake.wait_until(lambda: [m for m in bot_messages(fake, before, DM_CHANNEL_ID) if m["embeds"]])
    assert clip["embeds"][0]["title"].startswith("Tracks that sound like your clip")
    [help_] = await answered(fake, await fake.slash("help", dm=True))
    assert int(help_["channel_id"]) == DM_CHANNEL_ID and "I recommend music." in text_of(help_)
    assert bot_messages(fake, 0, CHANNEL_ID) == [] and fake.errors == []


@pytest.fixture(scope="module")
def voice_message(wesnoth_clip) -> tuple[bytes, float]:
    """The Wesnoth clip as a voice message records it: mono Ogg Opus at 48 kHz."""
    data, rate = sf.read(io.BytesIO(wesnoth_clip), dtype="float32")
    mono = soxr.resample(np.asarray(data).mean(axis=1) if data.ndim > 1 else data, rate, 48000)
    buf = io.BytesIO()
    sf.write(buf, mono, 48000, format="OGG", subtype="OPUS")
    return buf.getvalue(), len(mono) / 48000


async def test_voice_messages_addressed_to_the_bot_get_the_audio_answer(fake, dbot, voice_message) -> None:
    """A voice message in the DM, and one in the server channel as a reply to the bot, are each answered; one in
    the channel addressed to no one gets nothing."""
    ogg, seconds = voice_message
    before = max(fake.messages, default=0)
    await fake.send_voice_message(ogg, seconds, dm=True)
    [in_dm] = await fake.wait_until(lambda: [m for m in bot_messages(fake, before, DM_CHANNEL_ID) if m["embeds"]])
    assert in_dm["embeds"][0]["title"].startswith("Tracks that sound like your clip")
    assert "— wesnoth" in text_of(in_dm).split("**2. [")[0]
    sent = fake.user_messages[max(fake.user_messages)]
    assert sent["flags"] == IS_VOICE_MESSAGE and sent["attachments"][0]["filename"] == "voice-message.ogg"
    [help_] = await answered(fake, await fake.slash("help"))
    before = max(fake.messages)
    await fake.send_voice_message(ogg, seconds)  # in the channel, addressed to no one
    await fake.send_voice_message(ogg, seconds, reply_to=int(help_["id"]))
    [answer] = await fake.wait_until(lambda: [m for m in bot_messages(fake, before) if m["embeds"]])
    assert answer["embeds"][0]["title"].startswith("Tracks that sound like your clip")
    await fake.wait_until(lambda: len(fake.deleted) >= 2)  # both "Analysing…" messages went away
    analysing = [c for c in fake.calls if c[0] == "POST" and (c[2] or {}).get("content") == ANALYSING]
    assert len(analysing) == 2  # the DM's and the reply's: the unaddressed one got nothing
    assert fake.errors == []

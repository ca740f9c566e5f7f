"""Radio and session export through both real client libraries against the strict fakes: the radio's picks are
posted to the chat unprompted when their time comes (clock injected), and the export arrives as files."""

from __future__ import annotations

import asyncio
import dataclasses
import json

from bot.app import build_app
from bot.radio import Announcer, RadioScheduler
from bot.telegram_adapter import run_telegram
from tests.bot.fake_discord import CHANNEL_ID, FakeDiscord
from tests.bot.fake_telegram import FakeTelegram
from tests.bot.test_discord import running_bot
from tests.bot.test_radio import TRACK, Clock, parse_m3u

RADIO_CLUB = {"id": -100777, "type": "group", "title": "Radio club"}
ANN = {"id": 778, "is_bot": False, "first_name": "Ann"}
END = [{"name": "end", "type": 1, "options": []}]


def group_message(text: str) -> dict:
    msg = {"message_id": 1, "date": 0, "chat": RADIO_CLUB, "from": ANN, "text": text}
    msg["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
    return {"message": msg}


async def test_telegram_radio_posts_each_pick_and_export_sends_playlist_files(bot_settings) -> None:
    tg = FakeTelegram()
    await tg.start()
    settings = dataclasses.replace(
        bot_settings,
        telegram_token=tg.token,
        telegram_base_url=tg.base_url,
        telegram_base_file_url=tg.base_file_url,
    )
    clock = Clock()
    app = build_app(settings, wall_clock=clock)
    announcers: dict[str, Announcer] = {}
    stop = asyncio.Event()
    task = asyncio.create_task(run_telegram(app.core, settings, stop, announcers=announcers))
    try:
        await tg.wait_for("deleteWebhook")
        tg.push(group_message("/radio hotel california"))
        await tg.wait_for("sendMessage", lambda p: "Radio on" in p["text"])
        first = await tg.wait_for("sendMessage", lambda p: "📻 Radio" in p["text"])
        assert first["chat_id"] == RADIO_CLUB["id"]
        radio = RadioScheduler(app.core, announcers)
        n = len(tg.calls)
        clock.now += TRACK
        assert await radio.tick() == 1
        second = await tg.wait_for("sendMessage", lambda p: "📻 Radio" in p["text"], after=n)
        assert second["chat_id"] == RADIO_CLUB["id"] and second["text"] != first["text"]

        tg.push(group_message("/session export"))
        m3u = await tg.wait_for("sendDocument", lambda p: p["document"]["filename"].endswith(".m3u"))
        data = await tg.wait_for("sendDocument", lambda p: p["document"]["filename"].endswith(".json"))
        assert len(parse_m3u(m3u["document"]["bytes"].decode())) == 2
        assert len(json.loads(data["document"]["bytes"])["tracks"]) == 2
        tg.push(group_message("/radio stop"))
        await tg.wait_for("sendMessage", lambda p: "Radio off" in p["text"])
        clock.now += TRACK
        assert await radio.tick() == 0
        tg.push(group_message("/session end"))
        await tg.wait_for("sendMessage", lambda p: "Session ended" in p["text"])
        assert tg.errors == []
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
        await tg.stop()
        app.close()


async def test_discord_radio_posts_each_pick_and_export_attaches_files(fake: FakeDiscord, bot_settings) -> None:
    clock = Clock()
    app = build_app(bot_settings, wall_clock=clock)
    async with running_bot(fake, bot_settings, app.core) as bot:
        token = await fake.slash("radio", [{"name": "what", "type": 3, "value": "80s rock"}])
        state = fake.interaction(token)
        await fake.wait_until(lambda: len(state["followups"]) >= 2)
        on, first = (fake.messages[m] for m in state["followups"][:2])
        assert "80s rock station" in on["embeds"][0]["description"]
        assert first["embeds"][0]["title"] == "📻 Radio"
        radio = RadioScheduler(app.core, {"discord": bot.announce})
        posted_before = len(fake.messages)
        clock.now += TRACK
        assert await radio.tick() == 1
        await fake.wait_until(lambda: len(fake.messages) > posted_before)
        pick = max(fake.messages.values(), key=lambda m: int(m["id"]))
        assert pick["channel_id"] == str(CHANNEL_ID) and pick["embeds"][0]["title"] == "📻 Radio"
        assert pick["embeds"][0]["description"] != first["embeds"][0]["description"]

        token = await fake.slash("session", [{"name": "export", "type": 1, "options": []}])
        [export] = [fake.messages[m] for m in await fake.wait_until(lambda: fake.interaction(token)["followups"])]
        names = sorted(a["filename"] for a in export["attachments"])
        assert [n.rsplit(".", 1)[1] for n in names] == ["json", "m3u"]
        m3u = fake.sent_files[next(n for n in names if n.endswith(".m3u"))].decode()
        assert len(parse_m3u(m3u)) == 2
        for name, options in (("radio", [{"name": "what", "type": 3, "value": "stop"}]), ("session", END)):
            token = await fake.slash(name, options)
            await fake.wait_until(lambda token=token: fake.interaction(token)["followups"])
        assert "Session ended" in fake.messages[fake.interaction(token)["followups"][0]]["embeds"][0]["description"]
        assert fake.errors == []
    app.close()

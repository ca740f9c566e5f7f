"""The real python-telegram-bot Application against a strict local fake Bot API server: what Telegram would receive.

The fake parses HTML and enforces length limits as Telegram does (tests/bot/fake_telegram.py), so a reply Telegram
would refuse fails here too; `telegram.errors` lists every 400 the bot provoked and most tests assert it is empty.
"""

from __future__ import annotations

import asyncio
import dataclasses
import io
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from math import gcd

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import resample_poly
from telegram import Bot, Update

from bot.app import build_core
from bot.commands import ANALYSING, SOMETHING_WENT_WRONG, text_commands
from bot.core import ChatCore
from bot.render import telegram_html
from bot.replies import ChatContext, Reply, TrackLine
from bot.telegram_adapter import TelegramBot, build_application, run_telegram
from recommenders.audio.service import render_label_chart
from tests.bot.fake_telegram import VOICE_FIELDS, BadRequest, FakeTelegram, parse_html, utf16_len

ANN = {"id": 777, "is_bot": False, "first_name": "Ann"}
PRIVATE = {"id": 777, "type": "private", "first_name": "Ann"}
GROUP = {"id": -100500, "type": "group", "title": "Listening club"}
FORUM = {"id": -100777, "type": "supergroup", "title": "Music forum", "is_forum": True}


def message(text: str | None = None, chat=PRIVATE, **extra):
    msg = {"message_id": int(time.time() * 1000) % 10**6, "date": int(time.time()), "chat": chat, "from": ANN, **extra}
    if text is not None:
        msg["text"] = text
        if text.startswith("/"):
            msg["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
    return {"message": msg}


def pointed_at(fake: FakeTelegram, settings, **changes):
    """The settings with the bot pointed at the fake."""
    return dataclasses.replace(
        settings,
        telegram_token=fake.token,
        telegram_base_url=fake.base_url,
        telegram_base_file_url=fake.base_file_url,
        **changes,
    )


@asynccontextmanager
async def serving_core(fake: FakeTelegram, bot_settings, **changes) -> AsyncIterator[tuple[FakeTelegram, ChatCore]]:
    """The bot polling `fake` until the block ends (settings changed by `changes`), and its core (for its metrics)."""
    await fake.start()
    settings = pointed_at(fake, bot_settings, **{"max_audio_bytes": 2_000_000, **changes})
    core = build_core(settings)
    stop = asyncio.Event()
    task = asyncio.create_task(run_telegram(core, settings, stop))
    await fake.wait_for("deleteWebhook")
    try:
        yield fake, core
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
        await fake.stop()
        core.close()


@asynccontextmanager
async def serving(fake: FakeTelegram, bot_settings, max_audio_bytes: int = 2_000_000) -> AsyncIterator[FakeTelegram]:
    """The bot polling `fake` until the block ends."""
    async with serving_core(fake, bot_settings, max_audio_bytes=max_audio_bytes) as (served, _):
        yield served


@pytest.fixture
async def telegram(bot_settings):
    """A bot that sees every message of its groups (a group admin)."""
    async with serving(FakeTelegram(), bot_settings) as fake:
        yield fake


@pytest.fixture
async def private_telegram(bot_settings):
    """A bot under privacy mode (BotFather's default, no group admin): the fake withholds what Telegram would."""
    async with serving(FakeTelegram(privacy_mode=True), bot_settings) as fake:
        yield fake


def callback(data: str, message_id: int, chat=PRIVATE, query_id: str = "cb-1") -> dict:
    message = {"message_id": message_id, "date": int(time.time()), "chat": chat, "text": "x"}
    return {"callback_query": {"id": query_id, "from": ANN, "chat_instance": "ci", "data": data, "message": message}}


def audio_message(telegram: FakeTelegram, file_id: str, data: bytes, size: int | None = None, chat=PRIVATE) -> dict:
    """A voice note of 20 s sent to `chat`, its file held by the fake."""
    return message(chat=chat, voice=telegram.voice_note(file_id, data, 20, size))


@pytest.fixture(scope="session")
def opus_voice(wesnoth_clip) -> bytes:
    """The real Wesnoth clip as Telegram's apps record a voice note: Ogg Opus, 48 kHz, mono (sendVoice: "your audio
    must be in an .OGG file encoded with OPUS" for clients to show it as a voice message)."""
    data, rate = sf.read(io.BytesIO(wesnoth_clip), dtype="float32")
    mono = data.mean(axis=1) if data.ndim == 2 else data
    common = gcd(48_000, rate)
    resampled = resample_poly(mono, 48_000 // common, rate // common).astype(np.float32)
    buf = io.BytesIO()
    sf.write(buf, resampled, 48_000, format="OGG", subtype="OPUS")
    encoded = buf.getvalue()
    info = sf.info(io.BytesIO(encoded))
    assert (info.format, info.subtype, info.samplerate, info.channels) == ("OGG", "OPUS", 48_000, 1)
    assert encoded[:4] == b"OggS" and b"OpusHead" in encoded[:64]
    return encoded


def test_fake_parses_html_as_telegram_does() -> None:
    """The fake's parser is as strict as Telegram's, so a cut tag cannot pass unnoticed."""
    assert parse_html('<b>A &amp; B</b> <a href="https://x.invalid/?a=1&amp;b=2">link</a> &lt;3 &foo;') == (
        "A & B link <3 &foo;"
    )
    assert parse_html('<span class="tg-spoiler">s</span><blockquote expandable>q</blockquote>') == "sq"
    for bad, words in [
        ('1. <a href="https://open.spotify.com/sea', "Unclosed start tag at byte offset 3"),
        ("<b>bold <i>both</b>", 'Unmatched end tag at byte offset 15, expected "</i>", found "</b>"'),
        ("<b>never closed", 'Can\'t find end tag corresponding to start tag "b"'),
        ("x < y", 'Unsupported start tag "" at byte offset 2'),
        ("<script>alert(1)</script>", 'Unsupported start tag "script" at byte offset 0'),
        ("</b>", "Unexpected end tag at byte offset 0"),
        ("<span>s</span>", 'Tag "span" must have class "tg-spoiler"'),
    ]:
        with pytest.raises(BadRequest, match="can't parse entities") as err:
            parse_html(bad)
        assert words in str(err.value), (bad, str(err.value))


def buttons(params) -> list[dict]:
    markup = params.get("reply_markup") or {}
    return [b for row in markup.get("inline_keyboard", []) for b in row]


async def test_similar_command_then_paging_by_callback(telegram: FakeTelegram) -> None:
    telegram.push(message("/similar hotel califrnia"))
    sent = await telegram.wait_for("sendMessage", lambda p: "Hotel California" in p["text"])
    assert sent["parse_mode"] == "HTML"
    assert "<b>Similar to Hotel California — The Eagles</b>" in sent["text"]
    assert sent["text"].count('<a href="https://open.spotify.com/') == 5
    [nxt] = buttons(sent)
    assert nxt["text"].startswith("Next") and nxt["callback_data"].startswith("page:")
    n = len(telegram.calls)
    telegram.push(callback(nxt["callback_data"], sent["result_message_id"]))
    await telegram.wait_for("answerCallbackQuery", lambda p: p["callback_query_id"] == "cb-1", after=n)
    edited = await telegram.wait_for("editMessageText", after=n)
    assert edited["message_id"] == sent["result_message_id"]
    assert "\n\n6. " in edited["text"] and "page 2/" in edited["text"]
    assert telegram.errors == []


async def test_same_paging_button_twice_is_not_an_error(telegram: FakeTelegram) -> None:
    """Telegram answers an edit to identical content with 400 "message is not modified"; the user sees no error."""
    telegram.push(message("/similar stairway to heaven"))
    sent = await telegram.wait_for("sendMessage", lambda p: "Stairway To Heaven" in p["text"])
    [nxt] = buttons(sent)
    telegram.push(callback(nxt["callback_data"], sent["result_message_id"], query_id="cb-a"))
    await telegram.wait_for("editMessageText", lambda p: "page 2/" in p["text"])
    telegram.push(callback(nxt["callback_data"], sent["result_message_id"], query_id="cb-b"))
    await telegram.wait_for("answerCallbackQuery", lambda p: p["callback_query_id"] == "cb-b")
    # the second edit reaches the fake and is refused, as Telegram would
    await telegram.wait_for("editMessageText", lambda _: bool(telegram.errors), timeout=10)
    assert [m for m, _ in telegram.errors] == ["editMessageText"]
    assert "message is not modified" in telegram.errors[0][1]
    telegram.push(message("/help"))
    await telegram.wait_for("sendMessage", lambda p: p["text"].startswith("I recommend music."))
    assert not any(SOMETHING_WENT_WRONG in p.get("text", "") for m, p in telegram.calls if m == "sendMessage")


async def test_command_menu_comes_from_the_command_table(telegram: FakeTelegram) -> None:
    await telegram.wait_for("setMyCommands")
    assert telegram.commands == [{"command": c.name, "description": c.description} for c in text_commands()]
    menu = ["similar", "ask", "session", "radio", "listen", "about", "help"]
    assert [c["command"] for c in telegram.commands] == menu


async def test_ambiguous_name_gets_an_inline_keyboard(telegram: FakeTelegram) -> None:
    telegram.push(message("/similar@murecom_test_bot eagles"))
    sent = await telegram.wait_for("sendMessage", lambda p: "Which one" in p["text"])
    labels = [b["text"] for b in buttons(sent)]
    assert len(labels) == 5 and all("Eagles" in label for label in labels)
    assert all(b["callback_data"].startswith("pick:") for b in buttons(sent))


async def test_private_text_is_a_song_but_group_chatter_is_ignored(telegram: FakeTelegram) -> None:
    telegram.push(message("some chatter about dinner", chat=GROUP))
    telegram.push(message("whip my hair"))
    sent = await telegram.wait_for("sendMessage", lambda p: "Whip My Hair" in p["text"])
    assert sent["chat_id"] == 777
    await asyncio.sleep(0.5)
    assert not any(p.get("chat_id") == GROUP["id"] for m, p in telegram.calls if m == "sendMessage")


async def test_voice_note_is_answered_with_tracks_and_the_chart(telegram: FakeTelegram, wesnoth_clip) -> None:
    """A real clip gets a real answer: the chart with the ranked tracks as its caption, within 1,024 *visible*
    characters. (Before: the HTML was cut at 1,024 raw characters, inside an `<a href=…`, and Telegram refused the
    photo with "can't parse entities"; the user saw "Analysing…" forever, then "Sorry, something went wrong".)"""
    n = len(telegram.calls)
    telegram.push(audio_message(telegram, "voice-1", wesnoth_clip))
    progress = await telegram.wait_for("sendMessage", lambda p: p["text"] == ANALYSING, after=n)
    assert progress["chat_id"] == 777
    photo = await telegram.wait_for("sendPhoto", after=n, timeout=60)
    assert photo["photo"]["bytes"][:8] == b"\x89PNG\r\n\x1a\n"
    assert re.search(r"Tracks that sound like your clip \(\d+ s analysed\)", photo["caption"])
    assert "Sounds like: " in photo["caption"]
    await telegram.wait_for("deleteMessage", lambda p: p["message_id"] == progress["result_message_id"], after=n)
    assert telegram.downloads == ["voice/voice-1.oga"]
    answers = [p for m, p in telegram.calls[n:] if m in ("sendMessage", "sendPhoto") and p is not progress]
    text = "\n".join(p.get("text") or p.get("caption", "") for p in answers)
    ranks = [line.split(".")[0] for line in parse_html(text).split("\n") if line[:1].isdigit()]
    assert len(ranks) >= 2 and ranks == [str(i) for i in range(1, len(ranks) + 1)], text
    assert "</a> — wesnoth <code>" in text.split("\n\n2. ")[0]  # the clip's own soundtrack ranks first
    assert "more not shown" not in text and SOMETHING_WENT_WRONG not in text
    assert telegram.errors == []


async def test_slow_clip_does_not_delay_another_users_help(telegram: FakeTelegram, wesnoth_clip) -> None:
    """Updates are handled concurrently: /help is answered while a clip's download is still held by the fake."""
    telegram.download_gate = asyncio.Event()
    telegram.push(audio_message(telegram, "slow", wesnoth_clip))
    await asyncio.wait_for(telegram.download_started.wait(), 30)
    other = {"id": 888, "is_bot": False, "first_name": "Bo"}
    help_update = message("/help", chat={"id": 888, "type": "private", "first_name": "Bo"})
    help_update["message"]["from"] = other
    telegram.push(help_update)
    answer = await telegram.wait_for("sendMessage", lambda p: p["chat_id"] == 888, timeout=10)
    assert answer["text"].startswith("I recommend music.")
    assert not any(m == "sendPhoto" for m, _ in telegram.calls), "the clip is still pending"
    telegram.download_gate.set()
    await telegram.wait_for("sendPhoto")


async def test_progress_message_is_deleted_when_the_download_fails(telegram: FakeTelegram) -> None:
    voice = {"file_id": "gone", "file_unique_id": "goneu", "duration": 3, "mime_type": "audio/ogg", "file_size": 9}
    telegram.push(message(voice=voice))  # the fake has no such file: getFile answers 400
    progress = await telegram.wait_for("sendMessage", lambda p: p["text"] == ANALYSING)
    await telegram.wait_for("deleteMessage", lambda p: p["message_id"] == progress["result_message_id"])
    await telegram.wait_for("sendMessage", lambda p: p["text"] == SOMETHING_WENT_WRONG)
    assert telegram.errors == [("getFile", "Bad Request: invalid file_id")]


@pytest.mark.parametrize(
    ("data", "expected"),
    [(b"", "That file is empty."), (b"ID3 not really an mp3 " * 50, "could not")],
    ids=["empty", "garbage"],
)
async def test_unusable_audio_gets_a_clear_reply(telegram: FakeTelegram, data: bytes, expected: str) -> None:
    telegram.push(audio_message(telegram, "bad", data))
    progress = await telegram.wait_for("sendMessage", lambda p: p["text"] == ANALYSING)
    await telegram.wait_for("deleteMessage", lambda p: p["message_id"] == progress["result_message_id"])
    [reply] = [p["text"] for m, p in telegram.calls if m == "sendMessage" and p is not progress]
    assert expected in reply, reply
    assert telegram.errors == []


async def test_oversized_audio_is_refused_before_download(telegram: FakeTelegram) -> None:
    doc = {
        "file_id": "big",
        "file_unique_id": "bigu",
        "file_name": "long.mp3",
        "mime_type": "audio/mpeg",
        "file_size": 50_000_000,
    }
    telegram.push(message(document=doc))
    sent = await telegram.wait_for("sendMessage", lambda p: "too large" in p["text"])
    assert "2 MB" in sent["text"]
    assert not any(m == "getFile" for m, _ in telegram.calls)


async def test_audio_document_recognised_by_its_extension(telegram: FakeTelegram, wesnoth_clip) -> None:
    """A clip sent as a file whose MIME type Telegram did not guess is still audio, by the table's extensions."""
    telegram.add_file("doc-1", "documents/clip.opus", wesnoth_clip)
    doc = {"file_id": "doc-1", "file_unique_id": "d1u", "file_name": "clip.opus",
           "mime_type": "application/octet-stream", "file_size": len(wesnoth_clip)}  # fmt: skip
    telegram.push(message(document=doc))
    photo = await telegram.wait_for("sendPhoto", timeout=60)
    assert "Tracks that sound like your clip" in photo["caption"]
    assert telegram.errors == []


async def test_inline_mode_suggests_tracks(telegram: FakeTelegram) -> None:
    telegram.push({"inline_query": {"id": "iq-1", "from": ANN, "query": "hotel cal", "offset": ""}})
    answer = await telegram.wait_for("answerInlineQuery", lambda p: p["inline_query_id"] == "iq-1")
    titles = [r["title"] for r in answer["results"]]
    assert titles[0] == "Hotel California — The Eagles"
    assert answer["results"][0]["input_message_content"]["message_text"] == "/similar Hotel California — The Eagles"


async def test_session_in_a_group_chat(telegram: FakeTelegram) -> None:
    telegram.push(message("/session start", chat=GROUP))
    await telegram.wait_for("sendMessage", lambda p: "Session started by Ann" in p["text"])
    telegram.push(message("/session add stairway to heaven", chat=GROUP))
    await telegram.wait_for("sendMessage", lambda p: "added Stairway To Heaven" in p["text"])
    telegram.push(message("/session next", chat=GROUP))
    sent = await telegram.wait_for("sendMessage", lambda p: "Now playing for the group" in p["text"])
    assert "for Ann" in sent["text"]
    like, skip, _ = buttons(sent)
    assert [like["text"], skip["text"]] == ["👍 Like", "⏭ Skip"]
    telegram.push(callback(like["callback_data"], sent["result_message_id"], chat=GROUP, query_id="cb-like"))
    await telegram.wait_for("sendMessage", lambda p: "Ann likes " in p["text"])
    telegram.push(message("/session join", chat=GROUP))
    await telegram.wait_for("sendMessage", lambda p: "Ann, you are already in." in p["text"])
    n = len(telegram.calls)
    telegram.push(callback(skip["callback_data"], sent["result_message_id"], chat=GROUP, query_id="cb-skip"))
    await telegram.wait_for("sendMessage", lambda p: p["text"].startswith("Skipped "), after=n)
    await telegram.wait_for("sendMessage", lambda p: "Now playing for the group" in p["text"], after=n)
    telegram.push(message("/session who", chat=GROUP))
    await telegram.wait_for("sendMessage", lambda p: "• Ann: 2 songs, served 2×" in p["text"])
    telegram.push(message("/session end", chat=GROUP))
    await telegram.wait_for("sendMessage", lambda p: "Session ended after 2 picks" in p["text"])
    telegram.push(message("/about", chat=GROUP))
    about = await telegram.wait_for("sendMessage", lambda p: "About murecom" in p["text"])
    assert "18,139 playlists" in about["text"] and "audio model: " in about["text"]
    assert telegram.errors == []


def test_any_reply_renders_within_telegram_limits() -> None:
    """Huge titles, text full of markup characters, hundreds of tracks: always valid HTML within the limit."""
    nasty = '<b>&amp; "quoted" 🎵 '
    tracks = tuple(
        TrackLine(i, i, nasty * 5, nasty * 3, 0.5, nasty * 8, f"https://x.invalid/?q={i}&a=<{i}>")
        for i in range(1, 201)
    )
    for reply in [
        Reply(nasty * 2000, title=nasty * 300, footer=nasty * 50),
        Reply("\n".join(nasty * 20 for _ in range(300)), kind="recommendations", tracks=tracks),
        Reply("", title="Only a title", tracks=tracks[:3]),
    ]:
        for limit in (4096, 1024):
            rendered = telegram_html(reply, limit)
            assert utf16_len(parse_html(rendered.text)) <= limit
        assert telegram_html(reply).complete is (reply.title == "Only a title")


@pytest.fixture
async def fake_and_bot(bot_settings, core):
    """The fake and an initialised PTB Application bound to it (no polling): for sending given replies."""
    fake = FakeTelegram()
    await fake.start()
    settings = pointed_at(fake, bot_settings)
    app = build_application(core, settings)
    async with app:
        yield fake, app, TelegramBot(core, settings)
    await fake.stop()


async def real_track_lines(core, n: int) -> tuple:
    """`n` real ranked track lines: the core's /similar pages for a real song."""
    ctx = ChatContext("telegram", "777", "777", "Ann")
    [reply] = await core.handle_text(ctx, "/similar hotel california")
    lines = list(reply.tracks)
    while len(lines) < n:
        [reply] = await core.handle_action(ctx, reply.buttons[0][-1].action)
        lines.extend(reply.tracks)
    return tuple(lines[:n])


@pytest.mark.parametrize("n_tracks", [10, 25])
async def test_long_audio_answer_respects_the_caption_limit(fake_and_bot, core, n_tracks: int) -> None:
    """The defect of issue 10: a 10-track audio answer cut at 1,024 raw characters split an `<a href=…` tag and
    Telegram refused it. Ten tracks fit 1,024 visible characters as a caption; 25 do not, so the chart goes with
    a short caption and the whole list follows as a message — nothing refused, nothing cut."""
    fake, app, bot = fake_and_bot
    tracks = await real_track_lines(core, n_tracks)
    chart = render_label_chart([("wesnoth", 0.9), ("warzone2100", 0.07), ("singularity", 0.03)])
    reply = Reply("Sounds like: wesnoth 90%", kind="recommendations", title="Tracks that sound like your clip",
                  tracks=tracks, image=chart)  # fmt: skip
    update = Update.de_json({"update_id": 1, **message(f"clip {n_tracks}")}, app.bot)
    await bot.send(update, [reply])
    assert fake.errors == []
    photo = next(p for m, p in fake.calls if m == "sendPhoto")
    assert photo["photo"]["bytes"] == chart
    texts = [p["text"] for m, p in fake.calls if m == "sendMessage"]
    shown = parse_html("\n\n".join([photo["caption"], *texts]))
    assert "more not shown" not in shown
    assert [line.split(".")[0] for line in shown.split("\n") if line[:1].isdigit()] == [
        str(i) for i in range(1, n_tracks + 1)
    ]
    if n_tracks == 10:
        assert texts == [] and "\n10. " in parse_html(photo["caption"])
    else:
        assert "1. " not in parse_html(photo["caption"]) and len(texts) == 1


async def test_button_presses_past_the_flood_limit_raise_nothing(bot_settings) -> None:
    """Ann presses paging buttons 14 times at once: 10 answers (her burst), one "Easy there", then silence. Every
    press is answered to Telegram, none crashes the handler (it used to index the empty reply list and answer
    "Sorry, something went wrong")."""
    fake = FakeTelegram()
    await fake.start()
    settings = pointed_at(fake, bot_settings)
    core = build_core(settings)
    try:
        handlers = TelegramBot(core, settings)
        resolved = core.snapshot().search.search("hotel california - eagles").best
        assert resolved is not None
        async with Bot(fake.token, base_url=fake.base_url, base_file_url=fake.base_file_url) as bot:
            shown = await bot.send_message(PRIVATE["id"], "Similar to Hotel California")
            for i in range(14):
                data = callback(f"page:{resolved.track.id}:{1 + i % 2}", shown.message_id, query_id=f"cb-{i}")
                await handlers.on_callback(Update.de_json({"update_id": i + 1, **data}, bot), None)  # type: ignore[arg-type]
        answered = [p["callback_query_id"] for m, p in fake.calls if m == "answerCallbackQuery"]
        assert answered == [f"cb-{i}" for i in range(14)]
        assert len([m for m, _ in fake.calls if m == "editMessageText"]) == settings.user_rate_per_minute // 2
        sent = [p["text"] for m, p in fake.calls if m == "sendMessage"][1:]
        assert len(sent) == 1 and sent[0].startswith("Easy there"), sent
        assert fake.errors == []
    finally:
        core.close()
        await fake.stop()


def in_group(update: dict) -> dict:
    update["message"]["chat"] = GROUP
    return update


async def test_an_unaddressed_clip_in_a_group_gets_nothing(telegram: FakeTelegram, wesnoth_clip) -> None:
    """A bot that is a group admin sees every voice note; one nobody addressed to it gets nothing (it used to be
    downloaded and analysed, "Analysing…" and a chart in the middle of the group's conversation)."""
    telegram.push(in_group(audio_message(telegram, "chatter", wesnoth_clip)))
    telegram.push(message("/help@murecom_test_bot", chat=GROUP))
    await telegram.wait_for("sendMessage", lambda p: p["text"].startswith("I recommend music."))
    assert telegram.downloads == []
    assert not [p for m, p in telegram.calls if m == "sendMessage" and p["text"] == ANALYSING]


async def test_a_clip_replied_to_with_a_command_gets_an_answer(private_telegram: FakeTelegram, wesnoth_clip) -> None:
    """Under privacy mode the bot never sees a voice note of the group; replying to it with /similar@bot (a command
    meant for the bot, so delivered) hands it over: the answer is about that clip, in the group."""
    clip = in_group(audio_message(private_telegram, "club-voice", wesnoth_clip))
    private_telegram.push(clip)
    assert private_telegram.withheld == [clip]  # Telegram keeps it from the bot
    ask = message("/similar@murecom_test_bot", chat=GROUP, reply_to_message=clip["message"])
    private_telegram.push(ask)
    photo = await private_telegram.wait_for("sendPhoto", lambda p: p["chat_id"] == GROUP["id"], timeout=60)
    assert "Tracks that sound like your clip" in photo["caption"]
    assert private_telegram.downloads == ["voice/club-voice.oga"]
    private_telegram.push(message("/similar_audio@murecom_test_bot", chat=GROUP))  # no clip to reply to
    said = await private_telegram.wait_for("sendMessage", lambda p: "Reply to an audio clip" in p["text"])
    assert said["chat_id"] == GROUP["id"]
    assert private_telegram.errors == []


async def test_a_25_mb_file_gets_the_size_reply(bot_settings, wesnoth_clip) -> None:
    """Even with the bot's own limit at 50 MB, Telegram serves bots files of at most 20 MB: a 25 MB voice note gets
    the size reply at once, and the bot never asks for it (it used to call getFile, get a 400, and say "Sorry")."""
    async with serving(FakeTelegram(), bot_settings, max_audio_bytes=50_000_000) as telegram:
        telegram.push(audio_message(telegram, "huge", wesnoth_clip, size=25_000_000))
        said = await telegram.wait_for("sendMessage", lambda p: "too large" in p["text"])
        assert "at most 20 MB" in said["text"]
        assert not [m for m, _ in telegram.calls if m == "getFile"] and telegram.errors == []


async def test_a_command_in_a_forum_topic_is_answered_in_its_topic(telegram: FakeTelegram) -> None:
    telegram.push(message("/help@murecom_test_bot", chat=FORUM, message_thread_id=42, is_topic_message=True))
    said = await telegram.wait_for("sendMessage", lambda p: p["text"].startswith("I recommend music."))
    assert said["chat_id"] == FORUM["id"] and said["message_thread_id"] == 42
    typing = next(p for m, p in telegram.calls if m == "sendChatAction")
    assert typing["message_thread_id"] == 42


async def test_other_media_get_one_reply_in_a_dm_and_nothing_in_a_group(telegram: FakeTelegram) -> None:
    video = {"file_id": "v1", "file_unique_id": "v1u", "width": 640, "height": 360, "duration": 3}
    telegram.push(message(chat=GROUP, video=video))
    telegram.push(message(video=video))
    said = await telegram.wait_for("sendMessage", lambda p: p["text"].startswith("I can only listen to audio"))
    assert said["chat_id"] == PRIVATE["id"]
    telegram.push(message("/help@murecom_test_bot", chat=GROUP))
    await telegram.wait_for("sendMessage", lambda p: p["chat_id"] == GROUP["id"])
    assert [p["text"][:17] for m, p in telegram.calls if m == "sendMessage" and p["chat_id"] == GROUP["id"]] == [
        "I recommend music"
    ]


async def test_opus_voice_note_in_a_private_chat_gets_tracks_and_the_chart(telegram: FakeTelegram, opus_voice) -> None:
    """A voice note as Telegram delivers it (Ogg Opus at 48 kHz, "audio/ogg", exactly the Voice fields) is downloaded
    once and answered with the chart and the ranked tracks, the clip's own soundtrack first."""
    update = audio_message(telegram, "opus-dm", opus_voice)
    assert tuple(update["message"]["voice"]) == VOICE_FIELDS
    telegram.push(update)
    photo = await telegram.wait_for("sendPhoto", timeout=60)
    assert photo["chat_id"] == PRIVATE["id"] and photo["photo"]["bytes"][:8] == b"\x89PNG\r\n\x1a\n"
    caption = parse_html(photo["caption"])
    assert re.search(r"Tracks that sound like your clip \(\d+ s analysed\)", caption), caption
    assert "\n1. " in caption and " — wesnoth " in caption.split("\n2. ")[0]
    assert telegram.downloads == ["voice/opus-dm.oga"]
    assert telegram.errors == []


async def test_opus_voice_note_in_a_group_replied_to_with_similar_gets_the_answer(
    telegram: FakeTelegram, opus_voice
) -> None:
    """In a group, the bot (an admin, so it sees the voice note) leaves the note alone until someone replies to it with
    `/similar`: then that note is the question, and the answer goes to the group."""
    clip = audio_message(telegram, "opus-club", opus_voice, chat=GROUP)
    telegram.push(clip)
    telegram.push(message("/similar", chat=GROUP, reply_to_message=clip["message"]))
    photo = await telegram.wait_for("sendPhoto", lambda p: p["chat_id"] == GROUP["id"], timeout=60)
    assert "Tracks that sound like your clip" in photo["caption"]
    assert telegram.downloads == ["voice/opus-club.oga"]  # once: for the command, not for the note itself
    assert telegram.errors == []


async def test_opus_voice_note_in_a_group_not_addressed_gets_nothing(telegram: FakeTelegram, opus_voice) -> None:
    telegram.push(audio_message(telegram, "opus-chatter", opus_voice, chat=GROUP))
    telegram.push(message("/help@murecom_test_bot", chat=GROUP))
    await telegram.wait_for("sendMessage", lambda p: p["text"].startswith("I recommend music."))
    assert telegram.downloads == []
    assert [p["text"][:17] for m, p in telegram.calls if m == "sendMessage"] == ["I recommend music"]
    assert not [m for m, _ in telegram.calls if m == "sendPhoto"]


async def test_a_group_admin_opts_the_group_in_to_every_voice_note(bot_settings, opus_voice) -> None:
    """`/listen on` from a member who is no admin (getChatMember says "member") is refused; from an administrator it
    makes every voice note of the group the bot's, until `/listen off`."""
    async with serving_core(FakeTelegram(), bot_settings) as (telegram, core):
        try:
            telegram.push(message("/listen@murecom_test_bot on", chat=GROUP))
            refused = await telegram.wait_for("sendMessage", lambda p: p["chat_id"] == GROUP["id"])
            assert refused["text"].startswith("Only an admin of this chat")
            assert ("getChatMember", {"chat_id": GROUP["id"], "user_id": ANN["id"]}) in telegram.calls
            telegram.admins[GROUP["id"]] = {ANN["id"]}
            telegram.push(message("/listen@murecom_test_bot on", chat=GROUP))
            await telegram.wait_for("sendMessage", lambda p: p["text"].startswith("From now on I analyse every"))
            telegram.push(audio_message(telegram, "opus-shared", opus_voice, chat=GROUP))  # no mention, no reply
            photo = await telegram.wait_for("sendPhoto", lambda p: p["chat_id"] == GROUP["id"], timeout=60)
            assert "Tracks that sound like your clip" in photo["caption"]
            telegram.push(message("/listen off", chat=GROUP))
            await telegram.wait_for("sendMessage", lambda p: "only the clips addressed to me" in p["text"])
            telegram.push(audio_message(telegram, "opus-after", opus_voice, chat=GROUP))
            telegram.push(message("/help@murecom_test_bot", chat=GROUP))
            await telegram.wait_for("sendMessage", lambda p: p["text"].startswith("I recommend music."))
            assert telegram.downloads == ["voice/opus-shared.oga"]
            assert telegram.errors == []
        finally:
            core.listening.switch("telegram", str(GROUP["id"]), False, by="test")  # the shared bot home as it was


async def test_words_for_the_bot_in_a_group_are_a_request_and_ask_works_there(telegram: FakeTelegram) -> None:
    """A group message mentioning the bot is a request in words (as in a private chat); so is `/ask`; the rest of
    the group's chatter gets nothing."""
    text = "@murecom_test_bot something chill like hotel california"
    telegram.push(message(text, chat=GROUP, entities=[{"type": "mention", "offset": 0, "length": 17}]))
    sent = await telegram.wait_for("sendMessage", lambda p: p["chat_id"] == GROUP["id"])
    assert "You asked for like Hotel California" in sent["text"] and "chill" in sent["text"]
    telegram.push(message("/ask@murecom_test_bot no eagles, more 80s", chat=GROUP))
    refined = await telegram.wait_for("sendMessage", lambda p: p["chat_id"] == GROUP["id"] and p is not sent)
    assert "no The Eagles" in refined["text"] or "no Eagles" in refined["text"], refined["text"]
    telegram.push(message("free text in a private chat: something upbeat"))
    private = await telegram.wait_for("sendMessage", lambda p: p["chat_id"] == PRIVATE["id"])
    assert "You asked for" in private["text"] and "upbeat" in private["text"]
    assert telegram.errors == []

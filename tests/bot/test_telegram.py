"""The real python-telegram-bot Application against a local fake Bot API server: what Telegram would receive."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import time

import numpy as np
import pytest
import soundfile as sf

from bot.app import build_core
from bot.telegram_adapter import run_telegram
from tests.bot.fake_telegram import FakeTelegram

ANN = {"id": 777, "is_bot": False, "first_name": "Ann"}
PRIVATE = {"id": 777, "type": "private", "first_name": "Ann"}
GROUP = {"id": -100500, "type": "group", "title": "Listening club"}


def message(text: str | None = None, chat=PRIVATE, **extra):
    msg = {"message_id": int(time.time() * 1000) % 10**6, "date": int(time.time()), "chat": chat, "from": ANN, **extra}
    if text is not None:
        msg["text"] = text
        if text.startswith("/"):
            msg["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
    return {"message": msg}


@pytest.fixture
async def telegram(bot_settings):
    fake = FakeTelegram()
    await fake.start()
    settings = dataclasses.replace(
        bot_settings,
        telegram_token=fake.token,
        telegram_base_url=fake.base_url,
        telegram_base_file_url=fake.base_file_url,
        max_audio_bytes=2_000_000,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(run_telegram(build_core(settings), settings, stop))
    await fake.wait_for("deleteWebhook")
    yield fake
    stop.set()
    await asyncio.wait_for(task, 30)
    await fake.stop()


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
    telegram.push(
        {
            "callback_query": {
                "id": "cb-1",
                "from": ANN,
                "chat_instance": "ci",
                "data": nxt["callback_data"],
                "message": {"message_id": 1001, "date": int(time.time()), "chat": PRIVATE, "text": "x"},
            }
        }
    )
    await telegram.wait_for("answerCallbackQuery", lambda p: p["callback_query_id"] == "cb-1", after=n)
    edited = await telegram.wait_for("editMessageText", after=n)
    assert edited["message_id"] == 1001
    assert "\n\n6. " in edited["text"] and "page 2/" in edited["text"]


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


async def test_voice_note_is_downloaded_and_answered(telegram: FakeTelegram) -> None:
    buf = io.BytesIO()
    t = np.arange(22050 * 3) / 22050
    sf.write(buf, (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 22050, format="OGG", subtype="VORBIS")
    data = buf.getvalue()
    telegram.add_file("voice-1", "voice/file_1.oga", data)
    voice = {
        "file_id": "voice-1",
        "file_unique_id": "v1u",
        "duration": 3,
        "mime_type": "audio/ogg",
        "file_size": len(data),
    }
    n = len(telegram.calls)
    telegram.push(message(voice=voice))
    progress = await telegram.wait_for("sendMessage", lambda p: "Analysing" in p["text"], after=n)
    assert progress["chat_id"] == 777
    await telegram.wait_for("getFile", lambda p: p["file_id"] == "voice-1", after=n)
    await telegram.wait_for("deleteMessage", after=n)  # the progress note is removed once the answer is ready
    assert telegram.downloads == ["voice/file_1.oga"]
    answers = [
        p.get("text") or p.get("caption", "")
        for m, p in telegram.calls[n:]
        if m in ("sendMessage", "sendPhoto") and "Analysing" not in (p.get("text") or "")
    ]
    assert len(answers) == 1
    assert "Audio recommendations are not available" in answers[0] or "sound like your clip" in answers[0]


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
    assert "picked for Ann" in sent["text"]
    assert [b["text"] for b in buttons(sent)] == ["👍 Like", "⏭ Skip", "Next"]
    telegram.push(message("/session end", chat=GROUP))
    await telegram.wait_for("sendMessage", lambda p: "Session ended" in p["text"])

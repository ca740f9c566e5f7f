"""Telegram's flood control, in the fake and in the adapter: the real python-telegram-bot against the fake.

The fake answers a send over the Bots FAQ's limits (or in a test's "storm") with HTTP 429 and `retry_after`, as
Telegram does; PTB raises `RetryAfter`; the adapter waits it out within MUREC_PLATFORM_WAIT_BUDGET and says so in the
answer, or drops the message over budget without an error message (bot/telegram_adapter.py).
"""

from __future__ import annotations

import logging

import aiohttp
import pytest
from telegram import Bot, Update
from telegram.error import RetryAfter
from telegram.ext import CallbackContext

from bot.app import build_core
from bot.command_spec import SOMETHING_WENT_WRONG, held_back
from bot.telegram_adapter import TelegramBot, build_application, retry_after_seconds
from tests.bot.fake_telegram import FakeTelegram, parse_html
from tests.bot.test_telegram import GROUP, PRIVATE, buttons, callback, message, pointed_at, serving_core

# PTB 22's own RetryAfter constructor reads its deprecated int `retry_after` (it becomes a timedelta unless
# PTB_TIMEDELTA opts in), so every 429 warns from inside PTB; the project's "error" filter would turn the warning
# into the exception instead of RetryAfter. Our code reads the value without the warning (`retry_after_seconds`).
pytestmark = pytest.mark.filterwarnings("ignore:.*attribute `retry_after`:telegram.warnings.PTBDeprecationWarning")


class Clock:
    """A clock the test moves (the fake's flood windows read it)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def waits(core, outcome: str) -> float:
    return core.metrics.platform_waits.labels(adapter="telegram", outcome=outcome)._value.get()


def answers(fake: FakeTelegram, method: str = "sendMessage") -> list[dict]:
    return [p for m, p in fake.calls if m == method]


@pytest.fixture
async def raw_fake():
    """The fake on a test clock, and a bare PTB Bot (no rate limiter, no retries) talking to it."""
    clock = Clock()
    fake = FakeTelegram(clock=clock)
    await fake.start()
    async with Bot(fake.token, base_url=fake.base_url, base_file_url=fake.base_file_url) as bot:
        yield fake, bot, clock
    await fake.stop()


async def test_fake_answers_429_past_20_messages_a_minute_in_a_group(raw_fake) -> None:
    """Bots FAQ: "your bot will not be able to send more than 20 messages per minute to the same group". 25 answers
    to a group, one every 2 s of fake time (so the one-a-second chat rule never bites): the first 20 go, the next 5
    get 429 with retry_after the seconds until the oldest leaves the minute; a minute later the group is open again."""
    fake, bot, clock = raw_fake
    outcomes: list[int | None] = []
    for i in range(25):
        try:
            await bot.send_message(GROUP["id"], f"answer {i}")
            outcomes.append(None)
        except RetryAfter as exc:
            outcomes.append(int(retry_after_seconds(exc)))
        clock.now += 2
    # the 21st is sent at t=40 s: the first (t=0) leaves the minute at t=60, so 20 s to wait; then 18, 16, …
    assert outcomes == [None] * 20 + [20, 18, 16, 14, 12]
    assert len(answers(fake)) == 20 and [r for _, _, r in fake.limited] == [20, 18, 16, 14, 12]
    assert fake.errors == []
    clock.now += 60
    await bot.send_message(GROUP["id"], "a minute later")


async def test_fake_answers_429_on_the_wire_as_telegram_does(raw_fake) -> None:
    """The exact answer ("Making requests": ok false, error_code, description, parameters.retry_after)."""
    fake, _, _ = raw_fake
    fake.storm(PRIVATE["id"], 1, 7)
    async with aiohttp.ClientSession() as http:
        url = f"{fake.base_url}{fake.token}/sendMessage"
        async with http.post(url, data={"chat_id": "777", "text": "hello"}) as response:
            assert response.status == 429
            assert await response.json() == {
                "ok": False,
                "error_code": 429,
                "description": "Too Many Requests: retry after 7",
                "parameters": {"retry_after": 7},
            }
        async with http.post(url, data={"chat_id": "777", "text": "hello"}) as response:
            assert response.status == 200  # the storm was one request long
    assert [(m, r) for m, _, r in fake.limited] == [("sendMessage", 7)]


async def test_fake_limits_a_private_chat_and_the_bot_overall(raw_fake) -> None:
    """About one message a second in a chat ("short bursts" allowed: the fake's burst is 20) and about 30 a second in
    all; chat actions post no message and are not counted."""
    fake, bot, clock = raw_fake
    for i in range(20):
        await bot.send_message(PRIVATE["id"], f"burst {i}")
    with pytest.raises(RetryAfter) as exc:
        await bot.send_message(PRIVATE["id"], "one too many")
    assert retry_after_seconds(exc.value) == 1
    await bot.send_chat_action(PRIVATE["id"], "typing")
    clock.now += 1.5  # one second frees one message of the burst
    await bot.send_message(PRIVATE["id"], "after a second")
    clock.now += 60
    for chat in range(1, 31):  # 30 chats within one second: all go
        await bot.send_message(chat, "news")
    with pytest.raises(RetryAfter) as exc:
        await bot.send_message(31, "news")
    assert retry_after_seconds(exc.value) == 1


async def test_a_storm_of_429s_is_waited_out_and_the_answer_says_so(bot_settings) -> None:
    """Three 429s (retry_after 1 s) on a private chat: `/similar hotel california` is answered exactly once, about
    3 s late, and the answer says so; counted as "sent", nothing refused, no "Sorry"."""
    async with serving_core(FakeTelegram(), bot_settings, platform_wait_budget=10.0) as (fake, core):
        fake.storm(PRIVATE["id"], 3, 1)
        fake.push(message("/similar hotel california"))
        sent = await fake.wait_for("sendMessage", lambda p: "Hotel California" in p["text"])
        assert [(m, r) for m, _, r in fake.limited] == [("sendMessage", 1)] * 3
        assert len([p for p in answers(fake) if "Similar to" in p["text"]]) == 1
        shown = parse_html(sent["text"])
        assert shown.endswith(held_back("Telegram", 3)), shown
        assert sent["text"].count('<a href="https://open.spotify.com/') == 5  # the note took no track's place
        await fake.wait_until(lambda: waits(core, "sent") == 1)  # counted once the answer came back
        assert waits(core, "dropped") == 0
        assert not [p for p in answers(fake) if SOMETHING_WENT_WRONG in p["text"]]
        assert fake.errors == []


async def test_a_wait_over_the_budget_drops_the_reply_quietly(bot_settings, caplog) -> None:
    """Budget 1 s, Telegram asks for 5: the answer is dropped at once, logged at WARNING with the chat and the wait,
    counted as "dropped"; nothing reaches PTB's error handler (no "Sorry, something went wrong")."""
    caplog.set_level(logging.WARNING, logger="bot.telegram_adapter")
    async with serving_core(FakeTelegram(), bot_settings, platform_wait_budget=1.0) as (fake, core):
        fake.storm(PRIVATE["id"], 1, 5)
        fake.push(message("/similar hotel california"))
        await fake.wait_until(lambda: waits(core, "dropped") == 1)
        fake.push(message("/help"))  # the bot still answers (after the dropped reply)
        await fake.wait_for("sendMessage", lambda p: p["text"].startswith("I recommend music."))
        assert [(m, r) for m, _, r in fake.limited] == [("sendMessage", 5)]
        assert [p["text"][:17] for p in answers(fake)] == ["I recommend music"]
        assert waits(core, "sent") == 0
    dropped = [r for r in caplog.records if r.levelno == logging.WARNING and "dropped" in r.getMessage()]
    assert len(dropped) == 1 and "chat 777" in dropped[0].getMessage() and "wait 5 s" in dropped[0].getMessage()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], [r.getMessage() for r in caplog.records]


async def test_a_page_edit_that_gets_429s_is_waited_out(bot_settings) -> None:
    """Paging edits the message in place; two 429s on the edit are waited out and the edited page says so."""
    async with serving_core(FakeTelegram(), bot_settings, platform_wait_budget=10.0) as (fake, core):
        fake.push(message("/similar stairway to heaven"))
        sent = await fake.wait_for("sendMessage", lambda p: "Stairway To Heaven" in p["text"])
        [nxt] = buttons(sent)
        fake.storm(PRIVATE["id"], 2, 1, methods={"editMessageText"})
        fake.push(callback(nxt["callback_data"], sent["result_message_id"]))
        edited = await fake.wait_for("editMessageText")
        assert "page 2/" in edited["text"]
        assert parse_html(edited["text"]).endswith(held_back("Telegram", 2))
        assert [(m, r) for m, _, r in fake.limited] == [("editMessageText", 1)] * 2
        await fake.wait_until(lambda: waits(core, "sent") == 1)
        assert len(answers(fake, "editMessageText")) == 1
        assert fake.errors == []


async def test_the_error_message_is_waited_out_too(bot_settings) -> None:
    """`on_error` sends through the same handling: its "Sorry" hit by a 429 is sent after the wait, with the note."""
    fake = FakeTelegram()
    await fake.start()
    settings = pointed_at(fake, bot_settings, platform_wait_budget=10.0)
    core = build_core(settings)
    try:
        app = build_application(core, settings)
        async with app:
            handlers = TelegramBot(core, settings)
            update = Update.de_json({"update_id": 1, **message("/similar x")}, app.bot)
            context = CallbackContext(app)
            context.error = RuntimeError("a handler failed")
            fake.storm(PRIVATE["id"], 1, 1)
            await handlers.on_error(update, context)
        [sorry] = answers(fake)
        assert sorry["text"] == f"{SOMETHING_WENT_WRONG}\n\n{held_back('Telegram', 1)}"
        assert [(m, r) for m, _, r in fake.limited] == [("sendMessage", 1)]
        assert waits(core, "sent") == 1
    finally:
        core.close()
        await fake.stop()

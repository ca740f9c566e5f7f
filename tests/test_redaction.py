"""Secrets never logged: a real `murecom -v bot telegram` process at DEBUG, against the fake Bot API on 127.0.0.1.

httpx logs each request URL and the Bot API puts the token in the path; python-telegram-bot's `InvalidToken`
quotes the token in a crash traceback. The output of both runs is grepped for every configured secret.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import signal
import sys
from urllib.parse import quote

import pytest

from data.logsafe import RedactSecrets, secrets_of
from data.settings import PROJECT_ROOT, Settings
from tests.bot.fake_telegram import FakeTelegram

TELEGRAM_TOKEN = "987654:FAKE-telegram-token-xyz"
DISCORD_TOKEN = "FAKE.discord.token-abc123"
SPOTIFY_SECRET = "fakespotifysecret0123456789"


def _env(fake: FakeTelegram, home) -> dict[str, str]:
    return {
        **os.environ,
        "MUREC_HOME": str(home),
        "DATABASE_URL": "",
        "TELEGRAM_TOKEN": TELEGRAM_TOKEN,
        "TELEGRAM_BASE_URL": fake.base_url,
        "TELEGRAM_BASE_FILE_URL": fake.base_file_url,
        "DISCORD_TOKEN": DISCORD_TOKEN,
        "SPOTIFY_CLIENT_ID": "fakespotifyclientid",
        "SPOTIFY_CLIENT_SECRET": SPOTIFY_SECRET,
        "REDIS_URL": "redis://127.0.0.1:9/0",  # jobs left to (absent) workers: this run is about the bot's logs
        "MUREC_LOG_LEVEL": "DEBUG",
        "NUMBA_CACHE_DIR": str(PROJECT_ROOT / "var" / "numba-cache"),
    }


def _leaks(text: str) -> list[str]:
    forms = [s for secret in (TELEGRAM_TOKEN, DISCORD_TOKEN, SPOTIFY_SECRET) for s in (secret, quote(secret, safe=""))]
    return [form for form in forms if form in text]


async def _bot(env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "murecom_cli",
        "-v",
        "bot",
        "telegram",
        cwd=PROJECT_ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def test_bot_token_not_in_debug_logs_of_a_real_run(tmp_path) -> None:
    fake = FakeTelegram(token=TELEGRAM_TOKEN)
    await fake.start()
    try:
        bot = await _bot(_env(fake, tmp_path))
        chat = {"id": 77, "type": "private", "first_name": "Ann"}
        fake.push(
            {
                "message": {
                    "message_id": 1,
                    "date": 1700000000,
                    "chat": chat,
                    "from": {"id": 77, "is_bot": False, "first_name": "Ann"},
                    "text": "/help",
                    "entities": [{"type": "bot_command", "offset": 0, "length": 5}],
                }
            }
        )
        await fake.wait_for("sendMessage", timeout=180)
        assert bot.stderr is not None
        logged, line = b"", b""
        while not (b"HTTP Request: POST" in line and b"/sendMessage" in line):  # httpx logs once the response is in
            line = await asyncio.wait_for(bot.stderr.readline(), 60)
            assert line, "the bot exited before logging its reply"
            logged += line
        bot.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(bot.communicate(), 60)
    finally:
        await fake.stop()
    text = out.decode() + logged.decode() + err.decode()
    assert "/bot[REDACTED]/sendMessage" in text  # httpx did log the request URLs, with the token taken out
    assert "DEBUG" in text
    assert _leaks(text) == []
    assert not list(tmp_path.rglob("*.log"))  # nothing logged to files either


async def test_token_not_in_a_crash_traceback(tmp_path) -> None:
    """The Bot API rejects the token: python-telegram-bot raises InvalidToken quoting it, and the process dies."""
    fake = FakeTelegram(token="111:the-token-the-server-knows")
    await fake.start()
    try:
        bot = await _bot(_env(fake, tmp_path))
        out, err = await asyncio.wait_for(bot.communicate(), 180)
    finally:
        await fake.stop()
    text = out.decode() + err.decode()
    assert bot.returncode != 0
    assert "InvalidToken" in text and "Traceback" in text
    assert "The token `[REDACTED]` was rejected" in text
    assert _leaks(text) == []


@pytest.mark.fast
def test_every_form_of_a_secret_is_redacted_in_message_args_and_traceback() -> None:
    """URL-quoted tokens, the Spotify Basic auth header and passwords in service URLs, wherever they appear."""
    settings = Settings.from_env(
        {
            "TELEGRAM_TOKEN": TELEGRAM_TOKEN,
            "SPOTIFY_CLIENT_ID": "fakespotifyclientid",
            "SPOTIFY_CLIENT_SECRET": SPOTIFY_SECRET,
            "REDIS_URL": "redis://:hunter2hunter2@127.0.0.1:6379/0",
        }
    )
    redactor = RedactSecrets(secrets_of(settings))
    basic = base64.b64encode(f"fakespotifyclientid:{SPOTIFY_SECRET}".encode()).decode()
    try:
        raise RuntimeError(f"GET /bot{quote(TELEGRAM_TOKEN, safe='')}/getMe failed")
    except RuntimeError:
        record = logging.LogRecord(
            "t", logging.DEBUG, __file__, 1, "auth %s to %s", (f"Basic {basic}", "redis password hunter2hunter2"), None
        )
        record.exc_info = sys.exc_info()
    assert redactor.filter(record)
    text = logging.Formatter().format(record)
    assert "Basic [REDACTED]" in text and "getMe failed" in text
    assert _leaks(text) == [] and basic not in text and "hunter2hunter2" not in text
    assert text.count("[REDACTED]") == 3

"""Adapters isolated and self-healing: the real discord.py and python-telegram-bot against the fakes, run by
`bot.cli.run_bots` as `murecom run` runs them. A Discord failure leaves Telegram answering; a failure that waiting
can fix is retried until it is; the process ends only when every adapter has failed for good."""

from __future__ import annotations

import asyncio
import dataclasses
import logging

import discord
import pytest
import yarl

from bot.cli import run_bots
from bot.supervisor import Supervisor
from tests.bot.fake_discord import GUILD_MEMBERS, MESSAGE_CONTENT, FakeDiscord
from tests.bot.fake_telegram import FakeTelegram
from tests.bot.test_telegram import message

#: Pauses short enough for a test; the product's are 2 s doubling up to 5 min.
QUICK = {"first_pause": 0.05, "max_pause": 0.2}


@pytest.fixture
async def fakes(monkeypatch):
    discord_fake, telegram_fake = FakeDiscord(granted_intents=GUILD_MEMBERS), FakeTelegram()  # no Message Content
    await discord_fake.start()
    await telegram_fake.start()
    monkeypatch.setattr(discord.http.Route, "BASE", discord_fake.api_base)
    monkeypatch.setattr(discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(discord_fake.gateway))
    yield discord_fake, telegram_fake
    await discord_fake.stop()
    await telegram_fake.stop()


def both(settings, discord_fake: FakeDiscord, telegram_fake: FakeTelegram, **changes):
    return dataclasses.replace(
        settings,
        discord_token=discord_fake.token,
        telegram_token=telegram_fake.token,
        telegram_base_url=telegram_fake.base_url,
        telegram_base_file_url=telegram_fake.base_file_url,
        **changes,
    )


async def test_a_discord_start_failure_leaves_telegram_answering_and_heals(fakes, bot_settings, caplog) -> None:
    discord_fake, telegram_fake = fakes
    caplog.set_level(logging.ERROR, logger="bot.supervisor")
    supervisor, stop = Supervisor(**QUICK), asyncio.Event()
    task = asyncio.create_task(
        run_bots(both(bot_settings, *fakes), ["telegram", "discord"], supervisor, stop, embedded_jobs=False)
    )
    try:
        await discord_fake.wait_until(lambda: discord_fake.identifies >= 2)  # refused (4014), then tried again
        telegram_fake.push(message("/help"))
        await telegram_fake.wait_for("sendMessage", lambda p: p["text"].startswith("I recommend music."))
        assert supervisor.status["discord"].failures >= 1
        assert "Message Content" in supervisor.status["discord"].advice
        assert any("Privileged Gateway Intents" in r.getMessage() for r in caplog.records)
        discord_fake.granted_intents |= MESSAGE_CONTENT  # the operator enables the intent in the portal
        await asyncio.wait_for(discord_fake.identified.wait(), 30)
        await discord_fake.wait_until(lambda: discord_fake.commands)  # connected: the command tree is synced
        assert supervisor.states() == {"telegram": "running", "discord": "running"}
        assert supervisor.metrics is not None  # the process's metrics, as /metrics serves them
        registry = supervisor.metrics.registry
        assert registry.get_sample_value("murecom_adapter_failures_total", {"adapter": "discord"}) >= 1
        assert registry.get_sample_value("murecom_adapter_up", {"adapter": "discord"}) == 1
    finally:
        stop.set()
        assert await asyncio.wait_for(task, 60) is True


async def test_the_process_ends_when_every_adapter_has_failed_for_good(fakes, bot_settings) -> None:
    discord_fake, telegram_fake = fakes
    settings = dataclasses.replace(
        both(bot_settings, *fakes), discord_token="not-the-token", telegram_token="4242:not-the-token"
    )
    supervisor = Supervisor(**QUICK)
    served = await asyncio.wait_for(run_bots(settings, ["telegram", "discord"], supervisor, embedded_jobs=False), 60)
    assert served is False
    assert supervisor.states() == {"telegram": "failed", "discord": "failed"}
    assert "DISCORD_TOKEN" in supervisor.status["discord"].advice
    assert "TELEGRAM_TOKEN" in supervisor.status["telegram"].advice

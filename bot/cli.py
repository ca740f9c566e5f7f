"""`murecom chat`, `murecom bot discord|telegram|all` and `murecom run` (bots when tokens are set, else the console).

The bot's modules are imported when one of these commands runs, not when this module is: `murecom` imports every
package's cli.py to build its parser, and the chat core with its adapters costs about 2.5 s of imports that
`murecom stats` or `murecom import` should not pay.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.supervisor import Supervisor
    from data.settings import Settings

log = logging.getLogger(__name__)


async def _console(settings: Settings) -> None:
    from bot.app import build_app
    from bot.console import console_announcer, run_console
    from bot.radio import RadioScheduler

    app = await asyncio.to_thread(build_app, settings)
    stop = asyncio.Event()
    radio = RadioScheduler(app.core, {"console": console_announcer()}, settings.radio_check_seconds)
    background = [asyncio.create_task(app.watch(stop)), asyncio.create_task(radio.run(stop))]
    try:
        await run_console(app.core)
    finally:
        stop.set()
        await asyncio.gather(*background)
        app.close()


def _chat(args: argparse.Namespace) -> int:
    asyncio.run(_console(args.settings))
    return 0


async def run_bots(
    settings: Settings,
    platforms: list[str],
    supervisor: Supervisor | None = None,
    stop: asyncio.Event | None = None,
    embedded_jobs: bool = True,
) -> bool:
    """Serve the platforms' bots until `stop` is set or the process is interrupted (True), or until every adapter has
    failed for good (False). `embedded_jobs=False` leaves the background jobs to other processes (or to none).

    Each adapter runs under the supervisor (`bot.supervisor`): one that fails is explained in the log and started
    again after a pause while the others keep answering."""
    from bot.app import build_app
    from bot.radio import Announcer, RadioScheduler
    from bot.supervisor import Adapter, Supervisor

    app = await asyncio.to_thread(build_app, settings)
    core = app.core
    stop = stop or asyncio.Event()
    supervisor = supervisor or Supervisor()
    if supervisor.metrics is None:
        supervisor.metrics = app.metrics
    if settings.metrics_port:
        port = app.metrics.serve(settings.metrics_port)
        log.info("metrics on http://127.0.0.1:%d/metrics", port)
    announcers: dict[str, Announcer] = {}  # each adapter registers how to post to its chats as it starts
    adapters: list[Adapter] = []
    if "telegram" in platforms:
        from bot import telegram_adapter

        adapters.append(
            Adapter(
                "telegram",
                lambda: telegram_adapter.run_telegram(core, settings, announcers=announcers),
                telegram_adapter.explain,
            )
        )
    if "discord" in platforms:
        from bot import discord_adapter

        adapters.append(
            Adapter("discord", lambda: discord_adapter.run_discord(core, settings, announcers), discord_adapter.explain)
        )
    background = [
        asyncio.create_task(app.watch(stop)),
        asyncio.create_task(RadioScheduler(core, announcers, settings.radio_check_seconds).run(stop)),
    ]
    if embedded_jobs and not settings.redis_url:
        # embedded default: the background jobs run in this process, in their own worker thread (with REDIS_URL
        # set, `murecom jobs worker` processes run them instead)
        from jobs.scheduler import Scheduler

        background.append(
            asyncio.create_task(Scheduler.default(settings, audio_models=app.audio_models).run_forever(stop))
        )
    try:
        served = await supervisor.run(adapters, stop)
        if not served:
            log.error("every chat adapter has failed for good; stopping")
        return served
    finally:
        stop.set()
        await asyncio.gather(*background, return_exceptions=True)
        app.close()


def _bot(args: argparse.Namespace) -> int:
    settings = args.settings
    platforms = ["discord", "telegram"] if args.platform == "all" else [args.platform]
    missing = [p for p in platforms if not getattr(settings, f"{p}_token")]
    if missing:
        print(f"no token for {', '.join(missing)}: set {', '.join(p.upper() + '_TOKEN' for p in missing)} in .env")
        return 2
    return 0 if asyncio.run(run_bots(settings, platforms)) else 1


def _run(args: argparse.Namespace) -> int:
    settings = args.settings
    platforms = [p for p in ("discord", "telegram") if getattr(settings, f"{p}_token")]
    if not platforms:
        print("No DISCORD_TOKEN or TELEGRAM_TOKEN in .env: starting the local console chat.")
        return _chat(args)
    log.info("starting bots: %s", ", ".join(platforms))
    return 0 if asyncio.run(run_bots(settings, platforms)) else 1


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("chat", help="local console chat speaking the bot's commands")
    p.set_defaults(func=_chat)
    b = sub.add_parser("bot", help="start the Discord and/or Telegram bot")
    b.add_argument("platform", choices=["discord", "telegram", "all"])
    b.set_defaults(func=_bot)
    r = sub.add_parser("run", help="start the bots whose tokens are set, else the console chat")
    r.set_defaults(func=_run)

"""The radio scheduler: posts each due radio pick to its chat, in any number of processes at once.

The schedule lives in the database (`data.radio`), so this loop holds no state: every few seconds it asks the core
which stations of the platforms this process serves are due, and for each one `ChatCore.radio_turn` claims the slot
(only one process wins it) and returns the pick to post; the platform's announcer sends it. A restart loses nothing
and a pick late by the downtime is posted on the first look after it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping

from bot.core import ChatCore
from bot.replies import Reply

log = logging.getLogger(__name__)

#: Sends replies to a chat of one platform, unprompted: (chat id, replies).
Announcer = Callable[[str, list[Reply]], Awaitable[None]]


class RadioScheduler:
    def __init__(self, core: ChatCore, announcers: Mapping[str, Announcer], check_every: float = 5.0) -> None:
        self.core = core
        self.announcers = announcers  # adapters register theirs as they start: read on every tick
        self.check_every = check_every

    async def tick(self) -> int:
        """Post every due pick once; returns how many chats were posted to."""
        posted = 0
        for station in await self.core.radio_due(tuple(self.announcers)):
            try:
                replies = await self.core.radio_turn(station)
                if replies:
                    await self.announcers[station.platform](station.chat_id, replies)
                    posted += 1
            except Exception:  # noqa: BLE001 - one chat's failure must not silence the others' radio
                log.exception("radio post to %s:%s failed", station.platform, station.chat_id)
        return posted

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.tick()
            except Exception:  # noqa: BLE001 - logged; the next look tries again
                log.exception("radio tick failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.check_every)

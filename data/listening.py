"""Which group chats an admin opted in to having every audio clip analysed (`/listen on`), kept in `kv_state`.

By default a bot in a server channel or group analyses only the clips addressed to it (a DM, a mention, a reply to
it, or `/similar` as a reply to a clip): a bot that answers every attachment gets removed from servers. A chat whose
admin asks for it — a listening club's channel — gets every clip analysed; the choice survives restarts.

Adapters ask `is_on` for every unaddressed clip in a group, so it answers from memory: the rows are read once, and
this process's own changes update the copy as they are written (one bot process serves a token).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from sqlalchemy import Engine

from data.kv import read_prefixed, write_state

PREFIX = "listen:"


def key_of(platform: str, chat_id: str) -> str:
    return f"{PREFIX}{platform}:{chat_id}"


class ListeningChats:
    """The opted-in chats: read once from the database, then served from memory; writes go to both."""

    def __init__(self, engine: Engine, wall_clock: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self._wall_clock = wall_clock
        self._on: set[str] | None = None
        self._lock = threading.Lock()

    def is_on(self, platform: str, chat_id: str) -> bool:
        """Whether every clip posted in this chat is for the bot."""
        return key_of(platform, chat_id) in self._loaded()

    def switch(self, platform: str, chat_id: str, on: bool, by: str) -> None:
        """Opt the chat in or out (who did it and when are kept with the choice)."""
        key = key_of(platform, chat_id)
        with self.engine.begin() as conn:
            write_state(conn, key, {"on": on, "by": by, "at": self._wall_clock()})
        on_now = self._loaded()
        with self._lock:
            (on_now.add if on else on_now.discard)(key)

    def _loaded(self) -> set[str]:
        with self._lock:
            if self._on is None:
                rows = read_prefixed(self.engine, PREFIX)
                self._on = {key for key, value in rows.items() if value.get("on")}
            return self._on

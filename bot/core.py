"""The platform-free chat core: a router from typed commands, button actions and clips to feature handlers.

Adapters (console, Discord, Telegram) only translate platform events into `handle_text`, `handle_action` and
`handle_audio` calls and render the replies. The core finds the handler — by the command's word in the table it
serves (`bot.commands`), by the decoded action's type, or the clip handler — and runs it through the middleware
(`bot.middleware`: rate limits, the one snapshot read, a busy database, error replies, `served_by`). Each feature's
logic and wording live in its module under `bot/handlers/`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from bot.actions import Action, decode
from bot.command_spec import Command
from bot.commands import COMMANDS
from bot.handlers.base import Broadcaster, ClipHandler, Handler, Services
from bot.handlers.radio import RADIO_USER
from bot.metrics import Metrics
from bot.middleware import ChatLocks, Middleware
from bot.replies import ChatContext, Reply
from bot.snapshot import Snapshot
from data.corpus import Corpus
from data.listening import ListeningChats
from data.radio import DueStation, RadioStore
from data.sessions import SessionStore
from data.settings import Settings
from jobs.song_lookup import SongLookup


class ChatCore:
    """One instance serves every adapter of the process.

    `snapshot` returns the current serving snapshot (the composition root passes `SnapshotWatcher.current`);
    `commands` is the table served (each row names its handler class, built here once); `lookup` finds songs the
    corpus lacks in open data (None: unknown songs are said to be unknown).
    """

    def __init__(
        self,
        snapshot: Callable[[], Snapshot],
        corpus: Corpus,
        sessions: SessionStore,
        settings: Settings,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        commands: Sequence[Command] = COMMANDS,
        metrics: Metrics | None = None,
        lookup: SongLookup | None = None,
    ) -> None:
        self.snapshot = snapshot
        self.corpus = corpus
        self.settings = settings
        self.commands = tuple(commands)
        self.middleware = Middleware(snapshot, settings, clock, metrics)
        self.metrics = self.middleware.metrics
        self._writes = ChatLocks()
        self.listening = ListeningChats(corpus.engine, wall_clock)
        self.lookup = lookup
        services = Services(
            corpus,
            sessions,
            RadioStore(corpus.engine),
            settings,
            wall_clock,
            self._writes,
            self.commands,
            self.metrics,
            self.listening,
            lookup,
        )
        self.handlers: dict[str, Handler] = {c.name: c.handler(services, c) for c in self.commands if c.handler}
        self._by_word = {w: self.handlers[c.name] for c in self.commands if c.handler and c.typed for w in c.words}
        self._by_action = {kind: h for h in self.handlers.values() for kind in h.actions}
        self._plain = next((self.handlers[c.name] for c in self.commands if c.plain_text), None)
        self._clip = next((h for h in self.handlers.values() if isinstance(h, ClipHandler)), None)
        self._broadcaster = next((h for h in self.handlers.values() if isinstance(h, Broadcaster)), None)

    def close(self) -> None:
        """Release every handler's resources (the audio pool lets clips in flight finish)."""
        for handler in self.handlers.values():
            handler.close()
        self._writes.close()
        if self.lookup is not None:
            self.lookup.close()

    def command_words(self) -> list[str]:
        """Every word typed as a command (names and aliases): what adapters register."""
        return list(self._by_word)

    # --- entry points ------------------------------------------------------------------------------------------
    async def handle_text(self, ctx: ChatContext, text: str) -> list[Reply]:
        """A message: a command (`/similar …`), or, in a private chat, plain text for the plain-text command."""
        text = (text or "").strip()
        if not text.startswith("/"):
            handler = self._plain
            if not text or handler is None:
                return []
            return await self.middleware(ctx, handler.command.name, lambda req: handler.on_text(req, text))
        word, _, args = text[1:].partition(" ")
        word = word.split("@", 1)[0].lower()
        found = self._by_word.get(word)
        if found is None:
            return [Reply(f"I don't know /{word[:30]}. Try /help.", kind="error")]
        target = found
        return await self.middleware(ctx, target.command.name, lambda req: target.on_text(req, args.strip()))

    async def handle_action(self, ctx: ChatContext, action: Action | str | None) -> list[Reply]:
        """A button press: the typed action, or its wire form as a client sent it (clients can send anything);
        None is a press an adapter could not decode."""
        typed = decode(action) if isinstance(action, str) else action
        handler = self._by_action.get(type(typed)) if typed is not None else None
        if typed is None or handler is None:
            return [Reply("That button is no longer valid.", kind="error")]
        return await self.middleware(ctx, typed.prefix, lambda req: handler.on_action(req, typed), kind="button")

    async def handle_audio(self, ctx: ChatContext, data: bytes, filename: str = "clip") -> list[Reply]:
        """An audio clip: tracks that sound like it, with the label probabilities as a chart."""
        clip = self._clip
        if clip is None:
            return [Reply("I do not take audio clips.", kind="error")]
        return await self.middleware(ctx, clip.command.name, lambda req: clip.on_clip(req, data, filename), kind="clip")

    def listens_to_every_clip(self, platform: str, chat_id: str) -> bool:
        """Whether an admin opted this group chat in to every clip being analysed (`/listen on`); from memory."""
        return self.listening.is_on(platform, chat_id)

    def suggest(self, prefix: str, limit: int = 25) -> list[tuple[str, str]]:
        """(label, value) pairs for autocomplete; the value resolves back exactly with `/similar`."""
        labels = (cand.track.label[:100] for cand in self.snapshot().search.suggest(prefix, limit))
        return [(label, label) for label in labels]

    # --- unprompted posts (the radio scheduler's questions) ---------------------------------------------------
    async def radio_due(self, platforms: tuple[str, ...]) -> list[DueStation]:
        """Stations of `platforms` whose next pick is due now."""
        return await self._broadcaster.due(platforms) if self._broadcaster is not None else []

    async def radio_turn(self, station: DueStation) -> list[Reply]:
        """Post one due slot of a station if this process wins it: the replies for its chat (none if another took
        it). Not rate-limited (nobody typed), and failures propagate to the scheduler, which logs them."""
        broadcaster = self._broadcaster
        if broadcaster is None:
            return []
        ctx = ChatContext(station.platform, station.chat_id, RADIO_USER, RADIO_USER)
        return await self.middleware(
            ctx, "radio", lambda req: broadcaster.turn(req, station), rate_limited=False, contain=False, kind="post"
        )

"""`/radio [song | tags | stop]`: a session that keeps playing — a new pick after each track, steered by likes and
skips, from the group's taste, a song, or a tag station — and stops after enough picks nobody reacted to.

The schedule is rows (`data.radio`), claimed slot by slot, so restarts and several processes are safe; the radio
scheduler (`bot.radio`) asks `due` which stations to post and `turn` for each one's pick.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING

from bot.actions import Action, RadioSong, RadioStop, RadioTags
from bot.handlers.base import Broadcaster, Services
from bot.handlers.group_play import GroupPlayer
from bot.middleware import Request
from bot.replies import Button, ChatContext, Reply
from bot.snapshot import Snapshot
from data.radio import DueStation
from data.search import Candidate, QueryError
from recommenders.ask.parse import AskError, Parser
from recommenders.group import member_seeds

if TYPE_CHECKING:  # a command row names its handler class: types only, no import cycle
    from bot.command_spec import Command

RADIO_USER = "radio"


def _station_words(snap: Snapshot, text: str) -> tuple[str, ...]:
    """The tags of a station asked for in words ("/radio something chill for a road trip" → chill, driving), read
    by /ask's parser; empty when the text also names a song or an artist, or holds words it did not understand."""
    if snap.tags is None:
        return ()
    try:
        request = Parser(snap.search, snap.tags).parse(text)
    except AskError:
        return ()
    if request.songs or request.artists or request.unknown or request.exclude_tags:
        return ()
    return tuple(dict.fromkeys([*request.tags, *request.more_tags]))


class RadioHandler(Broadcaster):
    actions = (RadioTags, RadioSong, RadioStop)

    def __init__(self, services: Services, command: Command) -> None:
        super().__init__(services, command)
        self.player = GroupPlayer(services)

    async def on_action(self, req: Request, action: Action) -> list[Reply]:
        if isinstance(action, RadioStop):
            return await self.on_text(req, "stop")
        if isinstance(action, RadioTags):
            return await self.on_text(req, action.tag)
        assert isinstance(action, RadioSong)
        return await self._start(req, (), action.track_id)

    async def on_text(self, req: Request, args: str) -> list[Reply]:
        """`/radio` (the session's taste), `/radio <song>`, `/radio <tags>` (a station; also in words, "something
        chill for a road trip"), `/radio stop`."""
        snap, ctx = req.snap, req.ctx
        args = args.strip()
        if args.lower() == "stop":
            return await self.services.chat_locks.run(ctx, self._stop, ctx)
        tags: tuple[str, ...] = ()
        seed: int | None = None
        if args:
            match = snap.tags.parse(args) if snap.tags is not None else None
            plain_tags = match is not None and bool(match.tags) and len(match.rest) <= 2
            worded = () if plain_tags else await asyncio.to_thread(_station_words, snap, args)
            if match is not None and plain_tags:
                tags = match.tags
            elif worded:
                tags = worded
            else:
                try:
                    res = await asyncio.to_thread(snap.search.search, args, 10)
                except QueryError as exc:
                    return [Reply(str(exc), kind="error")]
                sure, offer = res.decide(offered=3)
                if sure is None:
                    return [self._choices(snap, args, offer)]
                seed = sure.track.id
        return await self._start(req, tags, seed)

    async def _start(self, req: Request, tags: tuple[str, ...], seed: int | None) -> list[Reply]:
        locks = self.services.chat_locks
        return await locks.run(req.ctx, self._start_locked, req.snap, req.ctx, tags, seed)

    def _choices(self, snap: Snapshot, args: str, songs: Sequence[Candidate]) -> Reply:
        """Stations whose tags are closest to what was typed, and songs it may have meant, as buttons."""
        closest = snap.tags.closest(args, 3) if snap.tags is not None else []
        rows = [(Button.of(f"📻 {t}"[:60], RadioTags(t)),) for t in closest if RadioTags(t).fits()]
        rows += [(Button.of(f"🎵 {c.track.label}"[:60], RadioSong(c.track.id)),) for c in songs[:3]]
        if not rows:
            return Reply(
                f"I know no song or tag like “{args[:80]}”. Try /radio 80s rock or /radio <song>.", kind="error"
            )
        return Reply(f"Which radio do you mean by “{args[:80]}”?", kind="choices", buttons=tuple(rows))

    def _start_locked(self, snap: Snapshot, ctx: ChatContext, tags: tuple[str, ...], seed: int | None) -> list[Reply]:
        sessions, settings = self.services.sessions, self.services.settings
        state = sessions.active(ctx.platform, ctx.chat_id)
        if state is None:
            if not tags and seed is None:
                return [
                    Reply(
                        "Radio plays for a session, a song or a tag: /radio <song>, /radio 80s rock, or /session "
                        "start first.",
                        kind="error",
                    )
                ]
            sessions.start(ctx.platform, ctx.chat_id, ctx.user_id, ctx.user_name)
            state = sessions.active(ctx.platform, ctx.chat_id)
            assert state is not None
        sessions.join(state.id, ctx.user_id, ctx.user_name)
        if seed is not None:
            sessions.record(state.id, ctx.user_id, "seed", seed)
        state = sessions.active(ctx.platform, ctx.chat_id)
        assert state is not None
        if not tags and not any(member_seeds(state).values()):
            return [Reply("Add a song first (/session add <song>), or name one: /radio <song>.", kind="error")]
        # due only after the first pick's track: the first pick is this command's own answer, never a scheduler's
        self.services.radio.start(
            state.id, ctx.user_id, self.services.wall_clock() + settings.radio_default_seconds, tags
        )
        what = f"the {', '.join(tags)} station" if tags else "the group's taste"
        first = self._post(snap, ctx.platform, ctx.chat_id, state.id)
        limit = settings.radio_idle_picks
        return [
            Reply(
                f"📻 Radio on: {what}. A new pick follows each track; like or skip to steer. "
                f"I stop after {limit} picks nobody reacts to, or on /radio stop.",
                buttons=((Button.of("Stop radio", RadioStop()),),),
            ),
            *first,
        ]

    def _stop(self, ctx: ChatContext) -> list[Reply]:
        state = self.services.sessions.active(ctx.platform, ctx.chat_id)
        if state is None or not self.services.radio.stop(state.id):
            return [Reply("The radio is not on here.", kind="error")]
        return [Reply("📻 Radio off. /radio to start it again.")]

    def _post(self, snap: Snapshot, platform: str, chat_id: str, session_id: int) -> list[Reply]:
        """The radio's next pick for a session (the caller holds the slot), and its next due time."""
        radio, settings = self.services.radio, self.services.settings
        state = self.services.sessions.active(platform, chat_id)
        if state is None or state.id != session_id:
            radio.stop(session_id)
            return []
        ctx = ChatContext(platform, chat_id, RADIO_USER, RADIO_USER)
        replies = self.player.play_next(snap, ctx, state, "📻 Radio")
        now = self.services.wall_clock()
        if replies and replies[0].tracks:
            track_id = replies[0].tracks[0].track_id
            info = self.services.corpus.track_info([track_id]).get(track_id)
            seconds = (info.duration_ms / 1000) if info is not None and info.duration_ms else None
            radio.reschedule(session_id, now + (seconds or settings.radio_default_seconds))
        else:
            radio.stop(session_id)
            replies = [*replies, Reply("📻 Radio off: I have nothing more to play for this session.")]
        return replies

    async def due(self, platforms: tuple[str, ...]) -> list[DueStation]:
        """Stations of `platforms` whose next pick is due now (the radio scheduler's question)."""
        return await asyncio.to_thread(self.services.radio.due, self.services.wall_clock(), platforms)

    async def turn(self, req: Request, station: DueStation) -> list[Reply]:
        """Post one due slot of a station, if this process wins it: the replies to send to its chat (none when
        another process took the slot). Stops the radio after enough picks nobody reacted to."""
        radio, settings = self.services.radio, self.services.settings

        def turn() -> list[Reply]:
            until = self.services.wall_clock() + settings.radio_default_seconds
            if not radio.claim(station, until):
                return []
            if station.idle >= settings.radio_idle_picks:
                radio.stop(station.session_id)
                return [
                    Reply(f"📻 Radio off: nobody reacted to the last {station.idle} picks. /radio to start it again.")
                ]
            return self._post(req.snap, station.platform, station.chat_id, station.session_id)

        return await self.services.chat_locks.run(req.ctx, turn)

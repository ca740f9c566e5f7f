"""`/session start|join|add <song>|next|like|skip|who|export|end`: a group listening session in a chat.

A chat's session commands run one at a time (the chat's lock), each as one unit in a worker thread, so two `next`
never pick the same track and two `start` never open two sessions; the database enforces one active session per
chat and no repeated play, also across processes.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from bot.actions import Action, SessionStep
from bot.export import session_playlist
from bot.handlers.base import Handler, Services
from bot.handlers.group_play import GroupPlayer
from bot.middleware import Request
from bot.replies import Button, ChatContext, Reply
from bot.snapshot import Snapshot
from data.search import QueryError
from data.sessions import SessionState
from recommenders.group import member_seeds, taste_match

if TYPE_CHECKING:  # a command row names its handler class: types only, no import cycle
    from bot.command_spec import Command


class SessionHandler(Handler):
    actions = (SessionStep,)

    def __init__(self, services: Services, command: Command) -> None:
        super().__init__(services, command)
        self.player = GroupPlayer(services)

    async def on_action(self, req: Request, action: Action) -> list[Reply]:
        assert isinstance(action, SessionStep)
        return await self.on_text(req, action.step)

    async def on_text(self, req: Request, args: str) -> list[Reply]:
        sub, _, rest = args.partition(" ")
        sub, rest = sub.lower(), rest.strip()
        if sub == "add" and rest:
            resolved = await self._resolve_one(req.snap, rest, "/session add")
            if isinstance(resolved, Reply):
                return [resolved]
            rest = str(resolved)
        locks = self.services.chat_locks
        return await locks.run(req.ctx, self._command, req.snap, req.ctx, sub, rest)

    async def _resolve_one(self, snap: Snapshot, query: str, command: str) -> int | Reply:
        """The one track a free-text query names, or the reply asking which (reads only the search index)."""
        try:
            res = await asyncio.to_thread(snap.search.search, query, 10)
        except QueryError as exc:
            return Reply(str(exc), kind="error")
        sure, offer = res.decide()
        if sure is not None:
            return sure.track.id
        if not offer:
            unknown = f"I don't know “{query[:80]}” yet; try its title with the artist, or another song."
            return Reply(unknown, kind="error")
        names = "\n".join(f"• {c.track.label}" for c in offer)
        return Reply(f"Which one? Name it with its artist, e.g. {command} title - artist\n{names}", kind="choices")

    def _command(self, snap: Snapshot, ctx: ChatContext, sub: str, rest: str) -> list[Reply]:
        store = self.services.sessions
        radio = self.services.radio
        state = store.active(ctx.platform, ctx.chat_id)
        if sub == "start":
            if state is not None or store.start(ctx.platform, ctx.chat_id, ctx.user_id, ctx.user_name) is None:
                return [Reply("A session is already running here. /session join to take part, /session end to stop.")]
            return [
                Reply(
                    f"Session started by {ctx.user_name}. Everyone: /session join, then /session add <song>; "
                    "/session next plays a pick for the whole group, /radio keeps playing.",
                    buttons=((Button.of("Join", SessionStep("join")), Button.of("Next", SessionStep("next"))),),
                )
            ]
        if state is None:
            return [Reply("No session is running in this chat. Start one with /session start.", kind="error")]
        if sub == "join":
            added = store.join(state.id, ctx.user_id, ctx.user_name)
            return [Reply(f"Welcome, {ctx.user_name}!" if added else f"{ctx.user_name}, you are already in.")]
        if sub == "add":
            return self._add(snap, ctx, state, rest)
        if sub == "next":
            return self.player.play_next(snap, ctx, state)
        if sub in ("like", "skip"):
            played = state.played
            if not played:
                return [Reply("Nothing has been played yet. /session next first.", kind="error")]
            store.join(state.id, ctx.user_id, ctx.user_name)
            last = played[-1].track_id
            store.record(state.id, ctx.user_id, sub, last)
            radio.reacted(state.id)
            info = self.services.corpus.track_info([last])[last]
            if sub == "like":
                return [Reply(f"{ctx.user_name} likes {info.label}: noted as their taste.")]
            fresh = store.active(ctx.platform, ctx.chat_id)
            nxt = self.player.play_next(snap, ctx, fresh) if fresh is not None else []
            return [Reply(f"Skipped {info.label}; I will steer away from it."), *nxt]
        if sub == "who":
            return [self._who(snap, state)]
        if sub == "export":
            return [self._export(state)]
        if sub == "end":
            if not state.is_member(ctx.user_id) and state.started_by != ctx.user_id:
                return [Reply("Only members of this session can end it. /session join first.", kind="error")]
            if not store.end(state.id):
                return [Reply("That session has already ended.")]
            radio.stop(state.id)
            return [
                Reply(
                    f"Session ended after {len(state.played)} picks. Thanks for listening! "
                    "(/session export before ending keeps a playlist of it.)"
                    if state.played
                    else "Session ended. Thanks for listening!"
                )
            ]
        return [Reply("Session commands: start, join, add <song>, next, like, skip, who, export, end.", kind="error")]

    def _add(self, snap: Snapshot, ctx: ChatContext, state: SessionState, track: str) -> list[Reply]:
        if not track:
            return [Reply("Add which song? /session add <song>", kind="error")]
        track_id = int(track)
        info = self.services.corpus.track_info([track_id]).get(track_id)
        if info is None:
            return [Reply("I no longer know that track.", kind="error")]
        self.services.sessions.join(state.id, ctx.user_id, ctx.user_name)
        self.services.sessions.record(state.id, ctx.user_id, "seed", track_id)
        self.services.radio.reacted(state.id)
        model = snap.model_for_sessions()
        note = "" if model is None or track_id in model else " (I know too little about it to use it yet)"
        return [Reply(f"{ctx.user_name} added {info.label}{note}.")]

    def _who(self, snap: Snapshot, state: SessionState) -> Reply:
        seeds = member_seeds(state)
        served: dict[str, int] = {}
        for e in state.played:
            if e.served_user_id:
                served[e.served_user_id] = served.get(e.served_user_id, 0) + 1
        rows = [f"• {m.name}: {len(seeds[m.user_id])} songs, served {served.get(m.user_id, 0)}×" for m in state.members]
        model = snap.model_for_sessions()
        if model is not None and len(state.members) > 1:
            names = {m.user_id: m.name for m in state.members}
            pairs = sorted(taste_match(state, model).items(), key=lambda kv: -kv[1])
            if pairs:
                rows.append("Taste match:")
                rows += [f"• {names[a]} & {names[b]}: {score:.0%}" for (a, b), score in pairs]
        return Reply("In this session:\n" + "\n".join(rows))

    def _export(self, state: SessionState) -> Reply:
        """The session's played tracks as an M3U playlist and a JSON file (with who liked what)."""
        if not state.played:
            return Reply("Nothing has been played yet, so there is nothing to export.", kind="error")
        infos = self.services.corpus.track_info(e.track_id for e in state.played)
        m3u, data = session_playlist(state, infos)
        name = f"murecom-session-{state.id}"
        return Reply(
            f"The {len(state.played)} tracks of this session, as a playlist.",
            files=((f"{name}.m3u", m3u), (f"{name}.json", data)),
        )

"""`/ask <request>` and plain text in a private chat: a request in the person's own words ("something chill like
hotel california for a road trip", then "no eagles, more 80s"), read by `recommenders.ask` against the serving
snapshot, answered with picks and their reasons, and remembered per chat and user for the next turn (in the
database, forgotten after 30 minutes). A bare song name answers exactly as `/similar` does."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from bot.handlers.base import Handler, Services
from bot.handlers.similar import SimilarHandler, pick_buttons
from bot.middleware import Request
from bot.replies import ChatContext, Reply, TrackLine
from bot.snapshot import Snapshot
from recommenders.ask.answer import Answerer, Query, Sources
from recommenders.ask.conversation import EXAMPLE, Asker, AskState, Turn
from recommenders.ask.parse import Parser

if TYPE_CHECKING:  # a command row names its handler class: types only, no import cycle
    from bot.command_spec import Command


def asker_for(snap: Snapshot) -> Asker:
    """The parser and answerer over one serving snapshot (cheap to build: both only hold references)."""
    sources = Sources(snap.cf, snap.model_for_sessions(), snap.fallback, snap.tags)
    return Asker(Parser(snap.search, snap.tags), Answerer(sources))


class AskHandler(Handler):
    def __init__(self, services: Services, command: Command) -> None:
        super().__init__(services, command)
        self.state = AskState(services.corpus.engine, services.wall_clock)
        self.similar = SimilarHandler(services, command)  # a bare song name is answered as /similar answers it

    async def on_text(self, req: Request, args: str) -> list[Reply]:
        if not args.strip():
            return [Reply(f"Tell me what you would like to hear, e.g. /ask {EXAMPLE}", kind="error")]
        if req.snap.fallback is None and req.snap.tags is None:
            return [Reply("My recommender is still being trained; try again in a minute.", kind="error")]
        turn, key = await asyncio.to_thread(self._turn, req.snap, req.ctx, args)
        request = turn.request
        if request is not None and request.is_empty and request.unknown and self.services.lookup is not None:
            # nothing but a name the catalogue lacks: /similar looks it up in open data and answers it
            return await self.similar.on_text(req, args)
        if request is not None and turn.error is None and _bare_song(turn):
            replies = await self.similar.page(req, request.songs[0].track_id, 0)
            shown = [t.track_id for r in replies for t in r.tracks]
            if shown and turn.query is not None:
                turn.query.shown = shown
                await asyncio.to_thread(self.state.save, key, turn.query)
            return replies
        return await asyncio.to_thread(self._render, turn)

    def _turn(self, snap: Snapshot, ctx: ChatContext, text: str) -> tuple[Turn, str]:
        """One turn against the conversation stored for this chat and user (saved when it answered)."""
        key = self.state.key(ctx.platform, ctx.chat_id, ctx.user_id)
        turn = asker_for(snap).turn(text, self.state.load(key))
        if turn.query is not None and turn.picks and not _bare_song(turn):
            self.state.save(key, turn.query)
        return turn, key

    def _render(self, turn: Turn) -> list[Reply]:
        if turn.error is not None:
            if turn.offer:
                return [Reply(turn.error, kind="choices", buttons=pick_buttons(turn.offer))]
            return [Reply(turn.error, kind="error")]
        assert turn.request is not None and turn.query is not None
        infos = self.services.corpus.track_info([p.track_id for p in turn.picks])
        lines = tuple(
            TrackLine(
                i,
                p.track_id,
                infos[p.track_id].title,
                infos[p.track_id].artist,
                p.score,
                p.reason,
                infos[p.track_id].url,
            )  # fmt: skip
            for i, p in enumerate(turn.picks, 1)
            if p.track_id in infos
        )
        footer = " ".join(turn.notes)
        if not lines:
            return [Reply(footer or "Nothing I know fits all of that.", kind="error")]
        return [
            Reply(
                "", kind="recommendations", title=f"You asked for {understood(turn.query)}", tracks=lines, footer=footer
            )  # fmt: skip
        ]


def _bare_song(turn: Turn) -> bool:
    """Whether the turn is a song name and nothing else (the whole text matched one song)."""
    r = turn.request
    return r is not None and len(r.songs) == 1 and r.text == r.songs[0].said and not r.is_empty


def understood(q: Query) -> str:
    """What the answer was computed from, said back in a few words ("like Hotel California · chill, driving")."""
    parts = []
    if q.seeds:
        parts.append("like " + ", ".join(title for _, title in q.seeds[:3] if title))
    if q.artists:
        parts.append("by or like " + ", ".join(name for _, name in q.artists[:3]))
    if q.tags:
        parts.append(", ".join(f"more {t}" if w > 1 else t for t, w in q.tags.items()))
    if q.less_tags:
        parts.append("less " + ", ".join(q.less_tags))
    excluded = [*q.exclude_tags, *(name for _, name in q.exclude_artists)]
    if excluded:
        parts.append("no " + ", ".join(excluded))
    return " · ".join(p for p in parts if p) or "something"

"""The platform-free chat core: commands and button actions in, `Reply` objects out.

Adapters (console, Discord, Telegram) only translate platform events into `handle_text`, `handle_action` and
`handle_audio` calls and render the replies. The core reaches the corpus through `data/` and the models through
the `Recommender` interface; everything slow (search, recommending, decoding audio) runs in a worker thread so an
adapter's event loop keeps answering. Every failure becomes a clear reply and a log line, never silence.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.group import member_seeds, pick_next
from bot.ratelimit import TokenBuckets
from bot.replies import Button, ChatContext, Reply, TrackLine
from data.corpus import Corpus, TrackInfo
from data.search import QueryError, TrackSearch
from data.sessions import SessionStore
from data.settings import Settings
from recommenders.base import NotInModel, Recommendation, Recommender

log = logging.getLogger(__name__)

PAGE_SIZE = 5
MAX_PAGES = 6
MAX_TEXT_CHARS = 2000
ANALYSING = "🎧 Analysing your clip…"

HELP = """I recommend music.
/similar <song> — tracks like a song (a name, "title - artist", or a Spotify link)
Send an audio clip (voice note, audio file) — tracks that sound like it
/session start — start a group listening session in this chat
/session join · /session add <song> · /session next · /session like · /session skip · /session who · /session end
/about — models and corpus
/help — this message"""


@dataclass
class Services:
    """What the core depends on; `cf` and `audio` are providers so a retrained model is picked up live."""

    corpus: Corpus
    search: TrackSearch
    sessions: SessionStore
    cf: Callable[[], Recommender | None]
    audio: Callable[[], Any | None]
    about: Callable[[], dict[str, str]]


class ChatCore:
    """One instance serves every adapter of the process."""

    def __init__(self, services: Services, settings: Settings, clock: Callable[[], float] = time.monotonic) -> None:
        self.s = services
        self.settings = settings
        self._users = TokenBuckets(settings.user_rate_per_minute, clock=clock)
        self._chats = TokenBuckets(settings.chat_rate_per_minute, clock=clock)

    # --- entry points ------------------------------------------------------------------------------------------
    async def handle_text(self, ctx: ChatContext, text: str) -> list[Reply]:
        """A message: a command (`/similar …`), or, in a private chat, a bare song name."""
        text = (text or "").strip()
        if not text.startswith("/"):
            return await self._guarded(ctx, self._similar, text) if text else []
        command, _, args = text[1:].partition(" ")
        command = command.split("@", 1)[0].lower()
        args = args.strip()
        handlers = {
            "similar": self._similar,
            "s": self._similar,
            "session": self._session,
            "help": self._help,
            "start": self._help,
            "about": self._about,
        }
        handler = handlers.get(command)
        if handler is None:
            return [Reply(f"I don't know /{command[:30]}. Try /help.", kind="error")]
        return await self._guarded(ctx, handler, args)

    async def handle_action(self, ctx: ChatContext, action: str) -> list[Reply]:
        """A button press; actions are the strings the core put on its buttons."""
        parts = action.split(":")
        try:
            if parts[0] == "pick" and len(parts) == 2:
                return await self._guarded(ctx, self._recommend_page, int(parts[1]), 0)
            if parts[0] == "page" and len(parts) == 3:
                return await self._guarded(ctx, self._recommend_page, int(parts[1]), int(parts[2]))
            if parts[0] == "sess" and len(parts) >= 2:
                return await self._guarded(ctx, self._session, " ".join(parts[1:]))
        except ValueError:
            pass
        return [Reply("That button is no longer valid.", kind="error")]

    async def handle_audio(self, ctx: ChatContext, data: bytes, filename: str = "clip") -> list[Reply]:
        """An audio clip: tracks that sound like it, with the label probabilities as a chart."""
        return await self._guarded(ctx, self._audio, data, filename)

    def suggest(self, prefix: str, limit: int = 25) -> list[tuple[str, str]]:
        """(label, value) pairs for autocomplete; the value resolves back exactly with `/similar`."""
        out = []
        for cand in self.s.search.suggest(prefix, limit):
            label = cand.track.label
            out.append((label[:100], label[:100]))
        return out

    # --- plumbing ----------------------------------------------------------------------------------------------
    async def _guarded(self, ctx: ChatContext, handler, *args) -> list[Reply]:
        if ctx.platform != "console" and not self._users.allow(f"{ctx.platform}:{ctx.user_id}"):
            wait = self._users.retry_after(f"{ctx.platform}:{ctx.user_id}")
            return [Reply(f"Easy there — you are sending a lot. Try again in {wait:.0f} s.", kind="error")]
        if ctx.platform != "console" and not self._chats.allow(f"{ctx.platform}:{ctx.chat_id}"):
            return [Reply("This chat is very busy; give me a few seconds.", kind="error")]
        try:
            return await handler(ctx, *args)
        except Exception:
            ref = uuid.uuid4().hex[:8]
            log.exception("handler %s failed (ref %s)", getattr(handler, "__name__", handler), ref)
            return [Reply(f"Sorry, something went wrong on my side (ref {ref}). Please try again.", kind="error")]

    def _line(self, rank: int, rec: Recommendation, info: TrackInfo) -> TrackLine:
        return TrackLine(rank, rec.track_id, info.title, info.artist, rec.score, rec.reason, info.url)

    # --- /similar ----------------------------------------------------------------------------------------------
    async def _similar(self, ctx: ChatContext, query: str) -> list[Reply]:
        if not query:
            return [Reply("Which song? For example: /similar hotel california", kind="error")]
        if len(query) > MAX_TEXT_CHARS:
            return [Reply("That is too long to be a song name.", kind="error")]
        try:
            res = await asyncio.to_thread(self.s.search.search, query, 5)
        except QueryError as exc:
            return [Reply(str(exc), kind="error")]
        if res.best is None:
            return [Reply(f"I could not find “{query[:80]}” in my catalogue. Try another spelling or song.")]
        if res.ambiguous:
            buttons = tuple((Button(f"{c.track.label}"[:60], f"pick:{c.track.id}"),) for c in res.candidates)
            question = "Which one do you mean?"
            if res.best.score < 0.6:
                question = f"I found nothing close to “{query[:80]}”. Did you mean one of these?"
            return [Reply(question, kind="choices", buttons=buttons)]
        return await self._recommend_page(ctx, res.best.track.id, 0)

    async def _recommend_page(self, ctx: ChatContext, track_id: int, page: int) -> list[Reply]:
        model = await asyncio.to_thread(self.s.cf)  # a (re)load reads from disk: not on the loop
        if model is None:
            return [Reply("My recommender is still being trained; try again in a minute.", kind="error")]
        seed = (await asyncio.to_thread(self.s.corpus.track_info, [track_id])).get(track_id)
        if seed is None:
            return [Reply("I no longer know that track.", kind="error")]
        page = max(0, min(page, MAX_PAGES - 1))
        try:
            recs = await asyncio.to_thread(model.similar, track_id, PAGE_SIZE * MAX_PAGES)
        except NotInModel:
            return [
                Reply(
                    f"I know “{seed.label}” but it never appeared in a playlist I learned from, "
                    "so I cannot say what goes with it yet. Try another song.",
                    kind="error",
                )
            ]
        if not recs:
            return [Reply(f"I have no recommendations for “{seed.label}” yet.", kind="error")]
        n_pages = (len(recs) + PAGE_SIZE - 1) // PAGE_SIZE
        page = min(page, n_pages - 1)
        chunk = recs[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]
        infos = await asyncio.to_thread(self.s.corpus.track_info, [r.track_id for r in chunk])
        lines = tuple(
            self._line(page * PAGE_SIZE + i + 1, r, infos[r.track_id])
            for i, r in enumerate(chunk)
            if r.track_id in infos
        )
        nav = []
        if page > 0:
            nav.append(Button("◀ Previous", f"page:{track_id}:{page - 1}"))
        if page + 1 < n_pages:
            nav.append(Button("Next ▶", f"page:{track_id}:{page + 1}"))
        return [
            Reply(
                "",
                kind="recommendations",
                title=f"Similar to {seed.label}",
                tracks=lines,
                buttons=(tuple(nav),) if nav else (),
                footer=f"page {page + 1}/{n_pages}",
            )
        ]

    # --- audio -------------------------------------------------------------------------------------------------
    async def _audio(self, ctx: ChatContext, data: bytes, filename: str) -> list[Reply]:
        service = await asyncio.to_thread(self.s.audio)  # first use loads TensorFlow
        if service is None:
            return [Reply("Audio recommendations are not available yet (no audio model is published).", kind="error")]
        if not data:
            return [Reply("That file is empty.", kind="error")]
        if len(data) > self.settings.max_audio_bytes:
            mb = self.settings.max_audio_bytes / 1e6
            return [Reply(f"That file is too large; please send at most {mb:.0f} MB.", kind="error")]
        from recommenders.audio.service import AudioError, render_label_chart

        try:
            result = await asyncio.to_thread(service.recommend_clip, data, PAGE_SIZE * 2)
        except AudioError as exc:
            return [Reply(str(exc), kind="error")]
        labels = ", ".join(f"{name} {p:.0%}" for name, p in result.labels[:3])
        chart = await asyncio.to_thread(render_label_chart, result.labels)
        if result.unsure:
            return [
                Reply(
                    f"I am not sure what this is: it does not sound like music I know (closest tags: {labels}). "
                    "Send me a clip of a song and I will find tracks like it.",
                    kind="info",
                    image=chart,
                )
            ]
        infos = await asyncio.to_thread(self.s.corpus.track_info, [r.track_id for r in result.recommendations])
        lines = tuple(
            self._line(i + 1, r, infos[r.track_id]) for i, r in enumerate(result.recommendations) if r.track_id in infos
        )
        sounds = sum(1 for line in lines if line.reason.startswith("sounds alike"))
        parts = [f"{sounds} sound alike"] if sounds else []
        if len(lines) > sounds:
            parts.append(f"{len(lines) - sounds} tagged alike")
        return [
            Reply(
                f"Sounds like: {labels}",
                kind="recommendations",
                title=f"Tracks that sound like your clip ({result.seconds_analysed:.0f} s analysed): "
                f"{' and '.join(parts) or 'none found'}",
                tracks=lines,
                image=chart,
            )
        ]

    # --- sessions ----------------------------------------------------------------------------------------------
    async def _session(self, ctx: ChatContext, args: str) -> list[Reply]:
        sub, _, rest = args.partition(" ")
        sub = sub.lower()
        store = self.s.sessions
        state = await asyncio.to_thread(store.active, ctx.platform, ctx.chat_id)
        if sub == "start":
            if state is not None:
                return [Reply("A session is already running here. /session join to take part, /session end to stop.")]
            await asyncio.to_thread(store.start, ctx.platform, ctx.chat_id, ctx.user_id, ctx.user_name)
            return [
                Reply(
                    f"Session started by {ctx.user_name}. Everyone: /session join, then /session add <song>; "
                    "/session next plays a pick for the whole group.",
                    buttons=((Button("Join", "sess:join"), Button("Next", "sess:next")),),
                )
            ]
        if state is None:
            return [Reply("No session is running in this chat. Start one with /session start.", kind="error")]
        if sub == "join":
            added = await asyncio.to_thread(store.join, state.id, ctx.user_id, ctx.user_name)
            return [Reply(f"Welcome, {ctx.user_name}!" if added else f"{ctx.user_name}, you are already in.")]
        if sub == "add":
            return await self._session_add(ctx, state, rest.strip())
        if sub == "next":
            return await self._session_next(ctx, state)
        if sub in ("like", "skip"):
            played = [e for e in state.events if e.kind == "played"]
            if not played:
                return [Reply("Nothing has been played yet. /session next first.", kind="error")]
            await asyncio.to_thread(store.join, state.id, ctx.user_id, ctx.user_name)
            last = played[-1].track_id
            await asyncio.to_thread(store.record, state.id, ctx.user_id, sub, last)
            info = (await asyncio.to_thread(self.s.corpus.track_info, [last]))[last]
            if sub == "like":
                return [Reply(f"{ctx.user_name} likes {info.label}: noted as their taste.")]
            nxt = await self._session_next(ctx, await asyncio.to_thread(store.active, ctx.platform, ctx.chat_id))
            return [Reply(f"Skipped {info.label}; I will steer away from it."), *nxt]
        if sub == "who":
            return [await self._session_who(state)]
        if sub == "end":
            await asyncio.to_thread(store.end, state.id)
            played = sum(1 for e in state.events if e.kind == "played")
            return [Reply(f"Session ended after {played} picks. Thanks for listening!")]
        return [Reply("Session commands: start, join, add <song>, next, like, skip, who, end.", kind="error")]

    async def _session_add(self, ctx: ChatContext, state, query: str) -> list[Reply]:
        if not query:
            return [Reply("Add which song? /session add <song>", kind="error")]
        try:
            res = await asyncio.to_thread(self.s.search.search, query, 5)
        except QueryError as exc:
            return [Reply(str(exc), kind="error")]
        if res.best is None:
            return [Reply(f"I could not find “{query[:80]}”.", kind="error")]
        if res.ambiguous:
            names = "\n".join(f"• {c.track.label}" for c in res.candidates)
            return [
                Reply(f"Which one? Add it with its artist, e.g. /session add title - artist\n{names}", kind="choices")
            ]
        await asyncio.to_thread(self.s.sessions.join, state.id, ctx.user_id, ctx.user_name)
        await asyncio.to_thread(self.s.sessions.record, state.id, ctx.user_id, "seed", res.best.track.id)
        model = await asyncio.to_thread(self.s.cf)  # a (re)load reads from disk: not on the loop
        note = "" if model is None or res.best.track.id in model else " (I know too little about it to use it yet)"
        return [Reply(f"{ctx.user_name} added {res.best.track.label}{note}.")]

    async def _session_next(self, ctx: ChatContext, state) -> list[Reply]:
        model = await asyncio.to_thread(self.s.cf)  # a (re)load reads from disk: not on the loop
        if model is None:
            return [Reply("My recommender is still being trained; try again in a minute.", kind="error")]
        pick = await asyncio.to_thread(pick_next, state, model)
        if pick is None:
            return [Reply("Add a song first: /session add <song>.", kind="error")]
        await asyncio.to_thread(
            self.s.sessions.record, state.id, ctx.user_id, "played", pick.track_id, pick.served.user_id
        )
        info = (await asyncio.to_thread(self.s.corpus.track_info, [pick.track_id]))[pick.track_id]
        reason = f"picked for {pick.served.name}"
        if pick.also_fits:
            reason += ", also fits " + ", ".join(m.name for m in pick.also_fits)
        line = TrackLine(1, pick.track_id, info.title, info.artist, pick.score, reason, info.url)
        return [
            Reply(
                "",
                kind="recommendations",
                title="Now playing for the group",
                tracks=(line,),
                buttons=((Button("👍 Like", "sess:like"), Button("⏭ Skip", "sess:skip"), Button("Next", "sess:next")),),
            )
        ]

    async def _session_who(self, state) -> Reply:
        seeds = member_seeds(state)
        served: dict[str, int] = {}
        for e in state.events:
            if e.kind == "played" and e.served_user_id:
                served[e.served_user_id] = served.get(e.served_user_id, 0) + 1
        rows = [f"• {m.name}: {len(seeds[m.user_id])} songs, served {served.get(m.user_id, 0)}×" for m in state.members]
        return Reply("In this session:\n" + "\n".join(rows))

    # --- /help, /about -----------------------------------------------------------------------------------------
    async def _help(self, ctx: ChatContext, _args: str) -> list[Reply]:
        return [Reply(HELP)]

    async def _about(self, ctx: ChatContext, _args: str) -> list[Reply]:
        facts = await asyncio.to_thread(self.s.about)
        return [Reply("\n".join(f"{k}: {v}" for k, v in facts.items()), title="About murecom")]

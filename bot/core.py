"""The platform-free chat core: commands and button actions in, `Reply` objects out.

Adapters (console, Discord, Telegram) only translate platform events into `handle_text`, `handle_action` and
`handle_audio` calls and render the replies. A request reads the serving snapshot once (`bot.snapshot`: models,
audio index, search index), so no reply mixes versions; the corpus is reached through `data/` and the models through
the `Recommender` interface. Work is isolated by cost: search and recommending run in the default worker threads;
audio analysis runs in its own small pool with a bounded queue (a full queue answers "busy" at once), so fifty clips
in flight never delay a `/similar` or `/help`. Group-session commands of one chat are serialised, and the database
enforces one active session per chat and no repeated play, also across processes. Every failure becomes a clear
reply and a log line, never silence; a database held by another writer answers "busy, try again".
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

from bot.commands import dispatch_table, help_text, too_large
from bot.ratelimit import TokenBuckets
from bot.replies import Button, ChatContext, Reply, TrackLine
from bot.snapshot import Snapshot, describe_cf
from data.corpus import Corpus, TrackInfo
from data.db import is_busy
from data.radio import DueStation, RadioStore
from data.search import Candidate, QueryError
from data.sessions import SessionState, SessionStore
from data.settings import Settings
from recommenders.base import NotInModel, Recommendation
from recommenders.group import GroupPick, member_seeds, pick_next, pick_station, taste_match

log = logging.getLogger(__name__)

PAGE_SIZE = 5
MAX_PAGES = 6
MAX_TEXT_CHARS = 2000
BUSY_DB = "I am busy writing right now; please try again in a few seconds."
BUSY_AUDIO = "I am busy analysing other clips; please send yours again in a minute."
#: Track ids and pages in button actions come from users' clients: anything outside these is refused.
MAX_ID = 2**62
SESSION_LOCK_STRIPES = 256
#: How many times `/session next` re-picks after losing a race for a track to another process. Within a process a
#: chat's commands are serialised; across processes each lost race means the other one committed a play (progress
#: is always made), and a chat has at most a handful of commands in flight, so a few retries always suffice.
PLAY_RETRIES = 8
HELP = help_text()  # generated from the command table (bot/commands.py)


class ChatCore:
    """One instance serves every adapter of the process.

    `snapshot` returns the current serving snapshot (the composition root passes `SnapshotWatcher.current`).
    """

    def __init__(
        self,
        snapshot: Callable[[], Snapshot],
        corpus: Corpus,
        sessions: SessionStore,
        settings: Settings,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.snapshot = snapshot
        self.corpus = corpus
        self.sessions = sessions
        self.radio = RadioStore(corpus.engine)
        self.settings = settings
        self._clock = clock
        self._wall_clock = wall_clock
        self._users = TokenBuckets(settings.user_rate_per_minute, clock=clock)
        self._chats = TokenBuckets(settings.chat_rate_per_minute, clock=clock)
        self._warned_until: dict[str, float] = {}
        self._audio_pool = ThreadPoolExecutor(settings.audio_workers, thread_name_prefix="murecom-audio")
        self._audio_slots = settings.audio_workers + settings.audio_queue
        self._audio_in_flight = 0
        self._session_locks = [threading.Lock() for _ in range(SESSION_LOCK_STRIPES)]

    def close(self) -> None:
        """Stop the audio pool (clips in flight finish)."""
        self._audio_pool.shutdown(wait=True)

    # --- entry points ------------------------------------------------------------------------------------------
    async def handle_text(self, ctx: ChatContext, text: str) -> list[Reply]:
        """A message: a command (`/similar …`), or, in a private chat, a bare song name."""
        text = (text or "").strip()
        if not text.startswith("/"):
            return await self._guarded(ctx, self._similar, text) if text else []
        command, _, args = text[1:].partition(" ")
        command = command.split("@", 1)[0].lower()
        args = args.strip()
        handler_name = dispatch_table().get(command)
        handler = getattr(self, handler_name) if handler_name else None
        if handler is None:
            return [Reply(f"I don't know /{command[:30]}. Try /help.", kind="error")]
        return await self._guarded(ctx, handler, args)

    async def handle_action(self, ctx: ChatContext, action: str) -> list[Reply]:
        """A button press; actions are the strings the core put on its buttons (clients can send anything)."""
        parts = (action or "")[:64].split(":")
        if parts[0] == "pick" and len(parts) == 2 and _bounded_int(parts[1], MAX_ID) is not None:
            return await self._guarded(ctx, self._recommend_page, int(parts[1]), 0)
        if parts[0] == "page" and len(parts) == 3:
            track_id, page = _bounded_int(parts[1], MAX_ID), _bounded_int(parts[2], MAX_PAGES)
            if track_id is not None and page is not None:
                return await self._guarded(ctx, self._recommend_page, track_id, page)
        if parts[0] == "sess" and len(parts) == 2 and parts[1] in ("join", "next", "like", "skip", "who", "end"):
            return await self._guarded(ctx, self._session, parts[1])
        if parts[0] == "radio" and len(parts) == 3 and parts[1] == "tag" and parts[2]:
            return await self._guarded(ctx, self._radio, parts[2])
        if (
            parts[0] == "radio"
            and len(parts) == 3
            and parts[1] == "song"
            and _bounded_int(parts[2], MAX_ID) is not None
        ):
            return await self._guarded(ctx, self._radio, f"song:{parts[2]}")
        if parts[0] == "radio" and len(parts) == 2 and parts[1] == "stop":
            return await self._guarded(ctx, self._radio, "stop")
        return [Reply("That button is no longer valid.", kind="error")]

    async def handle_audio(self, ctx: ChatContext, data: bytes, filename: str = "clip") -> list[Reply]:
        """An audio clip: tracks that sound like it, with the label probabilities as a chart."""
        return await self._guarded(ctx, self._audio, data, filename)

    def suggest(self, prefix: str, limit: int = 25) -> list[tuple[str, str]]:
        """(label, value) pairs for autocomplete; the value resolves back exactly with `/similar`."""
        out = []
        for cand in self.snapshot().search.suggest(prefix, limit):
            label = cand.track.label
            out.append((label[:100], label[:100]))
        return out

    # --- plumbing ----------------------------------------------------------------------------------------------
    def _limited(self, ctx: ChatContext) -> list[Reply] | None:
        """None when the message may proceed; else the reply to a flood — given once per window, then silence."""
        if ctx.platform == "console":
            return None
        for buckets, key, text in (
            (self._users, f"user:{ctx.platform}:{ctx.user_id}", "Easy there — you are sending a lot."),
            (self._chats, f"chat:{ctx.platform}:{ctx.chat_id}", "This chat is very busy."),
        ):
            if buckets.allow(key):
                continue
            wait = max(1.0, buckets.retry_after(key))
            now = self._clock()
            if self._warned_until.get(key, 0.0) > now:
                return []
            if len(self._warned_until) > 50_000:
                self._warned_until = {k: t for k, t in self._warned_until.items() if t > now}
            self._warned_until[key] = now + wait
            return [Reply(f"{text} Try again in {wait:.0f} s.", kind="error")]
        return None

    async def _guarded(self, ctx: ChatContext, handler: Callable[..., Awaitable[list[Reply]]], *args) -> list[Reply]:
        limited = self._limited(ctx)
        if limited is not None:
            return limited
        snap = self.snapshot()  # once per request: every part of the reply comes from the same versions
        try:
            replies = await handler(snap, ctx, *args)
        except Exception as exc:
            if is_busy(exc):
                log.warning("database busy during %s", getattr(handler, "__name__", handler))
                return [Reply(BUSY_DB, kind="error")]
            ref = uuid.uuid4().hex[:8]
            log.exception("handler %s failed (ref %s)", getattr(handler, "__name__", handler), ref)
            return [Reply(f"Sorry, something went wrong on my side (ref {ref}). Please try again.", kind="error")]
        return [replace(r, served_by=snap.label) for r in replies]

    def _line(self, rank: int, rec: Recommendation, info: TrackInfo) -> TrackLine:
        return TrackLine(rank, rec.track_id, info.title, info.artist, rec.score, rec.reason, info.url)

    # --- /similar ----------------------------------------------------------------------------------------------
    async def _similar(self, snap: Snapshot, ctx: ChatContext, query: str) -> list[Reply]:
        if not query:
            return [Reply("Which song? For example: /similar hotel california", kind="error")]
        if len(query) > MAX_TEXT_CHARS:
            return [Reply("That is too long to be a song name.", kind="error")]
        try:
            res = await asyncio.to_thread(snap.search.search, query, 5)
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
        return await self._recommend_page(snap, ctx, res.best.track.id, 0, res.best.track)

    async def _recommend_page(
        self, snap: Snapshot, ctx: ChatContext, track_id: int, page: int, seed: TrackInfo | None = None
    ) -> list[Reply]:
        """One page of `/similar` for `track_id` (`seed`: its info when the caller has it, e.g. from the search)."""
        model = snap.cf
        if model is None:
            return [Reply("My recommender is still being trained; try again in a minute.", kind="error")]
        if seed is None:
            seed = (await asyncio.to_thread(self.corpus.track_info, [track_id])).get(track_id)
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
        infos = await asyncio.to_thread(self.corpus.track_info, [r.track_id for r in chunk])
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
    async def _audio(self, snap: Snapshot, ctx: ChatContext, data: bytes, filename: str) -> list[Reply]:
        service = snap.audio
        if service is None:
            return [Reply("Audio recommendations are not available yet (no audio model is published).", kind="error")]
        if not data:
            return [Reply("That file is empty.", kind="error")]
        if len(data) > self.settings.max_audio_bytes:
            return [Reply(too_large(self.settings.max_audio_bytes), kind="error")]
        if self._audio_in_flight >= self._audio_slots:
            return [Reply(BUSY_AUDIO, kind="error")]
        from recommenders.audio.service import AudioError, render_label_chart

        loop = asyncio.get_running_loop()
        self._audio_in_flight += 1
        try:
            result = await loop.run_in_executor(self._audio_pool, service.recommend_clip, data, PAGE_SIZE * 2)
            chart = await loop.run_in_executor(self._audio_pool, render_label_chart, result.labels)
        except AudioError as exc:
            return [Reply(str(exc), kind="error")]
        finally:
            self._audio_in_flight -= 1
        labels = ", ".join(f"{name} {p:.0%}" for name, p in result.labels[:3])
        if result.unsure:
            return [
                Reply(
                    f"I am not sure what this is: it does not sound like music I know (closest tags: {labels}). "
                    "Send me a clip of a song and I will find tracks like it.",
                    kind="info",
                    image=chart,
                )
            ]
        infos = await asyncio.to_thread(self.corpus.track_info, [r.track_id for r in result.recommendations])
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
    async def _session(self, snap: Snapshot, ctx: ChatContext, args: str) -> list[Reply]:
        """Session commands of one chat run one at a time (a striped lock), each as one unit in a worker thread,
        so two `next` in a chat never pick the same track and two `start` never open two sessions."""
        sub, _, rest = args.partition(" ")
        sub, rest = sub.lower(), rest.strip()
        if sub == "add" and rest:
            resolved = await self._resolve_one(snap, rest, "/session add")
            if isinstance(resolved, Reply):
                return [resolved]
            rest = str(resolved)
        return await asyncio.to_thread(self._locked, ctx, self._session_command, snap, ctx, sub, rest)

    async def _resolve_one(self, snap: Snapshot, query: str, command: str) -> int | Reply:
        """The one track a free-text query names, or the reply asking which (reads only the search index)."""
        try:
            res = await asyncio.to_thread(snap.search.search, query, 5)
        except QueryError as exc:
            return Reply(str(exc), kind="error")
        if res.best is None:
            return Reply(f"I could not find “{query[:80]}”.", kind="error")
        if res.ambiguous:
            names = "\n".join(f"• {c.track.label}" for c in res.candidates)
            return Reply(f"Which one? Name it with its artist, e.g. {command} title - artist\n{names}", kind="choices")
        return res.best.track.id

    def _locked(self, ctx: ChatContext, fn: Callable[..., list[Reply]], *args: Any) -> list[Reply]:
        lock = self._session_locks[hash((ctx.platform, ctx.chat_id)) % SESSION_LOCK_STRIPES]
        with lock:
            return fn(*args)

    def _session_command(self, snap: Snapshot, ctx: ChatContext, sub: str, rest: str) -> list[Reply]:
        store = self.sessions
        state = store.active(ctx.platform, ctx.chat_id)
        if sub == "start":
            if state is not None or store.start(ctx.platform, ctx.chat_id, ctx.user_id, ctx.user_name) is None:
                return [Reply("A session is already running here. /session join to take part, /session end to stop.")]
            return [
                Reply(
                    f"Session started by {ctx.user_name}. Everyone: /session join, then /session add <song>; "
                    "/session next plays a pick for the whole group, /radio keeps playing.",
                    buttons=((Button("Join", "sess:join"), Button("Next", "sess:next")),),
                )
            ]
        if state is None:
            return [Reply("No session is running in this chat. Start one with /session start.", kind="error")]
        if sub == "join":
            added = store.join(state.id, ctx.user_id, ctx.user_name)
            return [Reply(f"Welcome, {ctx.user_name}!" if added else f"{ctx.user_name}, you are already in.")]
        if sub == "add":
            return self._session_add(snap, ctx, state, rest)
        if sub == "next":
            return self._play_next(snap, ctx, state)
        if sub in ("like", "skip"):
            played = state.played
            if not played:
                return [Reply("Nothing has been played yet. /session next first.", kind="error")]
            store.join(state.id, ctx.user_id, ctx.user_name)
            last = played[-1].track_id
            store.record(state.id, ctx.user_id, sub, last)
            self.radio.reacted(state.id)
            info = self.corpus.track_info([last])[last]
            if sub == "like":
                return [Reply(f"{ctx.user_name} likes {info.label}: noted as their taste.")]
            fresh = store.active(ctx.platform, ctx.chat_id)
            nxt = self._play_next(snap, ctx, fresh) if fresh is not None else []
            return [Reply(f"Skipped {info.label}; I will steer away from it."), *nxt]
        if sub == "who":
            return [self._session_who(snap, state)]
        if sub == "export":
            return [self._session_export(state)]
        if sub == "end":
            if not state.is_member(ctx.user_id) and state.started_by != ctx.user_id:
                return [Reply("Only members of this session can end it. /session join first.", kind="error")]
            if not store.end(state.id):
                return [Reply("That session has already ended.")]
            self.radio.stop(state.id)
            return [
                Reply(
                    f"Session ended after {len(state.played)} picks. Thanks for listening! "
                    "(/session export before ending keeps a playlist of it.)"
                    if state.played
                    else "Session ended. Thanks for listening!"
                )
            ]
        return [Reply("Session commands: start, join, add <song>, next, like, skip, who, export, end.", kind="error")]

    def _session_add(self, snap: Snapshot, ctx: ChatContext, state: SessionState, track: str) -> list[Reply]:
        if not track:
            return [Reply("Add which song? /session add <song>", kind="error")]
        track_id = int(track)
        info = self.corpus.track_info([track_id]).get(track_id)
        if info is None:
            return [Reply("I no longer know that track.", kind="error")]
        self.sessions.join(state.id, ctx.user_id, ctx.user_name)
        self.sessions.record(state.id, ctx.user_id, "seed", track_id)
        self.radio.reacted(state.id)
        model = snap.model_for_sessions()
        note = "" if model is None or track_id in model else " (I know too little about it to use it yet)"
        return [Reply(f"{ctx.user_name} added {info.label}{note}.")]

    def _pick(self, snap: Snapshot, state: SessionState) -> GroupPick | None:
        """The group's next pick: a tag station's when radio plays tags, else the blend of the members' tastes."""
        model = snap.model_for_sessions()
        station = self.radio.tags(state.id)
        if station and snap.tags is not None:
            return pick_station(state, model, snap.tags, station)
        if model is None:
            return None
        seeds = [t for ts in member_seeds(state).values() for t in ts]
        names = {t: i.label for t, i in self.corpus.track_info(seeds).items()}
        return pick_next(state, model, names=names, tags=snap.tags)

    def _play_next(
        self, snap: Snapshot, ctx: ChatContext, state: SessionState, title: str = "Now playing for the group"
    ) -> list[Reply]:
        """Pick, record the play (the database refuses a repeat, so a lost race re-picks), and announce it."""
        if snap.model_for_sessions() is None and not self.radio.tags(state.id):
            return [Reply("My recommender is still being trained; try again in a minute.", kind="error")]
        for _ in range(PLAY_RETRIES):
            pick = self._pick(snap, state)
            if pick is None:
                return [Reply("Add a song first: /session add <song>.", kind="error")]
            if self.sessions.play(state.id, ctx.user_id, pick.track_id, pick.served.user_id):
                break
            # another process played that track in the meantime: look again at the session as it is now
            fresh = self.sessions.active(ctx.platform, ctx.chat_id)
            if fresh is None:
                return [Reply("That session has ended.", kind="error")]
            state = fresh
        else:
            return [Reply("The group is picking very fast; try /session next again.", kind="error")]
        info = self.corpus.track_info([pick.track_id])[pick.track_id]
        line = TrackLine(1, pick.track_id, info.title, info.artist, pick.score, pick.reason, info.url)
        return [
            Reply(
                "",
                kind="recommendations",
                title=title,
                tracks=(line,),
                buttons=((Button("👍 Like", "sess:like"), Button("⏭ Skip", "sess:skip"), Button("Next", "sess:next")),),
            )
        ]

    def _session_who(self, snap: Snapshot, state: SessionState) -> Reply:
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

    def _session_export(self, state: SessionState) -> Reply:
        """The session's played tracks as an M3U playlist and a JSON file (with who liked what)."""
        from bot.export import session_playlist

        if not state.played:
            return Reply("Nothing has been played yet, so there is nothing to export.", kind="error")
        infos = self.corpus.track_info(e.track_id for e in state.played)
        m3u, data = session_playlist(state, infos)
        name = f"murecom-session-{state.id}"
        return Reply(
            f"The {len(state.played)} tracks of this session, as a playlist.",
            files=((f"{name}.m3u", m3u), (f"{name}.json", data)),
        )

    # --- radio -------------------------------------------------------------------------------------------------
    async def _radio(self, snap: Snapshot, ctx: ChatContext, args: str) -> list[Reply]:
        """`/radio` (the session's taste), `/radio <song>`, `/radio <tags>` (a station), `/radio stop`."""
        args = args.strip()
        if args.lower() == "stop":
            return await asyncio.to_thread(self._locked, ctx, self._radio_stop, ctx)
        tags: tuple[str, ...] = ()
        seed: int | None = None
        song = _bounded_int(args[len("song:") :], MAX_ID) if args.startswith("song:") else None
        if song is not None:
            seed = song
        elif args:
            match = snap.tags.parse(args) if snap.tags is not None else None
            if match is not None and match.tags and len(match.rest) <= 2:
                tags = match.tags
            else:
                try:
                    res = await asyncio.to_thread(snap.search.search, args, 3)
                except QueryError as exc:
                    return [Reply(str(exc), kind="error")]
                if res.best is not None and not res.ambiguous:
                    seed = res.best.track.id
                else:
                    return [self._radio_choices(snap, args, res.candidates if res.best is not None else [])]
        return await asyncio.to_thread(self._locked, ctx, self._radio_start, snap, ctx, tags, seed)

    def _radio_choices(self, snap: Snapshot, args: str, songs: Sequence[Candidate]) -> Reply:
        """Stations whose tags are closest to what was typed, and songs it may have meant, as buttons."""
        closest = snap.tags.closest(args, 3) if snap.tags is not None else []
        rows = [(Button(f"📻 {t}"[:60], f"radio:tag:{t}"),) for t in closest if len(f"radio:tag:{t}".encode()) <= 64]
        rows += [(Button(f"🎵 {c.track.label}"[:60], f"radio:song:{c.track.id}"),) for c in songs[:3]]
        if not rows:
            return Reply(
                f"I know no song or tag like “{args[:80]}”. Try /radio 80s rock or /radio <song>.", kind="error"
            )
        return Reply(f"Which radio do you mean by “{args[:80]}”?", kind="choices", buttons=tuple(rows))

    def _radio_start(self, snap: Snapshot, ctx: ChatContext, tags: tuple[str, ...], seed: int | None) -> list[Reply]:
        state = self.sessions.active(ctx.platform, ctx.chat_id)
        if state is None:
            if not tags and seed is None:
                return [
                    Reply(
                        "Radio plays for a session, a song or a tag: /radio <song>, /radio 80s rock, or /session "
                        "start first.",
                        kind="error",
                    )
                ]
            self.sessions.start(ctx.platform, ctx.chat_id, ctx.user_id, ctx.user_name)
            state = self.sessions.active(ctx.platform, ctx.chat_id)
            assert state is not None
        self.sessions.join(state.id, ctx.user_id, ctx.user_name)
        if seed is not None:
            self.sessions.record(state.id, ctx.user_id, "seed", seed)
        state = self.sessions.active(ctx.platform, ctx.chat_id)
        assert state is not None
        if not tags and not any(member_seeds(state).values()):
            return [Reply("Add a song first (/session add <song>), or name one: /radio <song>.", kind="error")]
        # due only after the first pick's track: the first pick is this command's own answer, never a scheduler's
        self.radio.start(state.id, ctx.user_id, self._wall_clock() + self.settings.radio_default_seconds, tags)
        what = f"the {', '.join(tags)} station" if tags else "the group's taste"
        first = self._radio_post(snap, ctx.platform, ctx.chat_id, state.id)
        limit = self.settings.radio_idle_picks
        return [
            Reply(
                f"📻 Radio on: {what}. A new pick follows each track; like or skip to steer. "
                f"I stop after {limit} picks nobody reacts to, or on /radio stop.",
                buttons=((Button("Stop radio", "radio:stop"),),),
            ),
            *first,
        ]

    def _radio_stop(self, ctx: ChatContext) -> list[Reply]:
        state = self.sessions.active(ctx.platform, ctx.chat_id)
        if state is None or not self.radio.stop(state.id):
            return [Reply("The radio is not on here.", kind="error")]
        return [Reply("📻 Radio off. /radio to start it again.")]

    def _radio_post(self, snap: Snapshot, platform: str, chat_id: str, session_id: int) -> list[Reply]:
        """The radio's next pick for a session (the caller holds the slot), and its next due time."""
        state = self.sessions.active(platform, chat_id)
        if state is None or state.id != session_id:
            self.radio.stop(session_id)
            return []
        replies = self._play_next(snap, ChatContext(platform, chat_id, "radio", "radio"), state, "📻 Radio")
        now = self._wall_clock()
        if replies and replies[0].tracks:
            info = self.corpus.track_info([replies[0].tracks[0].track_id]).get(replies[0].tracks[0].track_id)
            seconds = (info.duration_ms / 1000) if info is not None and info.duration_ms else None
            self.radio.reschedule(session_id, now + (seconds or self.settings.radio_default_seconds))
        else:
            self.radio.stop(session_id)
            replies = [*replies, Reply("📻 Radio off: I have nothing more to play for this session.")]
        return replies

    async def radio_due(self, platforms: tuple[str, ...]) -> list[DueStation]:
        """Stations of `platforms` whose next pick is due now (the radio scheduler's question)."""
        return await asyncio.to_thread(self.radio.due, self._wall_clock(), platforms)

    async def radio_turn(self, station: DueStation) -> list[Reply]:
        """Post one due slot of a station, if this process wins it: the replies to send to its chat (none when
        another process took the slot). Stops the radio after enough picks nobody reacted to."""
        snap = self.snapshot()
        ctx = ChatContext(station.platform, station.chat_id, "radio", "radio")

        def turn() -> list[Reply]:
            until = self._wall_clock() + self.settings.radio_default_seconds
            if not self.radio.claim(station, until):
                return []
            if station.idle >= self.settings.radio_idle_picks:
                self.radio.stop(station.session_id)
                return [
                    Reply(f"📻 Radio off: nobody reacted to the last {station.idle} picks. /radio to start it again.")
                ]
            return self._radio_post(snap, station.platform, station.chat_id, station.session_id)

        replies = await asyncio.to_thread(self._locked, ctx, turn)
        return [replace(r, served_by=snap.label) for r in replies]

    # --- /help, /about -----------------------------------------------------------------------------------------
    async def _help(self, snap: Snapshot, ctx: ChatContext, _args: str) -> list[Reply]:
        return [Reply(HELP)]

    async def _about(self, snap: Snapshot, ctx: ChatContext, _args: str) -> list[Reply]:
        stats = snap.stats
        audio = snap.audio
        facts = {
            "corpus": f"{stats['tracks']:,} tracks, {stats['playlists']:,} playlists, "
            f"{stats['tracks_with_audio']:,} with audio",
            "similar-by-name model": describe_cf(snap.cf_meta),
            "group-session model": describe_cf(snap.session_meta) if snap.session_meta else "the same",
            "audio model": audio.description if audio is not None else "not available",
        }
        return [Reply("\n".join(f"{k}: {v}" for k, v in facts.items()), title="About murecom")]


def _bounded_int(text: str, upper: int) -> int | None:
    """`text` as an int in [0, upper), else None (button data is client-supplied)."""
    if not text.isascii() or not text.isdigit() or len(text) > 19:
        return None
    value = int(text)
    return value if value < upper else None

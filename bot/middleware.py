"""Cross-cutting work around every handler call, in one place: rate limits, the one snapshot read, a busy database,
error replies, and `served_by` on every reply; and the per-chat locks that serialise a chat's group commands.

Handlers stay about their feature: they receive a `Request` (the snapshot read once for this request, and who
asked where) and return replies; whatever they raise becomes a clear reply here, never silence.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from bot.metrics import Metrics
from bot.ratelimit import TokenBuckets
from bot.replies import ChatContext, Reply
from bot.snapshot import Snapshot
from data.db import is_busy
from data.settings import Settings

log = logging.getLogger(__name__)

BUSY_DB = "I am busy writing right now; please try again in a few seconds."
CHAT_LOCK_STRIPES = 256
#: Threads for group commands' writes: enough for several chats at once, few enough that waiting writers stay cheap.
WRITER_THREADS = 4
T = TypeVar("T")


@dataclass(frozen=True)
class Request:
    """One request as a handler sees it: the serving snapshot (read once, so no reply mixes versions) and who asked."""

    snap: Snapshot
    ctx: ChatContext


class ChatLocks:
    """Where group commands write: striped locks keyed by chat, so a chat's session and radio commands run one at a
    time (two `next` in a chat never pick the same track; two `start` never open two sessions) while other chats go
    on, in a pool of their own. A writer waiting for the database (another process holding its write lock) waits
    there, never in the threads that reads (`/similar`, search) use, so reads do not queue behind a locked database.
    """

    def __init__(self, stripes: int = CHAT_LOCK_STRIPES, writers: int = WRITER_THREADS) -> None:
        self._locks = [threading.Lock() for _ in range(stripes)]
        self._pool = ThreadPoolExecutor(writers, thread_name_prefix="murecom-writer")

    async def run(self, ctx: ChatContext, fn: Callable[..., T], *args: Any) -> T:
        """`fn(*args)` in the writers' pool, holding the lock of `ctx`'s chat."""
        return await asyncio.get_running_loop().run_in_executor(self._pool, self._locked, ctx, fn, *args)

    def _locked(self, ctx: ChatContext, fn: Callable[..., T], *args: Any) -> T:
        with self._locks[hash((ctx.platform, ctx.chat_id)) % len(self._locks)]:
            return fn(*args)

    def close(self) -> None:
        self._pool.shutdown(wait=True)


class Middleware:
    """Wraps a handler call: the flood check, the snapshot read, failures turned into replies, `served_by` set."""

    def __init__(
        self,
        snapshot: Callable[[], Snapshot],
        settings: Settings,
        clock: Callable[[], float] = time.monotonic,
        metrics: Metrics | None = None,
    ) -> None:
        self.snapshot = snapshot
        self.metrics = metrics if metrics is not None else Metrics()
        self._clock = clock
        self._users = TokenBuckets(settings.user_rate_per_minute, clock=clock)
        self._chats = TokenBuckets(settings.chat_rate_per_minute, clock=clock)
        self._warned_until: dict[str, float] = {}

    async def __call__(
        self,
        ctx: ChatContext,
        name: str,
        call: Callable[[Request], Awaitable[list[Reply]]],
        *,
        rate_limited: bool = True,
        contain: bool = True,
        kind: str = "command",
    ) -> list[Reply]:
        """`call`'s replies for this request; `name` says which handler in logs. `contain=False` lets failures
        propagate (a caller with its own error path, e.g. the radio scheduler, which logs and tries the next tick)."""
        if rate_limited:
            limited = self._limited(ctx)
            if limited is not None:
                self.metrics.requests.labels(kind, name, "flood").inc()
                return limited
        snap = self.snapshot()  # once per request: every part of the reply comes from the same versions
        started = time.perf_counter()
        outcome = "ok"
        try:
            replies = await call(Request(snap, ctx))
        except Exception as exc:
            outcome = "busy" if is_busy(exc) else "error"
            if not contain:
                raise
            if outcome == "busy":
                log.warning("database busy during %s", name)
                return [Reply(BUSY_DB, kind="error")]
            ref = uuid.uuid4().hex[:8]
            log.exception("handler %s failed (ref %s)", name, ref)
            return [Reply(f"Sorry, something went wrong on my side (ref {ref}). Please try again.", kind="error")]
        finally:
            seconds = time.perf_counter() - started
            self.metrics.requests.labels(kind, name, outcome).inc()
            self.metrics.latency.labels(kind, name).observe(seconds)
            # one record per request, with its fields for a JSON log (MUREC_LOG_FORMAT=json); no ids, no user text
            fields = {"platform": ctx.platform, "kind": kind, "command": name, "outcome": outcome}
            log.info("%s %s %s: %s in %.0f ms", ctx.platform, kind, name, outcome, seconds * 1000,
                     extra={**fields, "ms": round(seconds * 1000, 1)})  # fmt: skip
        return [replace(r, served_by=snap.label) for r in replies]

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
                log.info("flood: a message of %s dropped unanswered (told once already)", key.split(":", 1)[0])
                return []
            if len(self._warned_until) > 50_000:
                self._warned_until = {k: t for k, t in self._warned_until.items() if t > now}
            self._warned_until[key] = now + wait
            return [Reply(f"{text} Try again in {wait:.0f} s.", kind="error")]
        return None

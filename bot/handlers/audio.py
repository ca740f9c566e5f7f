"""A clip: tracks that sound like it (the audio index) and tracks tagged like it (the tag bridge), with the
clip's label probabilities as a chart. Audio work runs in this handler's own small pool with a bounded queue: a full
queue answers "busy" at once, so fifty clips in flight never delay a `/similar` or `/help`."""

from __future__ import annotations

import asyncio
import functools
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from bot.command_spec import too_large
from bot.handlers.base import PAGE_SIZE, ClipHandler, Services, track_line
from bot.middleware import Request
from bot.replies import Reply
from recommenders.audio.fingerprint import SAME_RECORDING
from recommenders.audio.service import AudioError, render_label_chart
from recommenders.audio.tags import TAGGED_REASON, ShownPicks

if TYPE_CHECKING:  # a command row names its handler class: types only, no import cycle
    from bot.command_spec import Command

BUSY_AUDIO = "I am busy analysing other clips; please send yours again in a minute."


class AudioHandler(ClipHandler):
    def __init__(self, services: Services, command: Command) -> None:
        super().__init__(services, command)
        settings = services.settings
        self._pool = ThreadPoolExecutor(settings.audio_workers, thread_name_prefix="murecom-audio")
        self._slots = settings.audio_workers + settings.audio_queue
        self._in_flight = 0
        self._shown = ShownPicks()  # each chat's recent tagged-alike picks: the next clip gets other songs

    def close(self) -> None:
        """Stop the audio pool (clips in flight finish)."""
        self._pool.shutdown(wait=True)

    async def on_clip(self, req: Request, data: bytes, filename: str) -> list[Reply]:
        settings = self.services.settings
        service = req.snap.audio
        if service is None:
            return [Reply("Audio recommendations are not available yet (no audio model is published).", kind="error")]
        if not data:
            return [Reply("That file is empty.", kind="error")]
        if len(data) > settings.max_audio_bytes:
            return [Reply(too_large(settings.max_audio_bytes), kind="error")]
        if self._in_flight >= self._slots:
            return [Reply(BUSY_AUDIO, kind="error")]
        loop = asyncio.get_running_loop()
        self._in_flight += 1
        gauge = self.services.metrics.audio_in_flight
        gauge.inc()
        chat = (req.ctx.platform, req.ctx.chat_id)
        recommend = functools.partial(service.recommend_clip, data, PAGE_SIZE * 2, shown=self._shown, chat=chat)
        try:
            result = await loop.run_in_executor(self._pool, recommend)
            chart = await loop.run_in_executor(self._pool, render_label_chart, result.labels)
        except AudioError as exc:
            return [Reply(str(exc), kind="error")]
        finally:
            self._in_flight -= 1
            gauge.dec()
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
        corpus = self.services.corpus
        infos = await asyncio.to_thread(corpus.track_info, [r.track_id for r in result.recommendations])
        lines = tuple(
            track_line(i + 1, r, infos[r.track_id]) for i, r in enumerate(result.recommendations) if r.track_id in infos
        )
        same = [line for line in lines if line.reason.startswith(SAME_RECORDING)]
        sounds = sum(1 for line in lines if not line.reason.startswith(TAGGED_REASON)) - len(same)
        parts = [f"{sounds} sound alike"] if sounds else []
        if len(lines) > sounds + len(same):
            parts.append(f"{len(lines) - sounds - len(same)} tagged alike")
        found = " and ".join(parts) or "none found"
        if same:  # the clip is one of the indexed recordings: say so first
            found = f"it is {same[0].title} — {same[0].artist}" + (f"; then {found}" if parts else "")
        return [
            Reply(
                f"Sounds like: {labels}",
                kind="recommendations",
                title=f"Tracks that sound like your clip ({result.seconds_analysed:.0f} s analysed): {found}",
                tracks=lines,
                image=chart,
            )
        ]

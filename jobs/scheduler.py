"""The embedded scheduler: the jobs on fixed intervals inside an asyncio program (the bot), run in the scheduler's
own single worker thread — never in the threads that serve chat commands — so an import or a retrain cannot take
the workers a `/similar` needs. One job runs at a time; a failing run is logged and retried at its next interval,
never taking the process down."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from data.settings import Settings
from jobs import tasks
from recommenders.audio.loader import AudioModels

log = logging.getLogger(__name__)

#: seconds between runs; retrain is cheap to call often (it returns at once unless the corpus grew)
DEFAULT_INTERVALS = {"previews": 30 * 60, "retrain": 60 * 60, "listenbrainz": 60 * 60}


@dataclass
class ScheduledJob:
    name: str
    every: float
    kwargs: dict[str, Any] = field(default_factory=dict)
    runs: int = 0
    failures: int = 0


class Scheduler:
    def __init__(self, settings: Settings, jobs: list[ScheduledJob]) -> None:
        self.settings = settings
        self.jobs = jobs
        # each job's function from the registry now: a name that is not a job fails here, not at its first run
        self._functions = {job.name: tasks.job_named(job.name) for job in jobs}
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="murecom-jobs")

    @classmethod
    def default(
        cls, settings: Settings, names: list[str] | None = None, audio_models: AudioModels | None = None
    ) -> Scheduler:
        """`audio_models`: the models previews indexes with (a bot process passes the ones it serves, so one copy is
        loaded); by default the scheduler owns its own, loaded once for all runs."""
        names = names or list(tasks.JOBS)
        models = audio_models if audio_models is not None else AudioModels()
        kwargs: dict[str, dict[str, Any]] = {"previews": {"models": models}}
        return cls(settings, [ScheduledJob(n, DEFAULT_INTERVALS[n], dict(kwargs.get(n, {}))) for n in names])

    async def _loop(self, job: ScheduledJob, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                loop = asyncio.get_running_loop()
                await loop.run_in_executor(
                    self._executor, partial(tasks.run_job, self._functions[job.name], self.settings, **job.kwargs)
                )
                job.runs += 1
            except Exception:  # noqa: BLE001 - logged; the next interval tries again
                job.failures += 1
                log.exception("job %s failed; next try in %.0fs", job.name, job.every)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=job.every)

    async def run_forever(self, stop: asyncio.Event | None = None) -> None:
        stop = stop or asyncio.Event()
        log.info("scheduler: %s", ", ".join(f"{j.name} every {j.every:.0f}s" for j in self.jobs))
        try:
            await asyncio.gather(*(self._loop(job, stop) for job in self.jobs))
        finally:
            self._executor.shutdown(wait=False, cancel_futures=True)

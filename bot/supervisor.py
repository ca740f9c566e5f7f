"""Each chat adapter runs on its own: one platform's failure never ends the other.

An adapter that fails to start (a refused token, a privileged intent not enabled, the platform unreachable) or stops
later is logged with what to do about it and started again after a growing pause, while the other adapters keep
serving. A failure that waiting cannot fix (a refused token: the settings are read once) ends that adapter for good;
the process ends only when every adapter has. The adapter modules say what their failures mean (`explain`), so this
module knows no platform.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from bot.metrics import Metrics

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Diagnosis:
    """What a failure of an adapter means to its operator, and whether waiting can fix it."""

    advice: str
    permanent: bool = False


#: How an adapter module explains its own failures (None: a failure it does not recognise, retried).
Explain = Callable[[BaseException], Diagnosis | None]


@dataclass
class AdapterStatus:
    """An adapter's state as the supervisor sees it (read by health checks and tests)."""

    name: str
    state: str = "starting"  # starting, running, retrying, failed
    failures: int = 0
    advice: str = ""


@dataclass(frozen=True)
class Adapter:
    """A platform adapter to keep running: `run` serves until cancelled (or fails); `explain` reads its failures."""

    name: str
    run: Callable[[], Awaitable[None]]
    explain: Explain


class Supervisor:
    """Runs adapters side by side, restarting each one after `first_pause`·2ⁿ seconds (at most `max_pause`)."""

    def __init__(self, first_pause: float = 2.0, max_pause: float = 300.0, metrics: Metrics | None = None) -> None:
        self.first_pause = first_pause
        self.max_pause = max_pause
        self.metrics = metrics  # adapter state and failures, when the process reports them
        self.status: dict[str, AdapterStatus] = {}

    async def run(self, adapters: list[Adapter], stop: asyncio.Event) -> bool:
        """Serve until `stop` is set (True) or every adapter has failed for good (False)."""
        self.status = {a.name: AdapterStatus(a.name) for a in adapters}
        keepers = [asyncio.create_task(self._keep(a, stop)) for a in adapters]

        async def all_failed() -> None:
            await asyncio.gather(*keepers)

        watchers = [asyncio.create_task(stop.wait()), asyncio.create_task(all_failed())]
        try:
            await asyncio.wait(watchers, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in [*keepers, *watchers]:
                task.cancel()
            await asyncio.gather(*keepers, *watchers, return_exceptions=True)
        return stop.is_set()

    def states(self) -> Mapping[str, str]:
        return {name: s.state for name, s in self.status.items()}

    async def _keep(self, adapter: Adapter, stop: asyncio.Event) -> None:
        status = self.status[adapter.name]
        up = self.metrics.adapter_up.labels(adapter.name) if self.metrics is not None else None
        while not stop.is_set():
            status.state = "running"
            if up is not None:
                up.set(1)
            try:
                await adapter.run()
                failure: BaseException = RuntimeError(f"the {adapter.name} adapter stopped on its own")
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - any failure of one adapter must leave the others serving
                failure = exc
            status.failures += 1
            if up is not None and self.metrics is not None:
                up.set(0)
                self.metrics.adapter_failures.labels(adapter.name).inc()
            known = adapter.explain(failure)
            diagnosis = known or Diagnosis(f"unexpected failure: {type(failure).__name__}")
            status.advice = diagnosis.advice
            if diagnosis.permanent:
                status.state = "failed"
                log.error("%s adapter stopped for good: %s", adapter.name, diagnosis.advice, exc_info=failure)
                return
            pause = min(self.max_pause, self.first_pause * 2 ** (status.failures - 1))
            status.state = "retrying"
            log.error(
                "%s adapter failed (%d× so far): %s; starting it again in %.0f s",
                adapter.name,
                status.failures,
                diagnosis.advice,
                pause,
                exc_info=None if known else failure,  # a recognised failure needs its advice, not a traceback
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=pause)

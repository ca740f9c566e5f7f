"""Progress of long work (import, setup, train, eval, benchmarks): one helper, two renderings.

On a terminal (stderr is a TTY) a tqdm bar shows counts, rate and ETA. Anywhere else (CI, a service's journal, a
log file) a bar's carriage returns would be noise, so a plain log line is written instead, at most every
`every_seconds` or every `every_fraction` of the total, whichever comes first, plus one at the end. tqdm is
imported only when a bar is drawn, so importing this module costs nothing. The clock is injectable, so the
log-line mode is tested without sleeping.

    with progress("mpd import", total=n_files * 1000, unit="playlists") as bar:
        ...
        bar.update(len(batch))
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from types import TracebackType
from typing import IO, Any, Protocol, Self, TypeVar

log = logging.getLogger("murecom.progress")
T = TypeVar("T")

#: A log line at most this often (seconds) …
EVERY_SECONDS = 10.0
#: … or each time this share of the total is done, whichever comes first.
EVERY_FRACTION = 0.1


class Progress(Protocol):
    """What long work calls: `update(n)` as items finish, `set_total` when the total becomes known, `close()`."""

    def update(self, n: int = 1) -> None: ...

    def set_total(self, total: int | None) -> None: ...

    def close(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...


def _fmt_seconds(s: float) -> str:
    s = int(round(s))
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"


class LogProgress:
    """Plain periodic lines ("mpd import: 3,000/10,000 playlists (30%), 1,234/s, 0:02 elapsed, ETA 0:06")."""

    def __init__(
        self,
        desc: str,
        total: int | None = None,
        unit: str = "items",
        *,
        clock: Callable[[], float] = time.monotonic,
        emit: Callable[[str], None] | None = None,
        every_seconds: float = EVERY_SECONDS,
        every_fraction: float = EVERY_FRACTION,
    ) -> None:
        self.desc, self.total, self.unit = desc, total, unit
        self.clock = clock
        self.emit = emit if emit is not None else log.info
        self.every_seconds, self.every_fraction = every_seconds, every_fraction
        self.n = 0
        self.start = clock()
        self._last_time = self.start
        self._last_n = 0
        self._closed = False

    def set_total(self, total: int | None) -> None:
        self.total = total

    def line(self, state: str = "") -> str:
        """The current state as one line (what is emitted); `state` is put after the description ("done")."""
        elapsed = self.clock() - self.start
        rate = self.n / elapsed if elapsed > 0 else 0.0
        done = f"{self.n:,}"
        if self.total:
            done += f"/{self.total:,} {self.unit} ({100 * self.n / self.total:.0f}%)"
        else:
            done += f" {self.unit}"
        speed = f"{rate:,.0f}" if rate >= 10 else f"{rate:.2f}"  # slices and models go at a few per second
        text = f"{self.desc}: {state + ', ' if state else ''}{done}, {speed}/s, {_fmt_seconds(elapsed)} elapsed"
        if self.total and rate > 0 and self.n < self.total:
            text += f", ETA {_fmt_seconds((self.total - self.n) / rate)}"
        return text

    def update(self, n: int = 1) -> None:
        self.n += n
        now = self.clock()
        due = now - self._last_time >= self.every_seconds
        if self.total and not due:
            step = max(1, int(self.total * self.every_fraction))
            due = self.n // step > self._last_n // step and self.n < self.total
        if due:
            self._last_time, self._last_n = now, self.n
            self.emit(self.line())

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.emit(self.line("done"))

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.close()


class _BarProgress:
    """tqdm on the terminal, with the same small interface."""

    def __init__(self, desc: str, total: int | None, unit: str, stream: IO[str]) -> None:
        # lazy: only a terminal draws a bar; services and CI never load tqdm (tests/test_progress.py)
        from tqdm import tqdm

        self._bar: Any = tqdm(total=total, desc=desc, unit=f" {unit}", file=stream, dynamic_ncols=True, leave=True)

    def update(self, n: int = 1) -> None:
        self._bar.update(n)

    def set_total(self, total: int | None) -> None:
        self._bar.total = total
        self._bar.refresh()

    def close(self) -> None:
        self._bar.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def is_terminal(stream: IO[str] | None) -> bool:
    try:
        return bool(stream is not None and stream.isatty())
    except (AttributeError, ValueError):  # closed or replaced streams (pytest's capture) are not terminals
        return False


def progress(
    desc: str,
    total: int | None = None,
    unit: str = "items",
    *,
    stream: IO[str] | None = None,
    clock: Callable[[], float] = time.monotonic,
    emit: Callable[[str], None] | None = None,
) -> Progress:
    """A progress reporter for `desc`: a tqdm bar when `stream` (default stderr) is a terminal, log lines otherwise."""
    stream = stream if stream is not None else sys.stderr
    if is_terminal(stream):
        return _BarProgress(desc, total, unit, stream)
    return LogProgress(desc, total, unit, clock=clock, emit=emit)


def track(
    items: Iterable[T],
    desc: str,
    total: int | None = None,
    unit: str = "items",
    **kwargs: Any,
) -> Iterator[T]:
    """Iterate `items` with progress (one `update` per item); the total defaults to `len(items)` when it has one."""
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    with progress(desc, total, unit, **kwargs) as bar:
        for item in items:
            yield item
            bar.update(1)

"""Import completion, verified against the source: what lets `murecom setup` resume an interrupted import.

An import killed half-way leaves a valid but partial corpus, and "some playlists exist" cannot tell partial from
complete. So an import is done only when the rows stored for its source match the counts read from the source
files (playlists, transitions, tracks …); that fact is recorded in `kv_state` under `import:<source>` with the
counts. `ensure_imported` skips a recorded import whose counts still hold, otherwise runs the importer (which is
idempotent and resumes: every batch is one transaction and existing playlists are skipped), and if the counts
still differ, redoes it rewriting existing rows (`replace`); an import that still does not match raises.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from data.kv import read_state, write_state

__all__ = ["ImportIncomplete", "ImportSpec", "ensure_imported", "read_state", "write_state"]
log = logging.getLogger(__name__)

Counts = Mapping[str, int]


class ImportIncomplete(RuntimeError):
    """The stored rows do not match the source even after a redo; the message gives both counts."""


@dataclass(frozen=True)
class ImportSpec:
    """How to import one source and count it on both sides."""

    source: str
    expected: Callable[[], Counts]  # counts read from the source files
    stored: Callable[[Engine], Counts]  # the same counts in the database
    run: Callable[[Engine, bool], Any]  # the importer: (engine, replace) -> its report

    @property
    def key(self) -> str:
        return f"import:{self.source}"


def ensure_imported(engine: Engine, spec: ImportSpec) -> str:
    """Make the source's import complete and recorded; returns what was done, for the setup report."""
    expected = dict(spec.expected())
    record = read_state(engine, spec.key)
    stored = dict(spec.stored(engine))
    if record and record.get("complete") and record.get("counts") == expected and stored == expected:
        return f"complete ({_fmt(expected)})"
    with engine.begin() as conn:
        write_state(conn, spec.key, {"complete": False, "counts": expected, "started": time.time()})
    action = "resumed" if any(stored.values()) else "imported"
    report = spec.run(engine, False)
    stored = dict(spec.stored(engine))
    if stored != expected:
        log.warning("%s import stored %s, source has %s: redoing it", spec.source, stored, expected)
        action = "redone"
        report = spec.run(engine, True)
        stored = dict(spec.stored(engine))
    if stored != expected:
        raise ImportIncomplete(f"{spec.source}: stored {_fmt(stored)} but the source has {_fmt(expected)}")
    with engine.begin() as conn:
        write_state(conn, spec.key, {"complete": True, "counts": expected, "finished": time.time()})
    log.info("%s import %s and verified: %s", spec.source, action, report)
    return f"{action} and verified ({_fmt(expected)})"


def _fmt(counts: Counts) -> str:
    return ", ".join(f"{n:,} {k}" for k, n in counts.items())

"""Reads while the database is write-locked: `/similar` latency when another process holds SQLite's write lock and
31 chats send `/session start` at once, against the same run with the database free (the reads arrive together).

Group commands write in their own pool (`bot.middleware.ChatLocks`), so writers waiting out the busy timeout never
hold the threads reads use. Goal: `/similar` p99 with the database locked within 2× its p99 unlocked.

Builds its own home in a temporary folder (the real Yes.com corpus and an item-kNN model), then drives one chat core,
the object the adapters call. Per round and condition: 31 `/session start` in 31 chats are launched, then 100
`/similar` from other chats arrive together and are timed while the writers wait (locked) or commit (free).

Usage: .venv/bin/python bench/locked_reads.py [--repeat 3] [--requests 100] [--writers 31]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("NUMBA_CACHE_DIR", str(ROOT / "var" / "numba-cache"))

from bot.app import build_app  # noqa: E402
from bot.replies import ChatContext  # noqa: E402
from data.corpus import Corpus  # noqa: E402
from data.db import open_database  # noqa: E402
from data.importers.yes import import_yes  # noqa: E402
from data.settings import Settings  # noqa: E402
from recommenders.artifacts import ArtifactStore  # noqa: E402
from recommenders.cf.training import train_and_publish  # noqa: E402

SONGS = ("hotel california", "stairway to heaven", "smells like teen spirit", "billie jean", "hey jude")


def prepare(home: Path) -> Settings:
    """A home with the real Yes.com corpus and a published item-kNN model (about half a minute)."""
    settings = Settings.from_env({"MUREC_HOME": str(home)}, dotenv=False)
    engine = open_database(settings)
    import_yes(engine, settings.data_dir / "yes_big")
    train_and_publish(Corpus(engine), ArtifactStore(settings.models_dir), models=["itemknn"], evaluate=False)
    engine.dispose()
    return settings


def sessions_started(settings: Settings) -> int:
    """Sessions committed so far (a connection of its own: the lock holder's would see its own snapshot)."""
    with contextlib.closing(sqlite3.connect(settings.home / "murecom.db")) as conn:
        return int(conn.execute("SELECT count(*) FROM listening_sessions").fetchone()[0])


async def one_round(settings: Settings, locked: bool, round_no: int, requests: int, writers: int) -> list[float]:
    """Latencies (ms) of `requests` `/similar` while `writers` chats start sessions."""
    app = build_app(settings)
    lock = sqlite3.connect(settings.home / "murecom.db", isolation_level=None)
    try:
        before = sessions_started(settings)
        if locked:
            lock.execute("BEGIN IMMEDIATE")  # another process's write transaction: writers wait, then answer busy
        core = app.core
        starts = [
            asyncio.create_task(
                core.handle_text(ChatContext("console", f"w{round_no}-{locked}-{i}", "u", "u"), "/session start")
            )
            for i in range(writers)
        ]
        await asyncio.sleep(0.5)  # let the writers reach the database (and, locked, wait in it) before the reads

        async def timed(i: int) -> float:
            ctx = ChatContext("console", f"r{round_no}-{i}", f"u{i}", "u")
            t0 = time.perf_counter()
            [reply] = await core.handle_text(ctx, f"/similar {SONGS[i % len(SONGS)]}")
            assert reply.kind == "recommendations", reply.text
            return (time.perf_counter() - t0) * 1000

        latencies = await asyncio.gather(*(timed(i) for i in range(requests)))  # arriving together, as in a rush
        started_meanwhile = sessions_started(settings) - before
        if locked:
            lock.execute("ROLLBACK")
        outcomes = await asyncio.gather(*starts)
        busy = sum("busy" in replies[0].text for replies in outcomes)
        state = "locked" if locked else "free  "
        print(
            f"  {state} round {round_no}: {started_meanwhile}/{writers} sessions started while the reads ran, "
            f"{busy} writers told busy"
        )
        return list(latencies)
    finally:
        lock.close()
        app.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--writers", type=int, default=31)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = prepare(Path(tmp))
        settings = dataclasses.replace(settings, db_busy_timeout_ms=3000)  # the default: each writer waits 3 s
        rows: dict[bool, list[tuple[float, float]]] = {False: [], True: []}
        for r in range(args.repeat):
            for locked in (False, True):
                ms = asyncio.run(one_round(settings, locked, r, args.requests, args.writers))
                rows[locked].append((float(np.percentile(ms, 50)), float(np.percentile(ms, 99))))
    free_p50, free_p99 = (statistics.median(x) for x in zip(*rows[False], strict=True))
    lock_p50, lock_p99 = (statistics.median(x) for x in zip(*rows[True], strict=True))
    print(f"/similar, {args.requests} requests × {args.repeat} rounds, {args.writers} chats starting sessions:")
    print(f"  database free:   p50 {free_p50:.1f} ms  p99 {free_p99:.1f} ms")
    print(f"  database locked: p50 {lock_p50:.1f} ms  p99 {lock_p99:.1f} ms")
    print(f"  ratio locked/free: p50 ×{lock_p50 / free_p50:.2f}  p99 ×{lock_p99 / free_p99:.2f} (goal p99 ≤ ×2)")


if __name__ == "__main__":
    main()

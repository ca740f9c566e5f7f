"""`/ask` latency on the served snapshot: how long one answer takes (parse, merge with the conversation, candidates
from every source, fusion, constraints), and the parser's share of it.

Requests: the 153 hand-written requests of recommenders/ask/requests.json as first turns, each followed by a
refinement turn ("no country, more 80s", "something else", "more like the second one", in turn), answered by the
same objects the bot's `/ask` uses (`bot.handlers.ask.asker_for` over `bot.snapshot.SnapshotBuilder`'s snapshot of
what is published under MUREC_HOME). Single-threaded; the first 20 turns warm up and are not counted.

    .venv/bin/python bench/ask_latency.py [--rounds 2]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.handlers.ask import asker_for  # noqa: E402
from bot.snapshot import SnapshotBuilder  # noqa: E402
from data.corpus import Corpus  # noqa: E402
from data.db import open_database  # noqa: E402
from data.settings import Settings  # noqa: E402
from recommenders.artifacts import ArtifactStore  # noqa: E402
from recommenders.ask.answer import merge  # noqa: E402
from recommenders.ask.evaluate import load_requests  # noqa: E402
from recommenders.ask.parse import AskError  # noqa: E402

FOLLOW_UPS = ("no country, more 80s", "something else", "more like the second one", "less rock, 5 songs")
WARM_UP = 20


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=2, help="passes over the requests")
    args = ap.parse_args()
    settings = Settings.from_env()
    corpus = Corpus(open_database(settings))
    snap = SnapshotBuilder(corpus, ArtifactStore(settings.models_dir), settings).build(None)
    asker = asker_for(snap)
    texts = [item["text"] for item in load_requests()]
    totals: list[float] = []
    parses: list[float] = []
    n = 0
    for _ in range(args.rounds):
        for i, text in enumerate(texts):
            previous = None
            for turn_text in (text, FOLLOW_UPS[i % len(FOLLOW_UPS)]):
                t0 = time.perf_counter()
                try:
                    request = asker.parser.parse(turn_text)
                    merge(previous, request)
                except AskError:
                    pass
                t1 = time.perf_counter()
                turn = asker.turn(turn_text, previous)
                t2 = time.perf_counter()
                previous = turn.query or previous
                n += 1
                if n > WARM_UP:
                    parses.append((t1 - t0) * 1000)
                    totals.append((t2 - t1) * 1000)
    share = sum(parses) / sum(totals)
    print(f"served snapshot: {snap.label}; {len(totals)} turns timed ({len(texts)} requests × 2 turns × {args.rounds})")
    print(f"ask answer  p50 {percentile(totals, 0.5):6.1f} ms  p99 {percentile(totals, 0.99):6.1f} ms  "
          f"mean {statistics.fmean(totals):6.1f} ms")  # fmt: skip
    print(f"parser only p50 {percentile(parses, 0.5):6.1f} ms  p99 {percentile(parses, 0.99):6.1f} ms  "
          f"share of the answer time {share:.0%}")  # fmt: skip


if __name__ == "__main__":
    main()

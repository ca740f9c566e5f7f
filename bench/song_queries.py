"""Any song a user names, measured on the path users take: `/similar <name>` through the chat core, one after the
other, over a corpus of the first 6,000 Yes.com playlists that lacks the songs the "absent" queries name, with the
on-demand look-up answering from the fakes of MusicBrainz and ListenBrainz, each answer taking 100–300 ms
(tests/bot/song_queries.py; the queries are `data.query_set`'s: full names, titles, misspellings, absent songs).

Prints, per kind of query, the share of each outcome (answered for the song named, answered for another song,
choices holding it, choices without it, dead end) and the latency p50/p99; look-ups include MusicBrainz's
one-request-a-second pacing, as in production.

Usage: .venv/bin/python bench/song_queries.py [--per-kind 50] [--out var/eval/song-queries.md]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("NUMBA_CACHE_DIR", str(ROOT / "var" / "numba-cache"))

from data.settings import Settings  # noqa: E402
from tests.bot.song_queries import ask_all, open_world, table  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-kind", type=int, default=50)
    ap.add_argument("--out", default=str(ROOT / "var" / "eval" / "song-queries.md"))
    args = ap.parse_args()
    data = Settings.from_env(dotenv=False).data_dir
    with tempfile.TemporaryDirectory() as home:
        world = open_world(data, Path(home), args.per_kind, latency=(0.1, 0.3))
        try:
            asked = ask_all(world)
        finally:
            world.close()
    text = table(asked)
    print(text)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()

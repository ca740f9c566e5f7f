"""Serving under load: cheap-command latency with and without an audio burst, and group sessions under contention.

Builds its own home in a temporary folder (the real Yes.com corpus, an item-kNN model, an audio index over a few real
soundtrack tracks from var/audio-src), then drives one chat core — the object the adapters call — the way a busy
bot is driven:

1. baseline: 200 `/similar` requests from 200 users arriving at a steady rate (open loop, `--rate` per second),
   latency from arrival to reply, p50/p99;
2. the same 200 `/similar` (and 200 `/help`) while 50 audio clips arrive at once: how many clips are analysed, how
   many are told "busy" at once, and the cheap commands' p50/p99, with the ratio to the baseline of the same run;
3. 20 chats x 5 members acting concurrently on two cores over one database (start, join, add, 4 x next each):
   active sessions per chat and tracks played twice (both must be 1 and 0).

Usage: .venv/bin/python bench/serving_load.py [--rate 50] [--clips 50] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("NUMBA_CACHE_DIR", str(ROOT / "var" / "numba-cache"))

from bot.app import build_app  # noqa: E402
from bot.replies import ChatContext  # noqa: E402
from data.corpus import Corpus  # noqa: E402
from data.db import make_engine, migrate  # noqa: E402
from data.importers.audio_folder import import_audio_folder  # noqa: E402
from data.importers.yes import import_yes  # noqa: E402
from data.sessions import ListeningSession, SessionEvent  # noqa: E402
from data.settings import Settings  # noqa: E402
from recommenders.artifacts import ArtifactStore  # noqa: E402
from recommenders.audio.setup import ensure_index  # noqa: E402
from recommenders.cf.training import train_and_publish  # noqa: E402

REQUESTS = 200


def prepare(home: Path) -> tuple[Settings, list[str], bytes]:
    """A home with the real corpus, a published item-kNN model and an audio index over 6 real tracks."""
    base = Settings.from_env(dotenv=False)
    src = base.home / "audio-src"
    clips = sorted(src.glob("wesnoth/*.ogg"))[:4] + sorted(src.glob("warzone2100/*.opus"))[:3]
    if len(clips) < 7:
        sys.exit(f"no real audio in {src}: run scripts/get_audio.sh")
    for clip in clips[:6]:
        (home / "audio-src" / clip.parent.name).mkdir(parents=True, exist_ok=True)
        (home / "audio-src" / clip.parent.name / clip.name).symlink_to(clip)
    settings = Settings.from_env(
        {
            "MUREC_HOME": str(home),
            "MUREC_DATA": str(base.data_dir),
            "MUREC_USER_RATE_PER_MINUTE": "100000",
            "MUREC_CHAT_RATE_PER_MINUTE": "100000",
        }
    )
    engine = make_engine(settings.database_url)
    migrate(engine)
    import_yes(engine, settings.data_dir / "yes_big")
    import_audio_folder(engine, home / "audio-src")
    corpus = Corpus(engine)
    store = ArtifactStore(settings.models_dir)
    train_and_publish(corpus, store, models=["itemknn"], evaluate=False)
    ensure_index(corpus, store, settings)
    # queries: the 200 most played songs, as "title - artist" (what people type, resolved by the real search)
    counts: dict[int, int] = {}
    for playlist in corpus.playlists():
        for t in playlist:
            counts[t] = counts.get(t, 0) + 1
    top = sorted(counts, key=lambda t: -counts[t])[:REQUESTS]
    infos = corpus.track_info(top)
    queries = [f"{infos[t].title} - {infos[t].artist}" for t in top if t in infos]
    engine.dispose()
    return settings, queries, clips[6].read_bytes()


async def timed(coro) -> tuple[float, list]:
    t0 = time.perf_counter()
    replies = await coro
    return (time.perf_counter() - t0) * 1000, replies


async def cheap_load(core, queries: list[str], rate: float, clip: bytes | None, n_clips: int):
    """Send the /similar and /help requests at `rate` per second (and `n_clips` clips at once first)."""
    clip_tasks = []
    if clip is not None:
        clip_tasks = [
            asyncio.create_task(core.handle_audio(ChatContext("telegram", f"a{i}", f"a{i}", "A"), clip, "clip.opus"))
            for i in range(n_clips)
        ]
    similar, helps = [], []
    for i, query in enumerate(queries):
        ctx = ChatContext("telegram", f"c{i}", f"u{i}", "U")
        similar.append(asyncio.create_task(timed(core.handle_text(ctx, f"/similar {query}"))))
        if clip is not None:
            helps.append(asyncio.create_task(timed(core.handle_text(ctx, "/help"))))
        await asyncio.sleep(1 / rate)
    results = await asyncio.gather(*similar)
    help_results = await asyncio.gather(*helps)
    clip_replies = [r[0] for r in await asyncio.gather(*clip_tasks)]
    failed = sum(1 for _, replies in results + help_results if not replies or replies[0].kind == "error")
    return [ms for ms, _ in results], [ms for ms, _ in help_results], failed, clip_replies


async def sessions(apps) -> tuple[int, int, int, list[float]]:
    seeds = ["hotel california", "black and yellow", "need you now - lady antebellum", "stairway to heaven", "yellow"]
    latencies: list[float] = []

    async def member(chat: str, m: int) -> None:
        ctx = ChatContext("telegram", chat, f"{chat}-u{m}", f"M{m}")
        core = apps[m % 2].core
        for text in ("/session start", "/session join", f"/session add {seeds[m]}", *["/session next"] * 4):
            ms, _ = await timed(core.handle_text(ctx, text))
            latencies.append(ms)

    await asyncio.gather(*(member(f"g{c}", m) for c in range(20) for m in range(5)))
    with apps[0].engine.connect() as conn:
        per_chat = conn.execute(
            select(func.count()).where(ListeningSession.active.is_(True)).group_by(ListeningSession.chat_id)
        ).scalars()
        most_active = max(per_chat)
        played = conn.execute(
            select(func.count())
            .where(SessionEvent.kind == "played")
            .group_by(SessionEvent.session_id, SessionEvent.track_id)
        ).scalars()
        counts = list(played)
    return most_active, sum(1 for n in counts if n > 1), len(counts), latencies


def pct(samples: list[float]) -> tuple[float, float]:
    return float(np.percentile(samples, 50)), float(np.percentile(samples, 99))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=50.0, help="cheap requests arriving per second")
    parser.add_argument("--clips", type=int, default=50, help="audio clips arriving at once during the burst")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each phase (medians over runs)")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="murecom-load-"))
    try:
        t0 = time.perf_counter()
        settings, queries, clip = prepare(home)
        print(f"prepared in {time.perf_counter() - t0:.0f}s: {len(queries)} queries, {os.cpu_count()} cores")
        app = build_app(settings)
        app.watcher.current().audio.recommend_clip(clip, 5)  # warm TensorFlow and numba once, outside the figures
        base_runs, burst_runs, help_runs, clip_outcomes = [], [], [], []
        for _ in range(args.repeat):
            lat, _, failed, _ = asyncio.run(cheap_load(app.core, queries, args.rate, None, 0))
            assert failed == 0, f"{failed} baseline requests failed"
            base_runs.append(pct(lat))
            lat, help_lat, failed, clip_replies = asyncio.run(
                cheap_load(app.core, queries, args.rate, clip, args.clips)
            )
            assert failed == 0, f"{failed} requests failed during the burst"
            burst_runs.append(pct(lat))
            help_runs.append(pct(help_lat))
            analysed = sum(1 for r in clip_replies if r.kind == "recommendations")
            busy = sum(1 for r in clip_replies if "busy" in r.text)
            clip_outcomes.append((analysed, busy))
        b50, b99 = (statistics.median(x) for x in zip(*base_runs, strict=True))
        l50, l99 = (statistics.median(x) for x in zip(*burst_runs, strict=True))
        h50, h99 = (statistics.median(x) for x in zip(*help_runs, strict=True))
        print(f"\n/similar at {args.rate:.0f}/s, {REQUESTS} requests, median of {args.repeat} runs (ms)")
        print(f"{'phase':>28s} {'p50':>8s} {'p99':>8s}")
        print(f"{'baseline (no audio)':>28s} {b50:8.1f} {b99:8.1f}")
        print(f"{f'during {args.clips} clips':>28s} {l50:8.1f} {l99:8.1f}")
        print(f"{'ratio burst / baseline':>28s} {l50 / b50:8.2f} {l99 / b99:8.2f}")
        print(f"{f'/help during {args.clips} clips':>28s} {h50:8.1f} {h99:8.1f}")
        print(f"clips per burst (analysed, told busy at once): {clip_outcomes}")
        app.close()

        apps = [build_app(settings), build_app(settings)]
        most_active, repeated, plays, lat = asyncio.run(sessions(apps))
        s50, s99 = pct(lat)
        print(
            f"\nsessions: 20 chats x 5 members on 2 cores: {plays} plays, tracks played twice: {repeated}, "
            f"most active sessions in one chat: {most_active}; command p50 {s50:.1f} ms, p99 {s99:.1f} ms"
        )
        for a in apps:
            a.close()
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()

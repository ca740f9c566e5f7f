"""`murecom jobs run [--once] [--only …]` (embedded) and `murecom jobs worker` / `murecom jobs enqueue` (arq)."""

from __future__ import annotations

import argparse
import asyncio
import json


def _run(args: argparse.Namespace) -> int:
    # lazy: `murecom --help` imports this module; a command loads only what it runs
    from jobs import tasks
    from jobs.scheduler import Scheduler

    settings = args.settings
    names = [n.strip() for n in args.only.split(",")] if args.only else list(tasks.JOBS)
    unknown = [n for n in names if n not in tasks.JOBS]
    if unknown:
        print(f"unknown job(s): {', '.join(unknown)}; jobs: {', '.join(tasks.JOBS)}")
        return 2
    options = {
        "previews": {"budget": args.budget},
        "retrain": {"force": args.force},
        "listenbrainz": {"max_playlists": args.playlists},
    }
    if args.once:
        for name in names:
            print(f"{name}: {json.dumps(tasks.run(name, settings, **options[name]), default=str)}")
        return 0
    asyncio.run(Scheduler.default(settings, names).run_forever())
    return 0


def _worker(args: argparse.Namespace) -> int:
    # lazy: `murecom --help` imports this module; a command loads only what it runs
    from jobs.worker import run_worker

    run_worker(args.settings)
    return 0


def _enqueue(args: argparse.Namespace) -> int:
    # lazy: `murecom --help` imports this module; a command loads only what it runs
    from jobs.worker import enqueue

    print(asyncio.run(enqueue(args.job, args.settings)))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("jobs", help="background jobs: ListenBrainz playlists, fetch previews, retrain and publish")
    jobs = p.add_subparsers(dest="jobs_command", required=True)
    r = jobs.add_parser("run", help="run the jobs in this process (default: on a schedule)")
    r.add_argument("--once", action="store_true", help="run each job once and exit")
    r.add_argument("--only", default="", help="comma-separated jobs: previews,retrain,listenbrainz")
    r.add_argument("--budget", type=int, default=None, help="previews: downloads per run (default from settings)")
    r.add_argument("--force", action="store_true", help="retrain even if the corpus did not grow")
    r.add_argument("--playlists", type=int, default=50, help="listenbrainz: playlists fetched per run")
    r.set_defaults(func=_run)
    w = jobs.add_parser("worker", help="run an arq worker on REDIS_URL executing queued jobs")
    w.set_defaults(func=_worker)
    e = jobs.add_parser("enqueue", help="queue one job for the arq workers")
    e.add_argument("job", choices=["previews", "retrain", "listenbrainz"])
    e.set_defaults(func=_enqueue)

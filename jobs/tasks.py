"""The job functions, each a plain synchronous call on (settings): the embedded scheduler runs them in a worker
thread of the bot process, `murecom jobs run` runs them in the foreground, and arq workers run the very same
functions on Redis when the deployment scales out. Each returns a small JSON-able summary for logs and tests.

`JOBS` is the registry all three read: each job function is registered under its own name by `@job`, so a name
that is not a job fails at once with the list of jobs, and no caller finds a function by its name in this module.

No job reads Spotify: the playlist crawl that grew the corpus from Spotify was removed, because Spotify's Developer
Terms (v9, IV.2.a.i) and Developer Policy (III.14) forbid feeding Spotify Content to an ML model, and the corpus is
what the CF models train on (docs/jobs.md, "Spotify"). `tests/jobs/test_tasks.py` holds every registered job to it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict
from typing import Any, TypeVar

from data.db import open_database
from data.kv import read_prefixed
from data.settings import Settings
from jobs.listenbrainz import ListenBrainzClient
from jobs.open_playlists import WANTED_PREFIX, fetch_playlists, fetch_wanted
from jobs.previews import fetch_previews
from jobs.retrain import retrain_if_needed
from recommenders.audio.loader import AudioModels

log = logging.getLogger(__name__)

Job = Callable[..., dict]
J = TypeVar("J", bound=Job)
#: the registered jobs by name, in the order they were defined (previews, retrain, listenbrainz)
JOBS: dict[str, Job] = {}


def job(fn: J) -> J:
    """Register `fn` as the job named after it."""
    JOBS[fn.__name__] = fn
    return fn


def job_named(name: str) -> Job:
    """The registered job `name`; a name that is not a job raises ValueError naming the jobs."""
    if name not in JOBS:
        raise ValueError(f"unknown job {name!r}; jobs: {', '.join(JOBS)}")
    return JOBS[name]


@job
def previews(settings: Settings, *, budget: int | None = None, models: AudioModels | None = None) -> dict:
    """Fetch audio previews for tracks without audio, then index them for audio recommendations (`models`: the
    caller's loaded audio models, kept between runs by a scheduler or worker)."""
    engine = open_database(settings)
    try:
        return asdict(fetch_previews(engine, settings, budget=budget, models=models))
    finally:
        engine.dispose()


@job
def retrain(settings: Settings, *, force: bool = False) -> dict:
    """Retrain the CF model when the corpus grew enough; publish only if not worse on held-out playlists."""
    engine = open_database(settings)
    try:
        return retrain_if_needed(engine, settings, force=force)
    finally:
        engine.dispose()


@job
def listenbrainz(settings: Settings, *, max_playlists: int = 50, client: ListenBrainzClient | None = None) -> dict:
    """Grow the corpus from ListenBrainz (CC0): first what users asked about that the corpus lacked (each song with
    the recordings listened with it, `open_playlists.fetch_wanted`), then public playlists of LISTENBRAINZ_USERS
    and/or LISTENBRAINZ_SEARCH; skipped, with a reason, when there is neither (then nothing calls out). `client`: a
    test's, on its clock."""
    engine = open_database(settings)
    try:
        wanted = bool(read_prefixed(engine, WANTED_PREFIX))
        if not (wanted or settings.listenbrainz_users or settings.listenbrainz_search):
            return {"skipped": "no LISTENBRAINZ_USERS / LISTENBRAINZ_SEARCH, and no song asked about to learn"}
        client = client or ListenBrainzClient(settings)
        out: dict[str, Any] = {}
        if wanted:  # songs users asked about that the corpus lacked: learnt first
            out["wanted"] = asdict(fetch_wanted(engine, client))
        if settings.listenbrainz_users or settings.listenbrainz_search:
            report = fetch_playlists(
                engine, client, settings.listenbrainz_users, settings.listenbrainz_search, max_playlists=max_playlists
            )
            out.update(asdict(report))
        return out
    finally:
        engine.dispose()


def run(name: str, settings: Settings, **kwargs: Any) -> dict:
    """Run the job registered as `name` (a name from the command line or a schedule)."""
    return run_job(job_named(name), settings, **kwargs)


def run_job(fn: Job, settings: Settings, **kwargs: Any) -> dict:
    """Run one job function and log its summary."""
    result = fn(settings, **kwargs)
    log.info("job %s: %s", fn.__name__, result)
    return result

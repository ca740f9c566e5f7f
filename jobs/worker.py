"""Scale-out: the same job functions as arq workers on Redis (see docs/jobs.md for why arq).

`murecom jobs worker` runs a worker with the cron schedule of the embedded scheduler; `murecom jobs enqueue NAME`
queues one run. Workers share the corpus through DATABASE_URL (PostgreSQL when there are several machines) and the
models through MUREC_MODELS_DIR (a shared volume); publishing stays atomic, so any number of bots follow it.
"""

from __future__ import annotations

import asyncio
from typing import Any

from arq import create_pool, cron
from arq import run_worker as arq_run_worker
from arq.connections import RedisSettings

from data.settings import Settings
from jobs import tasks
from recommenders.audio.loader import AudioModels


def redis_settings(settings: Settings) -> RedisSettings:
    return RedisSettings.from_dsn(settings.redis_url or "redis://127.0.0.1:6379/0")


async def previews_job(ctx: dict[str, Any], **kwargs: Any) -> dict:
    return await asyncio.to_thread(tasks.run_job, tasks.previews, ctx["settings"], models=ctx["audio_models"], **kwargs)


async def retrain_job(ctx: dict[str, Any], **kwargs: Any) -> dict:
    return await asyncio.to_thread(tasks.run_job, tasks.retrain, ctx["settings"], **kwargs)


async def listenbrainz_job(ctx: dict[str, Any], **kwargs: Any) -> dict:
    return await asyncio.to_thread(tasks.run_job, tasks.listenbrainz, ctx["settings"], **kwargs)


def worker_settings(settings: Settings, *, burst: bool = False, crons: bool = True) -> dict[str, Any]:
    """arq worker options (a dict, so tests and deployments can build one per settings)."""

    async def startup(ctx: dict[str, Any]) -> None:
        ctx["settings"] = settings
        ctx["audio_models"] = AudioModels()  # this worker's audio models, loaded once for all its previews runs

    return {
        "functions": [previews_job, retrain_job, listenbrainz_job],
        "cron_jobs": [
            cron(previews_job, minute={5, 35}, unique=True),
            cron(retrain_job, minute={50}, unique=True),
            cron(listenbrainz_job, minute={20}, unique=True),
        ]
        if crons
        else [],
        "on_startup": startup,
        "redis_settings": redis_settings(settings),
        "max_jobs": 2,
        "job_timeout": 3600,
        "burst": burst,
        "handle_signals": not burst,
    }


def run_worker(settings: Settings) -> None:
    options = worker_settings(settings)
    arq_run_worker(type("WorkerSettings", (), options))


async def enqueue(job: str, settings: Settings, **kwargs: Any) -> str:
    pool = await create_pool(redis_settings(settings))
    try:
        queued = await pool.enqueue_job(f"{job}_job", **kwargs)
        return queued.job_id if queued else "already queued"
    finally:
        await pool.aclose()

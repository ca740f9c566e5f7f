"""`murecom jobs run --once` end to end, the embedded scheduler, and the same jobs as arq workers on
PostgreSQL + Redis (run when MUREC_TEST_PG_URL / MUREC_TEST_REDIS_URL are set, as .ci/services.sh does)."""

from __future__ import annotations

import asyncio
import io
import json
import os
import subprocess
import sys

import pytest
import soundfile as sf
from sqlalchemy import func, select, text

from data.db import make_engine, migrate
from data.models import PlaylistTrack, Track
from data.settings import PROJECT_ROOT, Settings
from jobs.scheduler import ScheduledJob, Scheduler
from recommenders.artifacts import ArtifactStore
from recommenders.cf.paths import CF_ARTIFACT
from tests.jobs.fake_spotify import Catalogue, FakeSpotify


@pytest.fixture(scope="module")
def preview_bytes() -> bytes:
    """Ten seconds of a real recording, as a preview file."""
    source = sorted((Settings.from_env(dotenv=False).home / "audio-src").glob("singularity/*.ogg"))
    assert source, "no real audio: run scripts/get_audio.sh"
    data, sr = sf.read(source[0], frames=sf.info(str(source[0])).samplerate * 10, dtype="float32")
    buf = io.BytesIO()
    with sf.SoundFile(buf, "w", sr, data.shape[1], format="OGG", subtype="VORBIS") as fh:
        for start in range(0, len(data), 8192):
            fh.write(data[start : start + 8192])
    return buf.getvalue()


@pytest.fixture
def rich_fake(shared_data, preview_bytes):
    fake = FakeSpotify(
        Catalogue(shared_data / "yes_big", n_playlists=150, preview_every=7), preview_audio=preview_bytes
    )
    fake.start()
    yield fake
    fake.stop()


def job_env(fake: FakeSpotify, home, **extra: str) -> dict[str, str]:
    return {
        "MUREC_HOME": str(home),
        "DATABASE_URL": "",
        "MUREC_PREVIEW_ALLOWED_HOSTS": "127.0.0.1",
        "MUREC_PREVIEW_SEARCH": "",
        "MUREC_PREVIEW_RUN_BUDGET": "5",
        **fake.env(),
        **extra,
    }


@pytest.mark.heavy
def test_jobs_run_once_grows_fetches_trains_and_publishes(rich_fake, tmp_path) -> None:
    env = {**os.environ, **job_env(rich_fake, tmp_path)}
    cmd = [sys.executable, "-m", "murecom_cli", "jobs", "run", "--once", "--searches", "3", "--pages", "400"]
    res = subprocess.run(cmd, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    lines = dict(line.split(": ", 1) for line in res.stdout.splitlines() if ": " in line)
    crawl, previews, retrain = (json.loads(lines[k]) for k in ("crawl", "previews", "retrain"))
    assert crawl["playlists_completed"] > 20 and crawl["entries_stored"] > 200
    assert previews["fetched"] == 5
    assert retrain["published"] and retrain["reason"] == "no model was published yet"
    engine = make_engine(f"sqlite:///{tmp_path / 'murecom.db'}")
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(PlaylistTrack)) == crawl["entries_stored"]
        audio = conn.scalars(select(Track.audio_path).where(Track.audio_path.is_not(None))).all()
    assert len(audio) == 5 and all(sf.info(p).duration == pytest.approx(10, abs=0.2) for p in audio)
    store = ArtifactStore(tmp_path / "models")
    assert store.current_version(CF_ARTIFACT) == retrain["published"]


def test_embedded_scheduler_runs_jobs_off_the_event_loop(rich_fake, tmp_path) -> None:
    settings = Settings.from_env(job_env(rich_fake, tmp_path))
    scheduler = Scheduler(settings, [ScheduledJob("crawl", 3600, {"max_searches": 1, "max_pages": 30})])

    async def main() -> tuple[int, int]:
        stop = asyncio.Event()
        runner = asyncio.create_task(scheduler.run_forever(stop))
        ticks = 0
        while scheduler.jobs[0].runs == 0 and ticks < 2000:
            await asyncio.sleep(0.01)  # the loop stays responsive while the crawl runs in a thread
            ticks += 1
        stop.set()
        await asyncio.wait_for(runner, 30)
        return ticks, scheduler.jobs[0].runs

    ticks, runs = asyncio.run(main())
    assert runs == 1 and ticks > 5
    engine = make_engine(settings.database_url)
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(PlaylistTrack)) > 0


PG_URL = os.environ.get("MUREC_TEST_PG_URL", "")
REDIS_URL = os.environ.get("MUREC_TEST_REDIS_URL", "")


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.skipif(
    not (PG_URL and REDIS_URL), reason="MUREC_TEST_PG_URL / MUREC_TEST_REDIS_URL not set (.ci/services.sh)"
)
def test_arq_workers_on_postgres_and_redis(rich_fake, tmp_path) -> None:
    from arq.worker import Worker

    from jobs.worker import enqueue, worker_settings

    engine = make_engine(PG_URL)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    migrate(engine)
    settings = Settings.from_env(job_env(rich_fake, tmp_path, DATABASE_URL=PG_URL, REDIS_URL=REDIS_URL))

    async def main() -> dict:
        import redis.asyncio as redis

        client = redis.from_url(REDIS_URL)
        await client.flushdb()
        await client.aclose()
        counts = {"complete": 0, "failed": 0}
        for jobs in (["crawl"], ["previews", "retrain"]):  # the corpus must exist before the rest runs on it
            for job in jobs:
                await enqueue(job, settings, **({"max_searches": 2, "max_pages": 300} if job == "crawl" else {}))
            worker = Worker(**worker_settings(settings, burst=True, crons=False))
            try:
                await worker.main()
            finally:
                await worker.close()
            counts["complete"] += worker.jobs_complete
            counts["failed"] += worker.jobs_failed
        return counts

    counts = asyncio.run(main())
    assert counts == {"complete": 3, "failed": 0}
    with engine.connect() as conn:
        entries = conn.scalar(select(func.count()).select_from(PlaylistTrack))
        with_audio = conn.scalar(select(func.count()).select_from(Track).where(Track.audio_path.is_not(None)))
    engine.dispose()
    assert entries > 200 and with_audio == 5
    assert ArtifactStore(settings.models_dir).current_version(CF_ARTIFACT) is not None

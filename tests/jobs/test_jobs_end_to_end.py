"""`murecom jobs run --once` end to end, the embedded scheduler, and the same jobs as arq workers on
PostgreSQL + Redis (run when MUREC_TEST_PG_URL / MUREC_TEST_REDIS_URL are set, as .ci/services.sh does).

The corpus is real (Yes.com playlists, imported by the real importer); previews come from a loopback server. The
fake Spotify is running and its credentials are configured, and it must receive no request at all: no job reads
Spotify, and no Spotify playlist is added (docs/jobs.md, "Spotify").
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import subprocess
import sys
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread

import pytest
import soundfile as sf
from sqlalchemy import Engine, func, select, text, update

from data.db import make_engine, migrate
from data.importers.yes import import_yes
from data.models import Playlist, Track
from data.settings import PROJECT_ROOT, Settings
from jobs.scheduler import ScheduledJob, Scheduler
from recommenders.artifacts import ArtifactStore
from recommenders.cf.paths import CF_ARTIFACT
from tests.jobs.fake_spotify import FakeSpotify

PLAYLISTS = 1000
PREVIEWS = 5


@pytest.fixture(scope="module")
def preview_server(tmp_path_factory):
    """A loopback server with `PREVIEWS` ten-second excerpts of a real recording; yields its base URL."""
    source = sorted((Settings.from_env(dotenv=False).home / "audio-src").glob("singularity/*.ogg"))
    assert source, "no real audio: run scripts/get_audio.sh"
    data, sr = sf.read(source[0], frames=sf.info(str(source[0])).samplerate * 10, dtype="float32")
    buf = io.BytesIO()
    with sf.SoundFile(buf, "w", sr, data.shape[1], format="OGG", subtype="VORBIS") as fh:
        for start in range(0, len(data), 8192):
            fh.write(data[start : start + 8192])
    root = tmp_path_factory.mktemp("previews")
    for i in range(PREVIEWS):
        (root / f"clip{i}.ogg").write_bytes(buf.getvalue())
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(SimpleHTTPRequestHandler, directory=str(root)))
    Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def grow_corpus(engine: Engine, shared_data: Path, preview_base: str) -> None:
    """The first `PLAYLISTS` Yes.com playlists, and a preview URL on the `PREVIEWS` most popular tracks."""
    migrate(engine)
    import_yes(engine, shared_data / "yes_big", limit=PLAYLISTS)
    with engine.begin() as conn:
        top = conn.scalars(select(Track.id).order_by(Track.popularity.desc(), Track.id).limit(PREVIEWS)).all()
        for i, track_id in enumerate(top):
            conn.execute(update(Track).where(Track.id == track_id).values(preview_url=f"{preview_base}/clip{i}.ogg"))


def job_env(fake: FakeSpotify, home, **extra: str) -> dict[str, str]:
    return {
        "MUREC_HOME": str(home),
        "DATABASE_URL": "",
        "MUREC_PREVIEW_ALLOWED_HOSTS": "127.0.0.1",
        "MUREC_PREVIEW_SEARCH": "",
        "MUREC_PREVIEW_RUN_BUDGET": str(PREVIEWS),
        **fake.env(),
        **extra,
    }


def spotify_playlists(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(Playlist).where(Playlist.source == "spotify")) or 0)


@pytest.mark.heavy
def test_jobs_run_once_fetches_trains_and_publishes(fake_spotify, preview_server, shared_data, tmp_path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'murecom.db'}")
    grow_corpus(engine, shared_data, preview_server)
    env = {**os.environ, **job_env(fake_spotify, tmp_path)}
    cmd = [sys.executable, "-m", "murecom_cli", "jobs", "run", "--once"]
    res = subprocess.run(cmd, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stderr[-3000:]
    lines = dict(line.split(": ", 1) for line in res.stdout.splitlines() if ": " in line)
    assert set(lines) == {"previews", "retrain", "listenbrainz"}  # every registered job; none reads Spotify
    previews, retrain, listenbrainz = (json.loads(lines[k]) for k in ("previews", "retrain", "listenbrainz"))
    assert listenbrainz == {"skipped": "no LISTENBRAINZ_USERS / LISTENBRAINZ_SEARCH, and no song asked about to learn"}
    assert previews["fetched"] == PREVIEWS
    assert retrain["published"] and retrain["reason"] == "no model was published yet"
    with engine.connect() as conn:
        audio = conn.scalars(select(Track.audio_path).where(Track.audio_path.is_not(None))).all()
    assert len(audio) == PREVIEWS and all(sf.info(p).duration == pytest.approx(10, abs=0.2) for p in audio)
    assert ArtifactStore(tmp_path / "models").current_version(CF_ARTIFACT) == retrain["published"]
    assert fake_spotify.requests == [] and spotify_playlists(engine) == 0
    engine.dispose()


@pytest.mark.heavy
def test_embedded_scheduler_runs_jobs_off_the_event_loop(fake_spotify, shared_data, tmp_path) -> None:
    settings = Settings.from_env(job_env(fake_spotify, tmp_path))
    engine = make_engine(settings.database_url)
    grow_corpus(engine, shared_data, "http://127.0.0.1:9")
    scheduler = Scheduler(settings, [ScheduledJob("retrain", 3600)])

    async def main() -> tuple[int, int]:
        stop = asyncio.Event()
        runner = asyncio.create_task(scheduler.run_forever(stop))
        ticks = 0
        while scheduler.jobs[0].runs + scheduler.jobs[0].failures == 0 and ticks < 60_000:
            await asyncio.sleep(0.01)  # the loop stays responsive while the retrain runs in a thread
            ticks += 1
        stop.set()
        await asyncio.wait_for(runner, 30)
        return ticks, scheduler.jobs[0].runs

    ticks, runs = asyncio.run(main())
    assert runs == 1 and ticks > 5
    assert ArtifactStore(settings.models_dir).current_version(CF_ARTIFACT) is not None
    assert fake_spotify.requests == [] and spotify_playlists(engine) == 0
    engine.dispose()


PG_URL = os.environ.get("MUREC_TEST_PG_URL", "")
REDIS_URL = os.environ.get("MUREC_TEST_REDIS_URL", "")


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.skipif(
    not (PG_URL and REDIS_URL), reason="MUREC_TEST_PG_URL / MUREC_TEST_REDIS_URL not set (.ci/services.sh)"
)
def test_arq_workers_on_postgres_and_redis(fake_spotify, preview_server, shared_data, tmp_path) -> None:
    from arq.worker import Worker

    from jobs.worker import enqueue, worker_settings

    engine = make_engine(PG_URL)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    grow_corpus(engine, shared_data, preview_server)
    settings = Settings.from_env(job_env(fake_spotify, tmp_path, DATABASE_URL=PG_URL, REDIS_URL=REDIS_URL))

    async def main() -> dict:
        import redis.asyncio as redis

        client = redis.from_url(REDIS_URL)
        await client.flushdb()
        await client.aclose()
        for job in ("previews", "retrain"):
            await enqueue(job, settings)
        worker = Worker(**worker_settings(settings, burst=True, crons=False))
        try:
            await worker.main()
        finally:
            await worker.close()
        return {"complete": worker.jobs_complete, "failed": worker.jobs_failed}

    counts = asyncio.run(main())
    assert counts == {"complete": 2, "failed": 0}
    with engine.connect() as conn:
        with_audio = conn.scalar(select(func.count()).select_from(Track).where(Track.audio_path.is_not(None)))
    assert with_audio == PREVIEWS and spotify_playlists(engine) == 0
    engine.dispose()
    assert ArtifactStore(settings.models_dir).current_version(CF_ARTIFACT) is not None
    assert fake_spotify.requests == []

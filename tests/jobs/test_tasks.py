"""The job registry: the command line, the embedded scheduler and the arq workers read the same registered job
functions, and a name that is not a job fails at once, naming the jobs. No job reaches Spotify: none imports the
Spotify client or a crawl, and running them with Spotify credentials configured asks Spotify nothing and adds no
Spotify playlist (Spotify's Developer Terms v9 IV.2.a.i, Developer Policy III.14: docs/jobs.md, "Spotify")."""

from __future__ import annotations

import ast
import inspect
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import func, select

from data.db import make_engine
from data.models import Playlist
from data.settings import PROJECT_ROOT, Settings
from jobs import tasks
from jobs.listenbrainz import ListenBrainzClient
from jobs.scheduler import DEFAULT_INTERVALS, ScheduledJob, Scheduler
from jobs.worker import worker_settings
from murecom_cli import build_parser
from tests.jobs.fake_listenbrainz import FakeListenBrainz


def test_the_registry_holds_the_job_functions_by_name() -> None:
    assert {
        "previews": tasks.previews,
        "retrain": tasks.retrain,
        "listenbrainz": tasks.listenbrainz,
    } == tasks.JOBS
    assert set(DEFAULT_INTERVALS) == set(tasks.JOBS)


def test_an_unknown_job_fails_at_once_naming_the_jobs() -> None:
    settings = Settings.from_env(dotenv=False)
    with pytest.raises(ValueError, match=r"unknown job 'crawll'; jobs: previews, retrain, listenbrainz"):
        tasks.run("crawll", settings)
    with pytest.raises(ValueError, match=r"unknown job 'crawll'"):
        Scheduler(settings, [ScheduledJob("crawll", 60)])


def test_every_registered_job_can_be_queued_and_has_a_worker_function() -> None:
    parser = build_parser()
    for name in tasks.JOBS:
        assert parser.parse_args(["jobs", "enqueue", name]).job == name
    functions = worker_settings(Settings.from_env(dotenv=False), burst=True, crons=False)["functions"]
    assert [f.__name__ for f in functions] == [f"{name}_job" for name in tasks.JOBS]


def _project_imports(module: str) -> set[str]:
    """Every project module `module` imports, transitively (read from the source, so nothing is executed)."""
    seen: set[str] = set()
    todo = [module]
    while todo:
        name = todo.pop()
        path = PROJECT_ROOT / Path(*name.split("."))
        file = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
        if name in seen or not file.exists():
            continue
        seen.add(name)
        for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                todo.extend([node.module, *(f"{node.module}.{a.name}" for a in node.names)])
            elif isinstance(node, ast.Import):
                todo.extend(a.name for a in node.names)
    return seen


@pytest.mark.fast
def test_no_job_reaches_spotify_or_a_crawl() -> None:
    for name, fn in tasks.JOBS.items():
        assert "crawl" not in name and "spotify" not in name.lower()
        reached = _project_imports(fn.__module__) | _project_imports(inspect.getmodule(fn).__name__)
        assert "jobs.tasks" in reached and "data.corpus" in reached  # the walk does follow the imports
        assert not {m for m in reached if m == "jobs.spotify" or "crawl" in m}, name
    assert not (PROJECT_ROOT / "jobs" / "crawl.py").exists() and not (PROJECT_ROOT / "data" / "crawl.py").exists()


def _corpus_home(small_yes_engine, home: Path) -> None:
    """`home`'s database: a copy of the real small Yes.com corpus."""
    home.mkdir(parents=True, exist_ok=True)
    source, target = sqlite3.connect(str(small_yes_engine.url.database)), sqlite3.connect(str(home / "murecom.db"))
    with target:
        source.backup(target)
    source.close()
    target.close()


@pytest.fixture
def fake_lb(open_catalogue, clock):
    fake = FakeListenBrainz(open_catalogue, clock, limit=100, window=10.0).start()
    yield fake
    fake.stop()


@pytest.mark.fast
@pytest.mark.parametrize("name", [n for n in tasks.JOBS if n != "retrain"])
def test_a_data_job_with_spotify_credentials_asks_spotify_nothing(
    name, small_yes_engine, fake_spotify, fake_lb, clock, tmp_path
) -> None:
    """Every job that adds rows, configured to do its work (ListenBrainz users on the fake ListenBrainz), on a real
    corpus with the fake Spotify's credentials set: Spotify gets no request and no Spotify playlist appears.
    `retrain` adds none (it reads the corpus and publishes models) and trains for minutes, so it is held to the
    same in tests/jobs/test_jobs_end_to_end.py (`murecom jobs run --once`, marked heavy)."""
    _corpus_home(small_yes_engine, tmp_path)
    env = {
        "MUREC_HOME": str(tmp_path),
        "DATABASE_URL": "",
        "MUREC_PREVIEW_SEARCH": "",
        "LISTENBRAINZ_USERS": "yes_radio_a",
        **fake_lb.env(),
        **fake_spotify.env(),
    }
    settings = Settings.from_env(env)
    assert settings.spotify_client_id and settings.spotify_client_secret
    kwargs = {"client": ListenBrainzClient(settings, clock=clock, sleep=clock.sleep)} if name == "listenbrainz" else {}
    engine = make_engine(settings.database_url)
    playlists_before = _playlists_by_source(engine)
    tasks.run(name, settings, **kwargs)
    playlists_after = _playlists_by_source(engine)
    engine.dispose()
    assert fake_spotify.requests == []
    assert "spotify" not in playlists_after
    if name == "listenbrainz":  # it did grow the corpus, from ListenBrainz only
        assert playlists_after["listenbrainz"] > playlists_before.get("listenbrainz", 0)


def _playlists_by_source(engine) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(select(Playlist.source, func.count()).group_by(Playlist.source)).all()
    return {str(source): int(n) for source, n in rows}

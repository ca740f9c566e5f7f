"""Shared fixtures: the real Yes.com corpus in a throw-away SQLite database, and fresh empty databases.

The Yes.com import is session-scoped (a few seconds) and must be treated as read-only; tests that write get
their own database from `empty_engine`. `small_yes_engine` is the same import cut at the first
`SMALL_YES_PLAYLISTS` playlists (every song, artist, tag and popularity; tests/test_small_corpus.py checks it is
exactly a prefix of the full corpus): the data of the fast tier.

The fast tier (`pytest -m fast`, `make test-fast`): unit tests on small real data, no TensorFlow, no subprocess.
`_fast_tier_guard` makes a fast test that starts a process (or imports TensorFlow) fail in any run; in a run of only
fast tests `_fast_run_guard` refuses processes for the whole session (fixtures of every scope) and
`pytest_sessionfinish` fails the run if TensorFlow was imported at all (collection and fixtures included).
"""

from __future__ import annotations

import multiprocessing.util
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("NUMBA_CACHE_DIR", str(PROJECT_ROOT / "var" / "numba-cache"))

from data.corpus import Corpus  # noqa: E402
from data.db import make_engine, migrate  # noqa: E402
from data.settings import Settings  # noqa: E402


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real data folder (`MUREC_DATA`, default `../shared/data`)."""
    path = Settings.from_env(dotenv=False).data_dir
    assert (path / "yes_big" / "train.txt").exists(), f"real data not found at {path}; set MUREC_DATA"
    return path


@pytest.fixture(scope="session")
def yes_engine(tmp_path_factory, shared_data):
    """Read-only engine over the full Yes.com corpus (18,139 playlists)."""
    from data.importers.yes import import_yes

    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('yes') / 'yes.db'}")
    migrate(engine)
    import_yes(engine, shared_data / "yes_big")
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def yes_corpus(yes_engine) -> Corpus:
    return Corpus(yes_engine)


#: Playlists in the fast tier's corpus: the first 6,000 of train.txt (the CF contract's training set).
SMALL_YES_PLAYLISTS = 6000


@pytest.fixture(scope="session")
def small_yes_engine(tmp_path_factory, shared_data):
    """Read-only engine over the first `SMALL_YES_PLAYLISTS` Yes.com playlists, imported by the real importer
    (every song of song_hash.txt with its artist, tags and popularity; about 1 s)."""
    from data.importers.yes import import_yes

    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('yes_small') / 'yes_small.db'}")
    migrate(engine)
    import_yes(engine, shared_data / "yes_big", limit=SMALL_YES_PLAYLISTS)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def small_yes_corpus(small_yes_engine) -> Corpus:
    return Corpus(small_yes_engine)


@pytest.fixture
def empty_engine(tmp_path):
    """A migrated, empty SQLite database of the test's own."""
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    migrate(engine)
    yield engine
    engine.dispose()


PG_URL = os.environ.get("MUREC_TEST_PG_URL", "")


@pytest.fixture
def pg_engine():
    """An empty, migrated PostgreSQL database (the server .ci/services.sh starts; tests using it skip without it)."""
    from sqlalchemy import text

    engine = make_engine(PG_URL)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    migrate(engine)
    yield engine
    engine.dispose()


# ---- the fast tier's guard: no subprocess, no TensorFlow (the stdlib is wrapped, never our own code) ----

SPAWNERS: list[tuple[Any, str]] = [
    (subprocess.Popen, "__init__"),  # subprocess.run/check_output and asyncio's subprocesses
    (os, "posix_spawn"),
    (os, "posix_spawnp"),
    (os, "fork"),
    (os, "forkpty"),
    (os, "system"),
    (multiprocessing.util, "spawnv_passfds"),  # multiprocessing's spawn and forkserver starts
]


@contextmanager
def _refusing_processes() -> Iterator[list[str]]:
    """While open, every way of starting a process raises; yields the list of attempts (caught ones included)."""
    tried: list[str] = []

    def refuse(what: str) -> Callable[..., Any]:
        def refused(*args: Any, **kwargs: Any) -> Any:
            tried.append(what)
            raise RuntimeError(f"a fast test may not start a process ({what}): mark it not fast")

        return refused

    saved = [(owner, name, owner.__dict__[name]) for owner, name in SPAWNERS if name in owner.__dict__]
    for owner, name, _ in saved:
        setattr(owner, name, refuse(f"{getattr(owner, '__name__', owner)}.{name}"))
    try:
        yield tried
    finally:
        for owner, name, original in saved:
            setattr(owner, name, original)


def _fast_only(session: pytest.Session) -> bool:
    items = getattr(session, "items", [])
    return bool(items) and all(item.get_closest_marker("fast") for item in items)


@pytest.fixture(scope="session", autouse=True)
def _fast_run_guard(request) -> Iterator[None]:
    """A run of fast tests only (`-m fast`): no process for the whole session, fixtures of every scope included."""
    if not _fast_only(request.session):
        yield
        return
    with _refusing_processes() as tried:
        yield
    if tried:
        pytest.fail(f"the fast tier started a process (the errors above say where): {tried}", pytrace=False)


@pytest.fixture(autouse=True)
def _fast_tier_guard(request) -> Iterator[None]:
    """A test marked `fast`, in any run: starting a process raises (and fails the test even if the error is
    caught), and importing TensorFlow fails it."""
    if request.node.get_closest_marker("fast") is None:
        yield
        return
    had_tensorflow = "tensorflow" in sys.modules
    with _refusing_processes() as tried:
        yield
    if tried:
        pytest.fail(f"fast test started a process: {', '.join(tried)}", pytrace=False)
    if not had_tensorflow and "tensorflow" in sys.modules:
        pytest.fail("fast test imported TensorFlow", pytrace=False)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """A run of fast tests only fails if TensorFlow was imported anywhere: collection, fixtures, tests."""
    if _fast_only(session) and "tensorflow" in sys.modules:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line("fast tier: TensorFlow was imported during the run", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The tests marked `long` are collected first: under pytest-xdist (`make test` runs the real-data tier on both
    cores) they then start at once on both workers instead of trailing after the rest."""
    items.sort(key=lambda item: item.get_closest_marker("long") is None)  # stable: the rest keep their order

"""Shared fixtures: the real Yes.com corpus in a throw-away SQLite database, and fresh empty databases.

The Yes.com import is session-scoped (a few seconds) and must be treated as read-only; tests that write get
their own database from `empty_engine`.
"""

from __future__ import annotations

import os
from pathlib import Path

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

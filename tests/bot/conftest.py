"""A real chat core over a private copy of the Yes.com corpus, with a real item-kNN model trained on it."""

from __future__ import annotations

import sqlite3

import pytest

from bot.app import build_core
from data.corpus import Corpus
from data.db import get_engine
from data.settings import Settings
from recommenders.artifacts import ArtifactStore
from recommenders.cf.registry import train_and_publish


@pytest.fixture(scope="session")
def bot_home(tmp_path_factory, yes_engine):
    """MUREC_HOME with a copy of the Yes.com database and a published CF model (sessions write to this copy)."""
    home = tmp_path_factory.mktemp("bothome")
    src = sqlite3.connect(yes_engine.url.database)
    dst = sqlite3.connect(home / "murecom.db")
    src.backup(dst)
    src.close()
    dst.close()
    settings = Settings.from_env({"MUREC_HOME": str(home)})
    corpus = Corpus(get_engine(settings.database_url))
    train_and_publish(corpus, ArtifactStore(settings.models_dir), models=["itemknn"], evaluate=False)
    return home


@pytest.fixture(scope="session")
def bot_settings(bot_home) -> Settings:
    return Settings.from_env({"MUREC_HOME": str(bot_home)})


@pytest.fixture
def core(bot_settings):
    return build_core(bot_settings)

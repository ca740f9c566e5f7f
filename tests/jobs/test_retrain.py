"""Retrain and publish: a grown corpus publishes a better model, junk is refused, the bot answers throughout."""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections import Counter

import pytest

from bot.app import build_core
from bot.replies import ChatContext
from data.corpus import Corpus
from data.db import get_engine
from data.importers.common import store_playlists
from data.importers.yes import import_yes
from data.settings import Settings
from jobs.retrain import record_trained, retrain_if_needed
from recommenders.artifacts import ArtifactStore
from recommenders.cf.registry import CF_ARTIFACT, train_and_publish


@pytest.fixture
def half_trained(tmp_path, shared_data):
    """A corpus holding half of the Yes.com playlists, with an item-kNN model published on it."""
    settings = Settings.from_env({"MUREC_HOME": str(tmp_path)})
    engine = get_engine(settings.database_url)
    import_yes(engine, shared_data / "yes_big", limit=9000)
    summary = train_and_publish(Corpus(engine), ArtifactStore(settings.models_dir), models=["itemknn"], evaluate=False)
    record_trained(engine, summary["version"])
    return settings, engine, summary["version"]


def test_no_growth_no_retrain(half_trained) -> None:
    settings, engine, version = half_trained
    result = retrain_if_needed(engine, settings)
    assert "skipped" in result
    assert ArtifactStore(settings.models_dir).current_version(CF_ARTIFACT) == version


@pytest.mark.heavy
def test_grown_corpus_publishes_a_model_that_is_not_worse(half_trained, shared_data) -> None:
    settings, engine, version = half_trained
    import_yes(engine, shared_data / "yes_big")  # the other half arrives
    result = retrain_if_needed(engine, settings)
    assert result["new_playlists"] == 18139 - 9000
    assert result["published"] and result["previous"] == version
    assert result["new_score"] > result["old_score"]
    store = ArtifactStore(settings.models_dir)
    assert store.current_version(CF_ARTIFACT) == result["published"]
    assert store.meta(CF_ARTIFACT)["previous_version"] == version
    assert "skipped" in retrain_if_needed(engine, settings)  # recorded: nothing new since


@pytest.mark.heavy
def test_junk_playlists_are_refused(half_trained) -> None:
    settings, engine, version = half_trained
    counts = Counter(t for p in Corpus(engine).playlists() for t in p)
    popular, catalogue = [t for t, _ in counts.most_common(300)], sorted(counts)
    rng = random.Random(0)
    # spam: popular songs glued to random ones, the kind of playlist that pollutes co-occurrence
    junk = [
        (f"junk{i}", "spam", list(dict.fromkeys(rng.sample(popular, 3) + rng.sample(catalogue, 7))))
        for i in range(10000)
    ]
    with engine.begin() as conn:
        store_playlists(conn, "junk", junk)
    result = retrain_if_needed(engine, settings)
    assert result["published"] is None and result["kept"] == version
    assert result["new_score"] < result["old_score"]
    assert ArtifactStore(settings.models_dir).current_version(CF_ARTIFACT) == version


@pytest.mark.heavy
def test_bot_keeps_answering_during_a_retrain(half_trained, shared_data) -> None:
    settings, engine, version = half_trained
    import_yes(engine, shared_data / "yes_big")
    core = build_core(settings)
    ctx = ChatContext("console", "c", "u", "U")
    done = threading.Event()
    outcome: dict = {}

    def retrain() -> None:
        try:
            outcome["result"] = retrain_if_needed(engine, settings)
        finally:
            done.set()

    async def chat() -> list[tuple[float, str, str]]:
        answers = []
        worker = threading.Thread(target=retrain)
        worker.start()
        deadline = None
        while deadline is None or time.monotonic() < deadline:
            t0 = time.perf_counter()
            [reply] = await core.handle_text(ctx, "/similar hotel california")
            [about] = await core.handle_text(ctx, "/about")
            answers.append((time.perf_counter() - t0, reply.kind, about.text))
            if done.is_set() and deadline is None:
                deadline = time.monotonic() + 3.0  # LiveModel looks for a new version every 2 s
            await asyncio.sleep(0.05)
        worker.join()
        return answers

    answers = asyncio.run(chat())
    new_version = outcome["result"]["published"]
    assert new_version
    assert len(answers) > 10
    assert all(kind == "recommendations" for _, kind, _ in answers), "a request failed during the retrain"
    assert version in answers[0][2] and new_version in answers[-1][2], "the bot did not switch to the new model"
    assert max(latency for latency, _, _ in answers) < 5.0

"""Retrain and publish: a grown corpus publishes a better model, junk is refused, the bot answers throughout."""

from __future__ import annotations

import asyncio
import random
import threading
from collections import Counter

import pytest

from bot.app import build_app
from bot.replies import ChatContext
from data.corpus import Corpus
from data.db import open_database
from data.importers.audio_folder import import_audio_folder
from data.importers.common import store_playlists
from data.importers.yes import import_yes
from data.settings import Settings
from jobs.retrain import record_trained, retrain_if_needed
from recommenders.artifacts import ArtifactStore
from recommenders.audio.service import INDEX_ARTIFACT, embedder_identity
from recommenders.audio.setup import ensure_index
from recommenders.cf.paths import CF_ARTIFACT
from recommenders.cf.training import train_and_publish
from tests.audio_models import publish_shipped_model_as


@pytest.fixture
def half_trained(tmp_path, shared_data):
    """A corpus holding half of the Yes.com playlists, with an item-kNN model published on it."""
    settings = Settings.from_env({"MUREC_HOME": str(tmp_path)})
    engine = open_database(settings)
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
def test_bot_keeps_answering_during_a_retrain_and_an_audio_model_swap(half_trained, shared_data) -> None:
    """While the CF model is retrained and a new audio model is published and its index rebuilt, every reply succeeds,
    each comes from one snapshot, and every snapshot served pairs the audio model with the index built by it."""
    settings, engine, version = half_trained
    import_yes(engine, shared_data / "yes_big")
    audio = Settings.from_env(dotenv=False).home / "audio-src"
    folder = settings.home / "audio-src" / "wesnoth"
    folder.mkdir(parents=True)
    clips = sorted(audio.glob("wesnoth/*.ogg"))[:4]
    for clip in clips[:3]:
        (folder / clip.name).symlink_to(clip)
    import_audio_folder(engine, settings.home / "audio-src")
    store = ArtifactStore(settings.models_dir)
    ensure_index(Corpus(engine), store, settings, seconds=30.0)
    app = build_app(settings)
    first_audio = store.current_version(INDEX_ARTIFACT)
    ctx = ChatContext("console", "c", "u", "U")
    done = threading.Event()
    outcome: dict = {}
    snapshots = [app.watcher.current()]
    app.watcher.on_swap(snapshots.append)

    def retrain_and_swap_audio() -> None:
        try:
            outcome["result"] = retrain_if_needed(engine, settings)
            publish_shipped_model_as(store, "audio-v2")
            app.watcher.refresh()  # a look between the two publishes: the new model has no index yet
            outcome["audio"] = ensure_index(Corpus(engine), store, settings, seconds=30.0)
        finally:
            done.set()

    async def chat() -> list[tuple[str, str, str]]:
        answers = []
        stop = asyncio.Event()
        watching = asyncio.create_task(app.watch(stop))
        worker = threading.Thread(target=retrain_and_swap_audio)
        worker.start()
        finished = False
        while not finished:
            finished = done.is_set()  # one more round after the work ended and the watcher looked
            if finished:
                await asyncio.to_thread(app.watcher.refresh)
            [reply] = await app.core.handle_text(ctx, "/similar hotel california")
            [about] = await app.core.handle_text(ctx, "/about")
            [heard] = await app.core.handle_audio(ctx, clips[3].read_bytes(), clips[3].name)
            answers += [(r.kind, r.served_by, r.text) for r in (reply, about, heard)]
        stop.set()
        await watching
        worker.join()
        return answers

    answers = asyncio.run(chat())
    new_version = outcome["result"]["published"]
    assert new_version and "audio index" in outcome["audio"]
    assert len(answers) >= 6
    assert all(kind in ("recommendations", "info") for kind, _, _ in answers), "a request failed during the swaps"
    assert f"cf={version}" in answers[0][1] and f"{INDEX_ARTIFACT}={first_audio}" in answers[0][1]
    last = snapshots[-1]
    assert last.versions["cf"] == new_version and last.versions[INDEX_ARTIFACT] != first_audio
    assert f"cf={new_version}" in answers[-1][1] and new_version in answers[-2][2]
    for snap in snapshots:  # no snapshot ever paired an embedder with an index built by another model
        meta = store.meta(INDEX_ARTIFACT, snap.versions[INDEX_ARTIFACT])
        assert embedder_identity(snap.audio.embedder) == meta["model"]
    assert last.audio.embedder.version == "audio-v2"
    assert {label for _, label, _ in answers} <= {s.label for s in snapshots}, "a reply mixed versions"


def test_a_model_trained_on_spark_is_not_refitted_by_another_engine(half_trained, shared_data) -> None:
    """A `cf` published by `murecom train-spark --publish cf` (meta engine "spark") is left to the Spark job:
    refitting it here with `implicit` would serve another engine's model under its name."""
    import shutil

    settings, engine, version = half_trained
    store = ArtifactStore(settings.models_dir)
    path = store.path(CF_ARTIFACT)
    assert path is not None
    with store.staging(CF_ARTIFACT) as staged:
        shutil.copytree(path, staged, dirs_exist_ok=True)
        spark_version = store.publish(CF_ARTIFACT, staged, {**store.meta(CF_ARTIFACT), "engine": "spark"})
    import_yes(engine, shared_data / "yes_big")  # the other half arrives
    result = retrain_if_needed(engine, settings, force=True)
    assert "train-spark" in result["paths"][CF_ARTIFACT]["skipped"]
    assert store.current_version(CF_ARTIFACT) == spark_version != version
